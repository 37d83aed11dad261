"""The arithmetic precision of JAX code, set explicitly around each computation.

PyTensor graphs are float64 unless ``floatX`` says otherwise; JAX computes in float32 unless
its 64-bit mode is on. Nothing in this package switches that mode globally: every entry
point that runs a jaxified graph (``fit``, ``predict``, k-hat, the dropout baseline) enters
:func:`precision_scope` for the duration of its own work.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from ..validation import check_choice

PRECISIONS = ("float64", "float32")


def check_precision(precision: str) -> str:
    """Return ``precision`` if it is one of :data:`PRECISIONS`; raise a clear error otherwise."""
    return check_choice(precision, name="precision", allowed=PRECISIONS)


@contextmanager
def precision_scope(precision: str = "float64") -> Iterator[None]:
    """Trace and run JAX code in ``precision``.

    ``"float64"`` turns JAX's 64-bit mode on for the duration, so a PyTensor float64 graph
    keeps its precision. ``"float32"`` turns it off: the graph still asks for float64
    constants, JAX narrows them, and the warning it gives for each is silenced here.
    """
    import jax

    check_precision(precision)
    if precision == "float64":
        with jax.enable_x64(True):
            yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Explicitly requested dtype", category=UserWarning)
        with jax.enable_x64(False):
            yield


def narrow(array: np.ndarray, precision: str) -> np.ndarray:
    """Data at the loop's precision: float64 -> float32 and int64 -> int32 for ``"float32"``."""
    if precision != "float32":
        return array
    if array.dtype == np.float64:
        return array.astype(np.float32)
    if array.dtype == np.int64:
        return array.astype(np.int32)
    return array
