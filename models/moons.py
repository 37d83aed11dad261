"""A binary-classification BNN: the two-moons network of the PyMC deep-learning article, and
any binary data.

Dense tanh layers, a sigmoid output and a Bernoulli likelihood (:func:`models.dense.build_dense`
with a ``"bernoulli"`` head). With ``batch_size`` set, the likelihood sees a random minibatch
each step and is scaled by ``total_size`` so the ELBO stays an estimate of the full-data ELBO.

The defaults work on any (n, d) binary data: biases on, inputs standardised, ADVI started at
a posterior sd scaled to each layer's fan-in. The article's network (two layers of 5, Normal(0,
1) weights, no biases, raw inputs, ADVI started at the prior's width) is :data:`ARTICLE`, which
the gallery's moons run and notebook pass: ``build_model(X, y, **ARTICLE)``. Without biases the
net's logit is an odd function of the inputs, so it cannot separate data symmetric about the
origin (two concentric circles, say).
"""

from __future__ import annotations

import pymc as pm

from .dense import build_dense

#: Name of the Deterministic holding the predicted probability of class 1.
OUTPUT = "p"
#: The article's network: no biases, raw inputs, ADVI started at the prior's sd (a narrow start
#: sometimes settled this bias-free net on a near-linear boundary with pruned units).
ARTICLE = {"hidden": (5, 5), "activation": "tanh", "bias": False, "standardize": "none", "advi_init_sd": 1.0}


def build_model(
    X,
    y=None,
    *,
    hidden=(5, 5),
    activation: str = "tanh",
    prior: str = "normal",
    prior_sigma: float = 1.0,
    bias: bool = True,
    standardize="feature",
    batch_size: int | None = None,
    random_seed: int = 0,
    **options,
) -> pm.Model:
    """Build the binary-classification BNN.

    Parameters
    ----------
    X : array of shape (n, d)
        Features; finite numbers.
    y : array of shape (n,), optional
        Labels in {0, 1}. ``None`` builds a prediction model whose ``y_obs`` is unobserved.
    hidden : sequence of int
        Hidden-layer widths (article: two layers of 5).
    activation : str
        One of ``models.layers.ACTIVATIONS`` (article: ``"tanh"``).
    prior : {"normal", "scale-mixture", "hierarchical", "horseshoe"}
        The weights' prior (``models.layers.PRIORS``), around the scale ``prior_sigma``.
    prior_sigma : float
        Standard deviation of the prior on every weight and bias (article: 1).
    bias : bool
        A bias per unit (the article's network has none).
    standardize : {"feature", "global", "none"}
        Centre and scale the inputs by their training mean and sd, per feature (default) or
        overall; the constants are stored with the settings (``x_loc``, ``x_scale``).
    batch_size : int, optional
        Minibatch size for the likelihood; ``None`` uses all rows every step.
    random_seed : int
        Seed of the random initial weights.
    **options
        The rest of :func:`models.dense.build_dense`'s settings (``hierarchical``,
        ``scale_prior``, ``slab_weight``, ``spike_ratio``, ``init_scale``, ``advi_init_sd``, ...).

    Returns
    -------
    pm.Model
        With data containers ``X``/``y``, weights ``w_in``, ``w_1``, ..., ``w_out`` (biases
        ``b_in``, ..., ``b_out``), the Deterministic ``p`` and the likelihood ``y_obs``.
    """
    return build_dense(
        X,
        y,
        head="bernoulli",
        family="moons",
        hidden=hidden,
        activation=activation,
        prior=prior,
        prior_sigma=prior_sigma,
        bias=bias,
        standardize=standardize,
        batch_size=batch_size,
        random_seed=random_seed,
        **options,
    )
