"""The MNIST multilayer perceptron of the PyMC deep-learning article, with its hierarchical prior
as an option; a classifier for any features or images with any number of classes.

Inputs (images flattened to rows) go through dense hidden layers to one logit per class and a
Categorical likelihood (:func:`models.dense.build_dense` with a ``"categorical"`` head). With
``hierarchical=True`` (article A, "hierarchical prior") each layer's weights share a scale
``sigma_<layer> ~ HalfNormal(scale_prior)`` that is learned from
the data instead of being fixed as an L2 strength; ``hierarchical=False`` fixes the scale at
``prior_sigma`` (the article's ``Normal(0, 0.1)`` network). ``prior`` shapes each weight's
prior around that scale: a Normal (the article) or Blundell et al.'s scale mixture
(:func:`models.layers.weight`). ``noncentered=True`` writes each weight as ``sigma * w_raw``
with ``w_raw`` standardised (``Normal(0, 1)``, or the mixture at scale 1), which decouples
the weights from their scale in the posterior geometry (useful for NUTS; for mean-field
ADVI either works).
"""

from __future__ import annotations

import numpy as np
import pymc as pm

from .dense import build_dense

#: Name of the Deterministic holding the class probabilities (softmax of the logits).
OUTPUT = "probs"


def as_flat(X) -> np.ndarray:
    """Accept (n, d) features or (n, H, W[, C]) images; return (n, d) rows."""
    arr = np.asarray(X)
    if arr.ndim >= 3:
        arr = arr.reshape(arr.shape[0], -1)
    return arr


def build_model(
    X,
    y=None,
    *,
    n_classes: int | None = None,
    hidden=(800, 800),
    activation: str = "tanh",
    hierarchical: bool = False,
    noncentered: bool = False,
    prior_sigma: float = 1.0,
    scale_prior: float = 1.0,
    prior: str = "normal",
    slab_weight: float = 0.25,
    spike_ratio: float = 0.0025,
    init_scale: float | None = None,
    bias: bool = True,
    standardize="auto",
    dtype: str = "float32",
    temperature: float = 1.0,
    batch_size: int | None = None,
    random_seed: int = 0,
    **options,
) -> pm.Model:
    """Build the MLP classifier (MNIST, or any features or images with any number of classes).

    Parameters
    ----------
    X : array of shape (n, d), (n, H, W) or (n, H, W, C)
        Features, or images (flattened to rows).
    y : array of shape (n,), optional
        Class labels ``0 .. n_classes - 1``. ``None`` builds a prediction model.
    n_classes : int, optional
        Number of classes (outputs); default one more than the largest label of ``y``
        (``predict`` passes the fitted model's).
    hidden : sequence of int
        Hidden-layer widths (article A: two layers of 800).
    activation : str
        One of ``models.layers.ACTIVATIONS`` (article: ``"tanh"``).
    hierarchical : bool
        Learn one weight scale per layer with a ``HalfNormal(scale_prior)`` hyperprior
        (``prior="hierarchical"`` says the same); ``False`` (the default) fixes every weight's
        prior to ``Normal(0, prior_sigma)``. On small data mean-field ADVI's optimum of the
        hierarchical model is the pruned, constant predictor: on small digit data sets the
        learned scales shrank and the CNN predicted no better than chance, where fixed scales
        fit well (flagged by the collapse check), which is why it is not the default.
    noncentered : bool
        Non-centred weights ``sigma * w_raw``, ``w_raw`` the prior at scale 1 (only matters
        with ``hierarchical``).
    prior_sigma : float
        Fixed prior sd of the weights when ``hierarchical=False`` (article: 0.1), and of the
        biases in both variants. The default, 1, suits standardised inputs: at 0.1 the
        biases cannot move far enough to fit small tabular data sets (iris, for one).
    scale_prior : float
        Scale of the ``HalfNormal`` hyperprior on each layer's weight sd (article: 1).
    prior : {"normal", "scale-mixture", "hierarchical", "horseshoe"}
        Shape of each weight's prior around its scale (the learned layer scale or
        ``prior_sigma``): a Normal (the article), or the scale mixture ``slab_weight *
        Normal(0, scale) + (1 - slab_weight) * Normal(0, spike_ratio * scale)`` of Blundell
        et al. (2015), on which mean-field ADVI gives a more accurate network (see
        :func:`models.layers.weight`); ``"hierarchical"`` is a Normal with a learned scale
        per layer, ``"horseshoe"`` a Normal whose scale is a learned half-Cauchy scale per
        layer times one per input unit (:func:`models.layers.layer_scale`; always
        non-centred), the gallery's MNIST MLP.
    slab_weight, spike_ratio : float
        The scale mixture's weight on the wide component and the narrow component's sd
        relative to the wide one (defaults: 0.25 and 0.0025 ~ e**-6, as in Blundell et al.).
    init_scale : float, optional
        Initial weight means are drawn from ``Normal(0, init_scale / sqrt(fan_in))``; the
        default is 1 for the Normal prior and 0.1 for the scale mixture (see :func:`weight`).
    bias : bool
        Add a bias per unit.
    standardize : {"auto", "feature", "global", "none"}
        Input scaling: per feature (tabular data), one centre and sd over every value (images,
        whose border pixels are constant and rare pixels would blow up per-pixel scaling), or
        none (the gallery's MNIST runs, on pixels in [0, 1]). ``"auto"`` (default) is
        ``"global"`` for images given as (n, H, W[, C]) or values all in [0, 1] (pixels),
        ``"feature"`` otherwise. The constants are stored with the settings.
    dtype : {"float32", "float64"}
        Precision of the network's arithmetic. The parameters stay in PyMC's ``floatX``
        (float64) and are cast where they enter the matrix products, so with ``"float32"``
        the expensive part runs in single precision (faster on CPU) while the
        prior and the optimiser keep double precision.
    temperature : float
        Posterior temperature T: the likelihood is raised to ``1 / T`` (it counts as ``n / T``
        rows). 1 is the Bayes posterior; T < 1 a tempered one, narrower than Bayes (see
        :func:`models.layers.data_and_batches`).
    batch_size : int, optional
        Minibatch size of the likelihood; ``None`` uses every row each step.
    random_seed : int
        Seed of the random initial weights.
    **options
        The rest of :func:`models.dense.build_dense`'s settings (``x_loc``, ``x_scale``,
        ``advi_init_sd``, ...).

    Returns
    -------
    pm.Model
        With data ``X``/``y``, weights ``w_in``, ``w_1``, ..., ``w_out``, (hierarchical)
        scales ``sigma_in``, ..., ``sigma_out``, the Deterministic ``probs`` (n, classes) and the
        likelihood ``y_obs``.
    """
    if standardize == "auto":
        arr = np.asarray(X)
        numeric = arr.size > 0 and np.issubdtype(arr.dtype, np.number) and bool(np.all(np.isfinite(arr)))
        pixels = arr.ndim >= 3 or (numeric and arr.min() >= 0 and arr.max() <= 1)  # bad X: build_dense says why
        standardize = "global" if pixels else "feature"
    return build_dense(
        as_flat(X),
        y,
        head="categorical",
        family="mnist-mlp",
        n_classes=n_classes,
        hidden=hidden,
        activation=activation,
        hierarchical=hierarchical,
        noncentered=noncentered,
        prior_sigma=prior_sigma,
        scale_prior=scale_prior,
        prior=prior,
        slab_weight=slab_weight,
        spike_ratio=spike_ratio,
        init_scale=init_scale,
        bias=bias,
        standardize=standardize,
        input_dim="pixel",
        dtype=dtype,
        temperature=temperature,
        batch_size=batch_size,
        random_seed=random_seed,
        **options,
    )
