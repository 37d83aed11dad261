"""Writing files safely: atomic replacement, and JSON that any reader accepts.

Every file the package writes (results, figures, ``metrics.json``, comparison tables) goes
through :func:`atomic_write`, so a failed or interrupted write leaves the previous file
intact, never half of a new one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np


def umask_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file: ``0o666`` less the umask.
    (``tempfile.mkstemp`` creates its files 0600 whatever the umask, so every file written
    through a temporary file is given this mode before it takes its final name.)"""
    try:  # Linux reports it without changing it
        with open("/proc/self/status") as fh:
            mask = next(int(line.split()[1], 8) for line in fh if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0o022)  # elsewhere, reading the umask means setting it; restored at once
        os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> Path:
    """Call ``write(tmp_path)`` then rename onto ``path``: a failed write leaves the old file.
    The file gets the mode the umask gives new files (:func:`umask_mode`)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as err:
        raise _naming(err, path) from err
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise _naming(err, path) from err
        raise
    return path


def _naming(err: OSError, path: Path) -> OSError:
    """``err`` again, of the same errno, with a message that names ``path`` and the fix."""
    hint = {
        28: "free some space or write to another folder",
        13: "write to a folder you may write to",
        30: "write to a writable folder",
    }.get(err.errno or 0, "check the folder")
    return type(err)(err.errno, f"could not write {path}: {err.strerror or err}; {hint} (nothing was written)")


def jsonable(obj):
    """``obj`` with numpy scalars and arrays, tuples and sets made JSON types, non-finite
    floats made ``None`` (JSON has no NaN), dict keys made strings and anything else its ``str``."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, np.ndarray)):
        return [jsonable(v) for v in (obj.tolist() if isinstance(obj, np.ndarray) else obj)]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)


def write_json(obj, path: str | os.PathLike) -> Path:
    """Write ``jsonable(obj)`` as indented JSON, atomically."""

    def write(tmp):
        with open(tmp, "w") as fh:
            json.dump(jsonable(obj), fh, indent=2)
            fh.write("\n")

    return atomic_write(path, write)


def write_bytes(data, path: str | os.PathLike) -> Path:
    """Write ``data`` (bytes or a buffer) atomically; a full disk or a missing permission ends
    in an ``OSError`` that names ``path``, with no partial file left."""

    def write(tmp):
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    return atomic_write(path, write)


def write_text(text: str, path: str | os.PathLike) -> Path:
    """Write ``text`` atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))
