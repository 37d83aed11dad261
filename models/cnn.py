"""The Bayesian convolutional network of the PyMC deep-learning article, for images of any
size, channel count and number of classes.

Default architecture (article A): conv 32 filters 5x5 -> tanh -> max-pool 2x2 -> conv 32 5x5
-> tanh -> max-pool 2x2 -> dense 256 tanh -> dense (one per class) -> softmax, Categorical
likelihood on the logits. By default each convolution keeps the image size ("same" padding)
and the pixels are standardised, so any image of at least 4x4 fits; the gallery's MNIST
network is :data:`ARTICLE` ("valid" convolutions on raw pixels: 28 -> 24 -> 12 -> 8 -> 4).
Every weight has a Normal or scale-mixture prior; with ``hierarchical=True`` each layer's
weights share a scale ``sigma_<layer> ~ HalfNormal(scale_prior)`` learned from the data, and
``prior="horseshoe"`` learns a half-Cauchy scale per layer times one per input channel (per
input unit in the dense layers), as in the MLP (:mod:`models.mnist_mlp`).

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

from ..validation import (
    check_batch_size,
    check_choice,
    check_features,
    check_hidden,
    check_labels,
    check_n_classes,
    check_positive,
    check_positive_int,
    check_seed,
)
from .conv_ops import conv2d, conv2d_im2col, max_pool_2x2, pad2d
from .dense import check_standardize, fan_in_init_sd, input_scaling
from .info import tag_model
from .layers import (
    categorical_likelihood,
    data_and_batches,
    dense_stack,
    init_weights,
    initial_scale,
    layer_scale,
    layer_variables,
    network_options,
    weight,
)

#: Name of the Deterministic holding the class probabilities.
OUTPUT = "probs"
CONV_IMPLS = ("auto", "op", "im2col")
#: ``"same"``: each convolution zero-pads its input to keep the image size (any image of at
#: least 2x2 per pooling step fits); ``"valid"``: no padding, each convolution shrinks the
#: image by ``kernel - 1`` (the article's network on 28x28 digits).
PADDINGS = ("same", "valid")
#: The gallery's MNIST network: "valid" convolutions, raw pixels in [0, 1].
ARTICLE = {"padding": "valid", "standardize": "none"}


def resolve_conv_impl(conv_impl: str = "auto", backend: str = "jax") -> str:
    """The convolution's implementation: ``"auto"`` is ``"op"`` (a real convolution) where
    JAX runs on a GPU and ``"im2col"`` elsewhere: on a CPU, XLA runs a convolution inside the
    ADVI engine's ``lax.scan`` loop several times slower than outside it, while im2col's dot
    products keep their speed (``benchmarks/advi_speed.py`` times the step).
    The PyTensor backends always get im2col."""
    check_choice(conv_impl, name="conv_impl", allowed=CONV_IMPLS)
    if conv_impl != "auto":
        return conv_impl
    if backend != "jax":
        return "im2col"
    import jax

    return "op" if jax.default_backend() == "gpu" else "im2col"


def conv_layer_names(n_conv: int, n_dense: int) -> list[str]:
    """Layer names input to output: ``conv_0``, ..., ``dense_0``, ..., ``out``."""
    return [*[f"conv_{i}" for i in range(n_conv)], *[f"dense_{i}" for i in range(n_dense)], "out"]


def as_images(X, image_shape=None) -> tuple[np.ndarray, tuple[int, int, int]]:
    """Images ``X`` as (n, H * W * C) rows and their shape (H, W, C).

    Accepts (n, H, W) (one channel), (n, H, W, C), or (n, d) rows with ``image_shape`` given
    (or d a square number: single-channel square images). With ``image_shape`` given (a
    fitted model's), the images must have that shape.
    """
    arr = np.asarray(X)
    if arr.ndim == 3:
        shape = (*arr.shape[1:], 1)
    elif arr.ndim == 4:
        shape = tuple(arr.shape[1:])
    elif arr.ndim == 2 and image_shape is not None:
        shape = tuple(int(v) for v in image_shape)
        if int(np.prod(shape)) != arr.shape[1]:
            raise ValueError(
                f"X has {arr.shape[1]} values per row but the model's images are {_show(shape)} "
                f"({int(np.prod(shape))} values); pass images of that shape."
            )
    elif arr.ndim == 2:
        side = int(round(np.sqrt(arr.shape[1])))
        if side * side != arr.shape[1]:
            raise ValueError(
                f"X has {arr.shape[1]} values per row, which is not a square image; pass images as "
                "(n, H, W) or (n, H, W, C), or give image_shape=(H, W, C)."
            )
        shape = (side, side, 1)
    else:
        raise ValueError(f"X must hold images, (n, H, W) or (n, H, W, C); got shape {arr.shape}.")
    if image_shape is not None and tuple(int(v) for v in image_shape) != shape:
        want = tuple(int(v) for v in image_shape)
        what = "channels" if want[:2] == shape[:2] else "image size"
        raise ValueError(
            f"X holds {_show(shape)} images but the model was built for {_show(want)} ({what} differ); "
            "pass images of the shape the model was fitted on."
        )
    if arr.ndim >= 3 and arr.shape[0] == 0:
        raise ValueError(f"X is empty (shape {arr.shape}); pass at least one image.")
    return check_features(arr.reshape(arr.shape[0], -1)), shape


def _show(shape) -> str:
    h, w, c = shape
    return f"{h}x{w}" + (f"x{c}" if c != 1 else "") + f" ({c} channel{'s' if c != 1 else ''})"


def build_model(
    X,
    y=None,
    *,
    n_classes: int | None = None,
    filters=(32, 32),
    kernel: int = 5,
    dense=(256,),
    activation: str = "tanh",
    hierarchical: bool = False,
    noncentered: bool = False,
    prior_sigma: float = 1.0,
    scale_prior: float = 1.0,
    prior: str = "normal",
    slab_weight: float = 0.25,
    spike_ratio: float = 0.0025,
    init_scale: float | None = None,
    padding: str = "same",
    standardize="global",
    x_loc=None,
    x_scale=None,
    image_shape=None,
    conv_impl: str = "auto",
    dtype: str = "float32",
    temperature: float = 1.0,
    advi_init_sd: float | None = None,
    batch_size: int | None = None,
    random_seed: int = 0,
) -> pm.Model:
    """Build the Bayesian CNN classifier for images of any size and channel count.

    Parameters
    ----------
    X : array of shape (n, H, W), (n, H, W, C) or (n, H * W * C)
        Images (rows need ``image_shape`` unless they are square single-channel images).
    y : array of shape (n,), optional
        Labels ``0 .. n_classes - 1``; ``None`` builds a prediction model.
    n_classes : int, optional
        Number of classes; default one more than the largest label of ``y``.
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
        The weights' prior (``models.layers.PRIORS``: a Normal, a scale mixture, a learned
        per-layer scale or the horseshoe), as in :func:`models.mnist_mlp.build_model`.
    init_scale : float, optional
        Initial weight means ``Normal(0, init_scale / sqrt(fan_in))``; default 1 under the
        Normal prior, 0.1 under the scale mixture (:func:`models.layers.weight`).
    padding : {"same", "valid"}
        Zero-pad each convolution's input to keep the image size (any image size fits;
        needs an odd ``kernel``), or none (each block shrinks the image by ``kernel - 1``).
        Pooling drops an odd last row or column.
    standardize : {"global", "none"}
        Centre and scale the pixels by one mean and sd of the training images (stored as
        ``x_loc`` / ``x_scale``), or pass them as they are.
    x_loc, x_scale : float, optional
        The input scaling's constants (a prediction model gets the fitted model's).
    image_shape : (H, W, C), optional
        The images' shape; inferred from ``X`` and stored, so a prediction model refuses
        images of another shape or channel count.
    conv_impl : {"auto", "op", "im2col"}
        Convolution as the ``Conv2D`` Op (a real convolution under JAX) or as im2col;
        ``"auto"`` picks the faster for the JAX engine on this machine
        (:func:`resolve_conv_impl`). The resolved name is stored with the settings.
    dtype : {"float32", "float64"}
        Precision of the network's arithmetic (parameters stay float64 and are cast).
    temperature : float
        Posterior temperature, as in :func:`models.mnist_mlp.build_model` (1: Bayes).
    advi_init_sd : float, optional
        The initial posterior sd ``fit`` uses by default; None scales it to each layer's
        fan-in (:func:`models.dense.fan_in_init_sd`).
    batch_size : int, optional
        Minibatch size; ``None`` evaluates every row.
    random_seed : int
        Seed of the initial weights.

    Returns
    -------
    pm.Model
        Weights ``w_conv_0`` (O, C, k, k), ..., ``w_dense_0``, ``w_out``, biases ``b_*``,
        scales ``sigma_*`` (hierarchical), the Deterministic ``probs`` (n, classes), likelihood ``y_obs``.
    """
    X, image_shape = as_images(X, image_shape)
    height, width, channels = image_shape
    filters = check_hidden(filters, name="filters")
    dense = check_hidden(dense, name="dense") if len(tuple(dense)) else ()
    kernel = check_positive_int(kernel, name="kernel")
    conv_impl = resolve_conv_impl(conv_impl)
    check_choice(padding, name="padding", allowed=PADDINGS)
    if padding == "same" and kernel % 2 == 0:
        raise ValueError(f"padding='same' needs an odd kernel; got kernel={kernel} (use {kernel + 1} or 'valid').")
    act, dtype, prior_kw, hierarchical, noncentered, prior_sigma, scale_prior, temperature = network_options(locals())
    init_scale = initial_scale(init_scale, prior_kw["prior"])
    mode = check_standardize(standardize)
    if mode == "feature":
        raise ValueError("standardize='feature' does not apply to images; use 'global' or 'none'.")
    x_loc, x_scale = input_scaling(X, mode, x_loc, x_scale)
    pad = kernel // 2 if padding == "same" else 0
    sizes = []  # (conv output, pooled output) sides per block
    h_side, w_side = height, width
    for i in range(len(filters)):
        ch, cw = h_side + 2 * pad - kernel + 1, w_side + 2 * pad - kernel + 1
        if ch < 2 or cw < 2:
            raise ValueError(
                f"Convolution block {i} would give {ch}x{cw} maps from {h_side}x{w_side} inputs; each block "
                f"needs at least 2x2 to pool (use fewer filters blocks, a smaller kernel or padding='same')."
            )
        sizes.append(((ch, cw), (ch // 2, cw // 2)))
        h_side, w_side = ch // 2, cw // 2
    n = X.shape[0]
    n_classes = check_n_classes(n_classes, y)
    if y is not None:
        y = check_labels(y, n_rows=n, n_classes=n_classes)
        batch_size = check_batch_size(batch_size, n_rows=n)
    else:
        batch_size = None
    rng = np.random.default_rng(check_seed(random_seed))
    names = conv_layer_names(len(filters), len(dense))
    hier = dict(hierarchical=hierarchical, prior_sigma=prior_sigma, scale_prior=scale_prior)

    coords = {
        "pixel": np.arange(X.shape[1]),
        "class": np.arange(n_classes),
        "kernel_row": np.arange(kernel),
        "kernel_col": np.arange(kernel),
    }
    in_channels = [channels, *filters[:-1]]
    for i, f in enumerate(filters):
        coords[f"filter_{i}"] = np.arange(f)
    coords["channel_in"] = np.arange(channels)
    flat = filters[-1] * h_side * w_side
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

        if mode != "none":
            X_in = (X_in - x_loc) / x_scale
        h = pt.cast(X_in, dtype)
        if channels == 1:
            h = h.reshape((-1, 1, height, width))
        else:  # rows hold (H, W, C) images; the convolution wants (C, H, W)
            h = h.reshape((-1, height, width, channels)).dimshuffle(0, 3, 1, 2)
        h = rows(h, channels, height, width)
        for i, f in enumerate(filters):
            name = f"conv_{i}"
            c_in = in_channels[i]
            fan_in = c_in * kernel * kernel
            in_dim = "channel_in" if i == 0 else f"filter_{i - 1}"
            sigma = layer_scale(
                name,
                init=1.0 / np.sqrt(fan_in),
                prior=prior_kw["prior"],
                unit_dim=in_dim,
                unit_shape=(1, c_in, 1, 1),
                **hier,
            )
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
            if conv_impl == "op":
                z = conv2d(h, W, padding=(pad, pad))
            else:
                z = conv2d_im2col(pad2d(h, (pad, pad)), W, kernel=(kernel, kernel))
            z = z + pt.cast(b, dtype)[None, :, None, None]
            (ch, cw), (ph, pw) = sizes[i]
            h = rows(max_pool_2x2(act(z), channels=f, height=ch, width=cw), f, ph, pw)
        h = rows(h.reshape((-1, flat)), flat)
        widths = [flat, *dense, n_classes]
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
        "n_classes": n_classes,
        "image_shape": list(image_shape),
        "padding": padding,
        "standardize": mode,
        "x_loc": x_loc,
        "x_scale": x_scale,
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
        "advi_init_sd": advi_init_sd,
        "batch_size": batch_size,
        "random_seed": int(random_seed),
    }
    if advi_init_sd is None:
        fan_ins = [c * kernel * kernel for c in in_channels] + widths[:-1]
        init_sd: float | dict = fan_in_init_sd(
            fan_ins, names, prior_sigma=prior_sigma, bias=True, noncentered=noncentered and hierarchical
        )
    else:
        init_sd = check_positive(advi_init_sd, name="advi_init_sd")
    return tag_model(
        model,
        family="mnist-cnn",
        settings=settings,
        output=OUTPUT,
        task="multiclass",
        advi_init_sd=init_sd,
        last_layer=layer_variables(model),
    )
