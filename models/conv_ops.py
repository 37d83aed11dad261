"""2-D convolution and max-pooling for PyMC graphs that run on both PyTensor and JAX.

PyTensor 3.3's ``convolve2d`` has no JAX conversion, so the gallery's CNN uses its own small
``Conv2D`` Op: a "valid" cross-correlation of a batch of images (N, C, H, W) with filters
(O, C, kh, kw), the layout of ``jax.lax.conv_general_dilated``.

- On the JAX backend the Op is dispatched to ``jax.lax.conv_general_dilated``, so XLA sees a
  real convolution (oneDNN on CPU, cuDNN on GPU) and differentiates it itself. The dispatch is
  registered by :func:`register_jax`, which ``fit`` and ``predict`` call before they compile;
  call it yourself before compiling such a graph with PyTensor's own ``mode="JAX"``. (It is
  not done at import: importing PyTensor's JAX backend switches JAX's 64-bit mode on for the
  whole process.)
- On the PyTensor backends (Numba, C, Python) ``perform`` computes it with NumPy (a strided
  window view and one ``tensordot``), and the gradient is written with the same Op: the input
  gradient is the "full" convolution of the output gradient with the flipped filters, the
  filter gradient the correlation of the inputs with the output gradient.

:func:`conv2d_im2col` is the alternative that needs no custom Op (shifted slices stacked and
contracted with one ``tensordot``); :func:`max_pool_2x2` pools by a reshape with static sizes,
which every backend compiles.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.scalar import upcast
from pytensor.tensor.type import TensorType


class Conv2D(Op):
    """2-D cross-correlation: ``out[n, o, i, j] = sum_{c,a,b} xp[n, c, i+a, j+b] w[o, c, a, b]``.

    ``xp`` is ``x`` zero-padded by ``padding = (ph, pw)`` on each side ((0, 0): "valid").
    """

    __props__ = ("padding",)

    def __init__(self, padding: tuple[int, int] = (0, 0)):
        self.padding = (int(padding[0]), int(padding[1]))

    def make_node(self, x, w):
        x = pt.as_tensor_variable(x)
        w = pt.as_tensor_variable(w)
        if x.ndim != 4 or w.ndim != 4:
            raise ValueError(f"Conv2D needs x (N, C, H, W) and w (O, C, kh, kw); got ranks {x.ndim} and {w.ndim}.")
        dtype = upcast(x.dtype, w.dtype)
        xs, ws = x.type.shape, w.type.shape
        if xs[1] is not None and ws[1] is not None and xs[1] != ws[1]:
            raise ValueError(f"Conv2D: x has {xs[1]} channels but the filters expect {ws[1]}.")

        ph, pw = self.padding

        def out_len(n, k, p):
            return None if n is None or k is None else n + 2 * p - k + 1

        shape = (xs[0], ws[0], out_len(xs[2], ws[2], ph), out_len(xs[3], ws[3], pw))
        return Apply(self, [x, w], [TensorType(dtype, shape=shape)()])

    def perform(self, node, inputs, output_storage):
        x, w = inputs
        ph, pw = self.padding
        if ph or pw:
            x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        kh, kw = w.shape[2:]
        win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))  # N, C, Ho, Wo, kh, kw
        out = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # N, Ho, Wo, O
        output_storage[0][0] = np.ascontiguousarray(out.transpose(0, 3, 1, 2)).astype(node.outputs[0].dtype)

    def infer_shape(self, node, shapes):
        (n, _, h, wd), (o, _, kh, kw) = shapes
        ph, pw = self.padding
        return [(n, o, h + 2 * ph - kh + 1, wd + 2 * pw - kw + 1)]

    def pullback(self, inputs, outputs, output_grads):
        x, w = inputs
        (g,) = output_grads
        kh, kw = w.type.shape[2], w.type.shape[3]
        if kh is None or kw is None:
            raise NotImplementedError("The gradient of Conv2D needs filters of static size (known kh, kw).")
        ph, pw = self.padding
        # d/dx: "full" convolution of g with the flipped, channel-swapped filters, minus the padding
        w_flip = w[:, :, ::-1, ::-1].dimshuffle(1, 0, 2, 3)
        gx = Conv2D((kh - 1, kw - 1))(g, w_flip)
        if ph or pw:
            gx = gx[:, :, ph : gx.shape[2] - ph, pw : gx.shape[3] - pw]
        # d/dw: correlate the (padded) inputs, channels as batch, with g, samples as channels
        gw = Conv2D(self.padding)(x.dimshuffle(1, 0, 2, 3), g.dimshuffle(1, 0, 2, 3)).dimshuffle(1, 0, 2, 3)
        return [pt.cast(gx, x.dtype), pt.cast(gw, w.dtype)]


_conv2d = Conv2D()


def conv2d(x, w, *, padding: tuple[int, int] = (0, 0)):
    """Cross-correlation of images ``x`` (N, C, H, W) with filters ``w`` (O, C, kh, kw), the
    images zero-padded by ``padding`` rows and columns on each side ((0, 0): "valid")."""
    return _conv2d(x, w) if tuple(padding) == (0, 0) else Conv2D(padding)(x, w)


def pad2d(x, padding: tuple[int, int]):
    """Zero-pad images ``x`` (N, C, H, W) by ``padding`` = (rows, columns) on each side."""
    ph, pw = padding
    if (ph, pw) == (0, 0):
        return x
    shape = (x.shape[0], x.shape[1], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw)
    return pt.set_subtensor(pt.zeros(shape, dtype=x.dtype)[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]], x)


def register_jax():
    """Register :class:`Conv2D`'s JAX implementation with PyTensor's JAX backend (idempotent);
    returns PyTensor's ``jax_funcify``."""
    from pytensor.link.jax.dispatch import jax_funcify

    jax_funcify.register(Conv2D)(_jax_conv2d)
    return jax_funcify


def _jax_conv2d(op, **kwargs):
    import jax

    ph, pw = op.padding

    def conv(x, w):
        return jax.lax.conv_general_dilated(
            x, w, window_strides=(1, 1), padding=((ph, ph), (pw, pw)), dimension_numbers=("NCHW", "OIHW", "NCHW")
        )

    return conv


def conv2d_im2col(x, w, *, kernel: tuple[int, int]):
    """The same convolution as shifted slices stacked into patches and one ``tensordot``.

    Needs no custom Op; ``kernel`` (kh, kw) must be given as numbers so every slice is static.
    """
    kh, kw = kernel
    ho = x.shape[2] - kh + 1
    wo = x.shape[3] - kw + 1
    patches = pt.stack(
        [x[:, :, a : a + ho, b : b + wo] for a in range(kh) for b in range(kw)], axis=2
    )  # N, C, k, Ho, Wo
    w3 = w.reshape((w.shape[0], w.shape[1], kh * kw))
    return pt.tensordot(patches, w3, axes=[[1, 2], [1, 2]]).dimshuffle(0, 3, 1, 2)


def max_pool_2x2(x, *, channels: int, height: int, width: int):
    """2x2 max-pooling with stride 2 of (N, C, H, W) images of known ``height`` / ``width``; an
    odd last row or column is dropped (as "valid" pooling does)."""
    if height < 2 or width < 2:
        raise ValueError(f"max_pool_2x2 needs images of at least 2x2; got {height}x{width}.")
    if height % 2 or width % 2:
        x = x[:, :, : height - height % 2, : width - width % 2]
    blocks = x.reshape((-1, channels, height // 2, 2, width // 2, 2))
    return blocks.max(axis=(3, 5))
