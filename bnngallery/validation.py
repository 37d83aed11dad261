"""The argument checks of the whole package: data generators, builders, ``fit``, ``predict``,
the diagnostics and the runs all validate through these functions.

Each check raises a ``ValueError`` (``check_file_path``: ``IsADirectoryError`` for a folder)
that names the argument, what was expected and what came (and, where there is one, the fix),
so a user never meets a PyTensor, NumPy or JAX traceback as the first sign of a bad argument.
The module imports NumPy only, so every layer, the data sets included, can use it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def unmasked(value, *, name: str):
    """``value`` itself, or a masked array's data when nothing is masked; a masked array with
    masked entries is refused (NumPy would drop the mask and the model use the hidden values)."""
    if not np.ma.isMaskedArray(value):
        return value
    masked = int(np.ma.count_masked(value))
    if masked:
        raise ValueError(
            f"{name} is a masked array with {masked} masked value(s); the model would use the values under "
            "the mask. Drop those rows (np.ma.compress_rows) or fill them (.filled(value)) first."
        )
    return np.ma.getdata(value)


def check_features(X, *, name: str = "X", n_features: int | None = None, ndim: int = 2) -> np.ndarray:
    """Return ``X`` as a finite float array of rank ``ndim`` with at least one row.

    Integer, boolean and float32 arrays are accepted and returned as float64 (PyMC's default
    ``floatX``). A masked array with
    masked entries is refused (its mask would be dropped silently), as is an array with no
    feature columns.
    """
    X = unmasked(X, name=name)
    try:
        arr = np.asarray(X)
    except Exception as err:  # ragged lists and the like
        raise ValueError(f"{name} must be an array of numbers; could not convert it: {err}") from err
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must hold numbers; got an array of dtype {arr.dtype}.")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must be real-valued; got dtype {arr.dtype}.")
    if arr.ndim != ndim:
        raise ValueError(
            f"{name} must be a {ndim}-D array (rows = data points); got shape {arr.shape}."
            + (" Reshape a single feature with X.reshape(-1, 1)." if arr.ndim == 1 and ndim == 2 else "")
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); pass at least one data point.")
    if ndim >= 2 and arr.shape[1] == 0:
        raise ValueError(f"{name} has no feature columns (shape {arr.shape}); pass at least one feature per row.")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"{name} must have {n_features} columns (features); got {arr.shape[1]}.")
    arr = arr.astype(np.float64) if not np.issubdtype(arr.dtype, np.floating) else arr
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s); drop or impute them before building the model."
        )
    return np.asarray(arr, dtype=np.float64)


def check_labels(y, *, n_rows: int, n_classes: int, name: str = "y") -> np.ndarray:
    """Return ``y`` as int64 class labels in ``0 .. n_classes - 1``, one per row of X."""
    arr = np.asarray(unmasked(y, name=name))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels; got shape {arr.shape}.")
    if len(arr) != n_rows:
        raise ValueError(f"{name} has {len(arr)} labels but X has {n_rows} rows; they must match.")
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must hold integer class labels; got dtype {arr.dtype}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values; labels must be integers 0..{n_classes - 1}.")
    if np.any(arr != np.round(arr)):
        raise ValueError(f"{name} must hold whole-number class labels; got non-integer values.")
    labels = arr.astype(np.int64)
    bad = np.setdiff1d(np.unique(labels), np.arange(n_classes))
    if bad.size:
        allowed = "{" + ", ".join(map(str, range(n_classes))) + "}" if n_classes <= 10 else f"0..{n_classes - 1}"
        raise ValueError(f"{name} must hold labels in {allowed}; found {bad[:10].tolist()}.")
    return labels


def check_hidden(hidden, *, name: str = "hidden") -> tuple[int, ...]:
    """Return hidden-layer widths as a tuple of positive ints."""
    try:
        widths = tuple(int(h) for h in hidden)
    except TypeError as err:
        raise ValueError(f"{name} must be a sequence of layer widths such as (5, 5); got {hidden!r}.") from err
    if not widths or any(w <= 0 for w in widths) or any(w != h for w, h in zip(widths, hidden, strict=True)):
        raise ValueError(f"{name} must be a non-empty sequence of positive integers; got {hidden!r}.")
    return widths


def check_positive(value, *, name: str) -> float:
    """Return ``value`` as a finite float > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a positive number; got {value!r}.") from err
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number; got {value!r}.")
    return v


def check_batch_size(batch_size, *, n_rows: int) -> int | None:
    """Return ``batch_size`` as an int in ``1 .. n_rows``, or None for full-batch."""
    if batch_size is None:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ValueError(f"batch_size must be a positive integer or None; got {batch_size!r}.")
    if not 1 <= batch_size <= n_rows:
        raise ValueError(
            f"batch_size must be between 1 and the number of data points ({n_rows}); got {batch_size}. "
            "Use batch_size=None to fit on the full data."
        )
    return int(batch_size)


def check_positive_int(value, *, name: str, allow_zero: bool = False) -> int:
    """Return ``value`` as an int > 0 (>= 0 with ``allow_zero``); bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (0 if allow_zero else 1):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a {kind} integer; got {value!r}.")
    return int(value)


def check_seed(value, *, name: str = "random_seed") -> int:
    """Return a random seed as an int in ``0 .. 2**32 - 1`` (what NumPy, scikit-learn and JAX
    all take); bools, floats, strings and negative numbers are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < 2**32:
        raise ValueError(f"{name} must be an integer between 0 and 2**32 - 1; got {value!r}.")
    return int(value)


def check_choice(value, *, name: str, allowed) -> str:
    """Return ``value`` if it is one of ``allowed`` (a closed vocabulary of names)."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}; got {value!r}.")
    return value


def check_open_unit(value, *, name: str) -> float:
    """Return ``value`` as a float strictly between 0 and 1 (a probability such as target_accept)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number strictly between 0 and 1; got {value!r}.")
    return float(value)


def check_nonnegative(value, *, name: str) -> float:
    """Return ``value`` as a finite float >= 0."""
    try:
        v = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}.") from err
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}.")
    return v


def check_file_path(path, *, name: str = "path") -> Path:
    """Return ``path`` as a Path to a file (existing or not): None, a number or a folder is refused."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ValueError(f"{name} must be a file path such as 'out/fit.nc'; got {path!r}.")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"{name} {str(path)!r} is a folder; give a file in it, such as {str(path / 'fit.nc')!r}."
        )
    return path


def check_flag(value, *, name: str) -> bool:
    """Return ``value`` as a bool; only True / False (or NumPy bools) are taken, so a string
    such as ``"no"`` is refused instead of read as True."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}.")
    return bool(value)


def check_dtype(dtype) -> str:
    """Return the compute precision name, ``"float32"`` or ``"float64"``."""
    return check_choice(dtype, name="dtype", allowed=("float32", "float64"))


def check_n_classes(n_classes, y) -> int:
    """The number of classes of a categorical network: ``n_classes`` if given (an int >= 2),
    else one more than the largest label of ``y``."""
    if n_classes is not None:
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2; got {n_classes!r}.")
        return int(n_classes)
    if y is None:
        raise ValueError(
            "n_classes is needed to build a prediction model (y=None); pass the number of classes the "
            "network was fitted on (predict() passes it from the result's settings)."
        )
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
        return 2  # check_labels names what is wrong with y
    top = int(np.max(arr))
    if top < 1:
        raise ValueError(
            f"y holds a single class ({top}); a classifier needs at least two (or pass n_classes= explicitly)."
        )
    return top + 1


def check_targets(y, *, n_rows: int, name: str = "y") -> np.ndarray:
    """Return regression targets as a finite float64 vector with one value per row of X."""
    arr = np.asarray(unmasked(y, name=name))
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of real targets; got shape {arr.shape}.")
    if len(arr) != n_rows:
        raise ValueError(f"{name} has {len(arr)} values but X has {n_rows} rows; they must match.")
    if not (np.issubdtype(arr.dtype, np.number) and not np.issubdtype(arr.dtype, np.complexfloating)):
        raise ValueError(f"{name} must hold real numbers; got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values; drop them before building the model.")
    return arr
