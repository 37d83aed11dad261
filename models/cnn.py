"""The Bayesian convolutional network of the PyMC deep-learning article, for 28x28 digits.

Default architecture (article A): conv 32 filters 5x5 -> tanh -> max-pool 2x2 -> conv 32 5x5
-> tanh -> max-pool 2x2 -> dense 256 tanh -> dense 10 -> softmax, Categorical likelihood on
the logits. Every weight has a Normal prior; with ``hierarchical=True`` each layer's weights
share a scale ``sigma_<layer> ~ HalfNormal(scale_prior)`` learned from the data, as in the
hierarchical MLP (:mod:`models.mnist_mlp`).

Convolution and pooling are PyTensor graphs (:mod:`models.conv_ops`): ``conv_impl="op"``
uses the project's ``Conv2D`` Op, which the JAX backend compiles to
``jax.lax.conv_general_dilated`` (a real convolution for XLA) and the PyTensor backends run
with NumPy; ``conv_impl="im2col"`` writes the convolution as stacked slices and one
``tensordot`` with no custom Op.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from .conv_ops import conv2d, conv2d_im2col, max_pool_2x2
from .info import tag_model
from .layers import (
    categorical_likelihood,
    check_weight_prior,
    data_and_batches,
    dense_stack,
    get_activation,
    init_weights,
    initial_scale,
    layer_scale,
    weight,
)
from .mnist_mlp import N_CLASSES, _as_images, check_dtype
from .validation import check_batch_size, check_hidden, check_labels, check_positive

#: Name of the Deterministic holding the class probabilities.
OUTPUT = "probs"
CONV_IMPLS = ("op", "im2col")
IMAGE_SIDE = 28


def conv_layer_names(n_conv: int, n_dense: int) -> list[str]:
    """Layer names input to output: ``conv_0``, ..., ``dense_0``, ..., ``out``."""
    return [*[f"conv_{i}" for i in range(n_conv)], *[f"dense_{i}" for i in range(n_dense)], "out"]


def build_model(
    X,
    y=None,
    *,
    filters=(32, 32),
    kernel: int = 5,
    dense=(256,),
    activation: str = "tanh",
    hierarchical: bool = True,
    noncentered: bool = False,
    prior_sigma: float = 0.1,
    scale_prior: float = 1.0,
    prior: str = "normal",
    slab_weight: float = 0.25,
    spike_ratio: float = 0.0025,
    init_scale: float | None = None,
    conv_impl: str = "op",
    dtype: str = "float32",
    temperature: float = 1.0,
    batch_size: int | None = None,
    random_seed: int = 0,
) -> pm.Model:
    """Build the Bayesian CNN classifier for 28x28 single-channel images.

    Parameters
    ----------
    X : array of shape (n, 28, 28) or (n, 784)
        Images, pixels scaled to [0, 1].
    y : array of shape (n,), optional
        Labels 0..9; ``None`` builds a prediction model.
    filters : sequence of int
        Filters per convolution block (conv ``kernel x kernel`` "valid" -> activation -> max-pool 2x2).
    kernel : int
        Side of the square filters (article: 5).
    dense : sequence of int
        Widths of the dense hidden layers after the convolutions (article: one of 256).
    activation : str
        One of ``models.layers.ACTIVATIONS``.
    hierarchical, noncentered, prior_sigma, scale_prior
        As in :func:`models.mnist_mlp.build_model`: learned per-layer weight scales with a
        ``HalfNormal(scale_prior)`` hyperprior, or fixed ``Normal(0, prior_sigma)`` weights;
        biases always get ``Normal(0, prior_sigma)``.
    prior, slab_weight, spike_ratio
        The weights' prior shape, a Normal or a scale mixture, as in
        :func:`models.mnist_mlp.build_model`.
    init_scale : float, optional
        Initial weight means ``Normal(0, init_scale / sqrt(fan_in))``; default 1 under the
        Normal prior, 0.1 under the scale mixture (:func:`models.layers.weight`).
    conv_impl : {"op", "im2col"}
        Convolution as the ``Conv2D`` Op (a real convolution under JAX) or as im2col.
    dtype : {"float32", "float64"}
        Precision of the network's arithmetic (parameters stay float64 and are cast).
    temperature : float
        Posterior temperature, as in :func:`models.mnist_mlp.build_model` (1: Bayes).
    batch_size : int, optional
        Minibatch size; ``None`` evaluates every row.
    random_seed : int
        Seed of the initial weights.

    Returns
    -------
    pm.Model
        Weights ``w_conv_0`` (O, C, k, k), ..., ``w_dense_0``, ``w_out``, biases ``b_*``,
        scales ``sigma_*`` (hierarchical), the Deterministic ``probs`` (n, 10), likelihood ``y_obs``.
    """
    X = _as_images(X)
    if X.shape[1] != IMAGE_SIDE * IMAGE_SIDE:
        raise ValueError(
            f"X must hold {IMAGE_SIDE}x{IMAGE_SIDE} images ((n, 28, 28) or (n, 784)); got {X.shape[1]} pixels."
        )
    filters = check_hidden(filters, name="filters")
    dense = check_hidden(dense, name="dense") if len(tuple(dense)) else ()
    if isinstance(kernel, bool) or not isinstance(kernel, (int, np.integer)) or kernel < 1:
        raise ValueError(f"kernel must be a positive integer; got {kernel!r}.")
    kernel = int(kernel)
    if conv_impl not in CONV_IMPLS:
        raise ValueError(f"conv_impl must be one of {CONV_IMPLS}; got {conv_impl!r}.")
    dtype = check_dtype(dtype)
    act = get_activation(activation)
    prior_sigma = check_positive(prior_sigma, name="prior_sigma")
    scale_prior = check_positive(scale_prior, name="scale_prior")
    temperature = check_positive(temperature, name="temperature")
    prior_kw = check_weight_prior(prior, slab_weight, spike_ratio)
    init_scale = initial_scale(init_scale, prior)
    side = IMAGE_SIDE
    for i in range(len(filters)):
        conv_side = side - kernel + 1
        if conv_side < 2 or conv_side % 2:
            raise ValueError(
                f"Convolution block {i} would give {conv_side}x{conv_side} maps; each block needs an "
                "even size >= 2 to pool 2x2 (use fewer blocks or another kernel)."
            )
        side = conv_side // 2
    n = X.shape[0]
    if y is not None:
        y = check_labels(y, n_rows=n, n_classes=N_CLASSES)
        batch_size = check_batch_size(batch_size, n_rows=n)
    else:
        batch_size = None
    rng = np.random.default_rng(random_seed)
    names = conv_layer_names(len(filters), len(dense))
    hier = dict(hierarchical=hierarchical, prior_sigma=prior_sigma, scale_prior=scale_prior)

    coords = {
        "pixel": np.arange(X.shape[1]),
        "class": np.arange(N_CLASSES),
        "kernel_row": np.arange(kernel),
        "kernel_col": np.arange(kernel),
    }
    in_channels = [1, *filters[:-1]]
    for i, f in enumerate(filters):
        coords[f"filter_{i}"] = np.arange(f)
    coords["channel_in"] = np.arange(1)
    flat = filters[-1] * side * side
    coords["flat"] = np.arange(flat)
    for i, w in enumerate(dense):
        coords[f"dense_{i}_unit"] = np.arange(w)

    with pm.Model(coords=coords) as model:
        X_in, y_in, total_size = data_and_batches(X, y, batch_size=batch_size, temperature=temperature)
        # Reshapes lose the static number of rows, which JAX needs (the likelihood indexes
        # with arange(rows)); a fitted model's row count is known, so it is restated.
        lead = batch_size or (n if y is not None else None)

        def rows(t, *rest):
            return pt.specify_shape(t, (lead, *rest))

        h = rows(pt.cast(X_in, dtype).reshape((-1, 1, IMAGE_SIDE, IMAGE_SIDE)), 1, IMAGE_SIDE, IMAGE_SIDE)
        side = IMAGE_SIDE
        for i, f in enumerate(filters):
            name = f"conv_{i}"
            c_in = in_channels[i]
            fan_in = c_in * kernel * kernel
            in_dim = "channel_in" if i == 0 else f"filter_{i - 1}"
            sigma = layer_scale(name, init=1.0 / np.sqrt(fan_in), **hier)
            init = init_weights((f, c_in, kernel, kernel), fan_in=fan_in, rng=rng, scale=init_scale)
            W = weight(
                f"w_{name}",
                dims=(f"filter_{i}", in_dim, "kernel_row", "kernel_col"),
                sigma=sigma,
                noncentered=noncentered and hierarchical,
                init=init,
                **prior_kw,
            )
            b = pm.Normal(f"b_{name}", 0.0, prior_sigma, dims=(f"filter_{i}",), initval=np.zeros(f))
            W = pt.specify_shape(pt.cast(W, dtype), (f, c_in, kernel, kernel))
            z = conv2d(h, W) if conv_impl == "op" else conv2d_im2col(h, W, kernel=(kernel, kernel))
            z = z + pt.cast(b, dtype)[None, :, None, None]
            side = side - kernel + 1
            h = max_pool_2x2(act(z), channels=f, height=side, width=side)
            side //= 2
            h = rows(h, f, side, side)
        h = rows(h.reshape((-1, flat)), flat)
        widths = [flat, *dense, N_CLASSES]
        dims = ["flat", *[f"dense_{i}_unit" for i in range(len(dense))], "class"]
        logits = dense_stack(
            h,
            widths=widths,
            names=names[len(filters) :],
            dims=dims,
            act=act,
            rng=rng,
            init_scale=init_scale,
            prior_kw=prior_kw,
            dtype=dtype,
            noncentered=noncentered,
            **hier,
        )
        categorical_likelihood(
            logits, y_in, total_size=total_size, batch_size=batch_size, output=OUTPUT, fitted=y is not None
        )
    settings = {
        "filters": list(filters),
        "kernel": kernel,
        "dense": list(dense),
        "activation": activation,
        "hierarchical": bool(hierarchical),
        "noncentered": bool(noncentered),
        "prior_sigma": prior_sigma,
        "scale_prior": scale_prior,
        **prior_kw,
        "init_scale": init_scale,
        "conv_impl": conv_impl,
        "dtype": dtype,
        "temperature": temperature,
        "batch_size": batch_size,
        "random_seed": int(random_seed),
    }
    return tag_model(model, family="mnist-cnn", settings=settings, output=OUTPUT, task="multiclass")
