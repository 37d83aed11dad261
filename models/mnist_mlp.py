"""The MNIST multilayer perceptron of the PyMC deep-learning article, with a hierarchical prior.

Images (flattened to 784 pixels in [0, 1]) go through dense hidden layers to 10 logits and a
Categorical likelihood. With ``hierarchical=True`` (article A, "hierarchical prior") each
layer's weights share a scale ``sigma_<layer> ~ HalfNormal(scale_prior)`` that is learned from
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
import pytensor.tensor as pt

from .info import tag_model
from .layers import (
    categorical_likelihood,
    check_weight_prior,
    data_and_batches,
    dense_stack,
    get_activation,
    initial_scale,
)
from .validation import check_batch_size, check_features, check_hidden, check_labels, check_positive

#: Name of the Deterministic holding the class probabilities (softmax of the logits).
OUTPUT = "probs"
N_CLASSES = 10


def layer_names(n_hidden: int) -> list[str]:
    """Names of the weight layers, input to output: ``in``, ``1``, ..., ``out``."""
    return ["in", *[str(i) for i in range(1, n_hidden)], "out"]


def check_dtype(dtype) -> str:
    """Return the compute precision name, ``"float32"`` or ``"float64"``."""
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype!r}.")
    return str(dtype)


def _as_images(X, *, name: str = "X") -> np.ndarray:
    """Accept (n, 784) or (n, 28, 28) images; return (n, 784)."""
    arr = np.asarray(X)
    if arr.ndim == 3:
        arr = arr.reshape(arr.shape[0], -1)
    return check_features(arr, name=name)


def build_model(
    X,
    y=None,
    *,
    hidden=(800, 800),
    activation: str = "tanh",
    hierarchical: bool = True,
    noncentered: bool = False,
    prior_sigma: float = 0.1,
    scale_prior: float = 1.0,
    prior: str = "normal",
    slab_weight: float = 0.25,
    spike_ratio: float = 0.0025,
    init_scale: float | None = None,
    bias: bool = True,
    dtype: str = "float32",
    temperature: float = 1.0,
    batch_size: int | None = None,
    random_seed: int = 0,
) -> pm.Model:
    """Build the MNIST MLP classifier.

    Parameters
    ----------
    X : array of shape (n, 784) or (n, 28, 28)
        Images, pixels scaled to [0, 1].
    y : array of shape (n,), optional
        Digit labels 0..9. ``None`` builds a prediction model.
    hidden : sequence of int
        Hidden-layer widths (article A: two layers of 800).
    activation : str
        One of ``models.layers.ACTIVATIONS`` (article: ``"tanh"``).
    hierarchical : bool
        Learn one weight scale per layer with a ``HalfNormal(scale_prior)`` hyperprior;
        ``False`` fixes every weight's prior to ``Normal(0, prior_sigma)``.
    noncentered : bool
        Non-centred weights ``sigma * w_raw``, ``w_raw`` the prior at scale 1 (only matters
        with ``hierarchical``).
    prior_sigma : float
        Fixed prior sd of the weights when ``hierarchical=False`` (article: 0.1), and of the
        biases in both variants.
    scale_prior : float
        Scale of the ``HalfNormal`` hyperprior on each layer's weight sd (article: 1).
    prior : {"normal", "scale-mixture"}
        Shape of each weight's prior around its scale (the learned layer scale or
        ``prior_sigma``): a Normal (the article), or the scale mixture ``slab_weight *
        Normal(0, scale) + (1 - slab_weight) * Normal(0, spike_ratio * scale)`` of Blundell
        et al. (2015), on which mean-field ADVI gives a more accurate network (see
        :func:`models.layers.weight`).
    slab_weight, spike_ratio : float
        The scale mixture's weight on the wide component and the narrow component's sd
        relative to the wide one (defaults: 0.25 and 0.0025 ~ e**-6, as in Blundell et al.).
    init_scale : float, optional
        Initial weight means are drawn from ``Normal(0, init_scale / sqrt(fan_in))``; the
        default is 1 for the Normal prior and 0.1 for the scale mixture (see :func:`weight`).
    bias : bool
        Add a bias per unit.
    dtype : {"float32", "float64"}
        Precision of the network's arithmetic. The parameters stay in PyMC's ``floatX``
        (float64) and are cast where they enter the matrix products, so with ``"float32"``
        the expensive part runs in single precision (about twice as fast on CPU) while the
        prior and the optimiser keep double precision.
    temperature : float
        Posterior temperature T: the likelihood is raised to ``1 / T`` (it counts as ``n / T``
        rows). 1 is the Bayes posterior; T < 1 a tempered one, narrower than Bayes (see
        :func:`models.layers.data_and_batches`).
    batch_size : int, optional
        Minibatch size of the likelihood; ``None`` uses every row each step.
    random_seed : int
        Seed of the random initial weights.

    Returns
    -------
    pm.Model
        With data ``X``/``y``, weights ``w_in``, ``w_1``, ..., ``w_out``, (hierarchical)
        scales ``sigma_in``, ..., ``sigma_out``, the Deterministic ``probs`` (n, 10) and the
        likelihood ``y_obs``.
    """
    X = _as_images(X)
    hidden = check_hidden(hidden)
    dtype = check_dtype(dtype)
    act = get_activation(activation)
    prior_sigma = check_positive(prior_sigma, name="prior_sigma")
    scale_prior = check_positive(scale_prior, name="scale_prior")
    temperature = check_positive(temperature, name="temperature")
    prior_kw = check_weight_prior(prior, slab_weight, spike_ratio)
    init_scale = initial_scale(init_scale, prior)
    n, d = X.shape
    if y is not None:
        y = check_labels(y, n_rows=n, n_classes=N_CLASSES)
        batch_size = check_batch_size(batch_size, n_rows=n)
    else:
        batch_size = None
    rng = np.random.default_rng(random_seed)
    names = layer_names(len(hidden))
    widths = [d, *hidden, N_CLASSES]
    dims = ["pixel", *[f"hidden_{i}" for i in range(len(hidden))], "class"]
    coords = {"pixel": np.arange(d), "class": np.arange(N_CLASSES)}
    coords.update({f"hidden_{i}": np.arange(w) for i, w in enumerate(hidden)})
    with pm.Model(coords=coords) as model:
        X_in, y_in, total_size = data_and_batches(X, y, batch_size=batch_size, temperature=temperature)
        logits = dense_stack(
            pt.cast(X_in, dtype),
            widths=widths,
            names=names,
            dims=dims,
            act=act,
            rng=rng,
            init_scale=init_scale,
            prior_kw=prior_kw,
            hierarchical=hierarchical,
            noncentered=noncentered,
            prior_sigma=prior_sigma,
            scale_prior=scale_prior,
            dtype=dtype,
            bias=bias,
        )
        categorical_likelihood(
            logits, y_in, total_size=total_size, batch_size=batch_size, output=OUTPUT, fitted=y is not None
        )
    settings = {
        "hidden": list(hidden),
        "activation": activation,
        "hierarchical": bool(hierarchical),
        "noncentered": bool(noncentered),
        "prior_sigma": prior_sigma,
        "scale_prior": scale_prior,
        **prior_kw,
        "init_scale": init_scale,
        "bias": bool(bias),
        "dtype": dtype,
        "temperature": temperature,
        "batch_size": batch_size,
        "random_seed": int(random_seed),
    }
    return tag_model(model, family="mnist-mlp", settings=settings, output=OUTPUT, task="multiclass")
