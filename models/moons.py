"""The two-moons Bayesian neural network of the PyMC deep-learning article.

Two hidden tanh layers of 5 units with Normal(0, 1) weights and no biases, a sigmoid
output and a Bernoulli likelihood. With ``batch_size`` set, the likelihood sees a random
minibatch each step and is scaled by ``total_size`` so the ELBO stays an estimate of the
full-data ELBO.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from .info import tag_model
from .layers import OBS_DIM, data_and_batches, dense_layer, get_activation
from .validation import check_batch_size, check_features, check_hidden, check_labels, check_positive

#: Name of the Deterministic holding the predicted probability of class 1.
OUTPUT = "p"


def build_model(
    X,
    y=None,
    *,
    hidden=(5, 5),
    activation: str = "tanh",
    prior_sigma: float = 1.0,
    bias: bool = False,
    batch_size: int | None = None,
    random_seed: int = 0,
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
    prior_sigma : float
        Standard deviation of the Normal prior on every weight (article: 1).
    bias : bool
        Add a bias per unit (the article's network has none).
    batch_size : int, optional
        Minibatch size for the likelihood; ``None`` uses all rows every step.
    random_seed : int
        Seed of the random initial weights.

    Returns
    -------
    pm.Model
        With data containers ``X``/``y``, weights ``w_in``, ``w_1``, ..., ``w_out``, the
        Deterministic ``p`` and the likelihood ``y_obs``.
    """
    X = check_features(X)
    hidden = check_hidden(hidden)
    act = get_activation(activation)
    prior_sigma = check_positive(prior_sigma, name="prior_sigma")
    n, d = X.shape
    if y is not None:
        y = check_labels(y, n_rows=n, n_classes=2)
        batch_size = check_batch_size(batch_size, n_rows=n)
    else:
        batch_size = None  # a prediction model evaluates every row
    rng = np.random.default_rng(random_seed)

    coords = {"feature": np.arange(d)}
    coords.update({f"hidden_{i}": np.arange(w) for i, w in enumerate(hidden)})
    with pm.Model(coords=coords) as model:
        X_in, y_in, total_size = data_and_batches(X, y, batch_size=batch_size)
        h = X_in
        dims = ["feature", *[f"hidden_{i}" for i in range(len(hidden))]]
        widths = [d, *hidden]
        for i in range(len(hidden)):
            name = "in" if i == 0 else str(i)
            h = act(
                dense_layer(
                    name,
                    h,
                    n_in=widths[i],
                    n_out=widths[i + 1],
                    in_dim=dims[i],
                    out_dim=dims[i + 1],
                    sigma=prior_sigma,
                    rng=rng,
                    bias=bias,
                )
            )
        W_out = pm.Normal(
            "w_out",
            0.0,
            prior_sigma,
            dims=(dims[-1],),
            initval=rng.normal(0.0, 1.0 / np.sqrt(widths[-1]), size=widths[-1]),
        )
        logit = pt.dot(h, W_out)
        if bias:
            logit = logit + pm.Normal("b_out", 0.0, prior_sigma, initval=0.0)
        obs_dims = OBS_DIM if batch_size is None else None
        pm.Deterministic(OUTPUT, pm.math.sigmoid(logit), dims=obs_dims)
        size_kw = {"total_size": total_size} if y is not None else {}
        pm.Bernoulli("y_obs", logit_p=logit, observed=y_in, dims=obs_dims, **size_kw)
    settings = {
        "hidden": list(hidden),
        "activation": activation,
        "prior_sigma": prior_sigma,
        "bias": bool(bias),
        "batch_size": batch_size,
        "random_seed": int(random_seed),
    }
    # Starting ADVI at the prior's width: a narrow start (sd 0.1-0.5) sometimes collapses
    # to a near-linear boundary with pruned units.
    return tag_model(model, family="moons", settings=settings, output=OUTPUT, task="binary", advi_init_sd=prior_sigma)
