"""Where the data files live: the data folders, the download cache and its lock.

Folders are looked for in this order (:func:`resolve_data_dir`):

1. the ``data_dir`` argument,
2. the folders in the environment variable ``BNNGALLERY_DATA_DIR`` (``os.pathsep``-separated),
3. the download cache (:func:`cache_dir`): ``$BNNGALLERY_CACHE_DIR``, else
   ``$XDG_CACHE_HOME/bnngallery``, else ``~/.cache/bnngallery``.

Each data folder holds one subfolder per data set named as in the manifest, for example
``<data dir>/mnist/t10k-images-idx3-ubyte.gz``. A lock file (``fcntl.flock``, :func:`_locked`)
serialises processes that fill the same cache entry at once: the second one waits and then
finds the verified file.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

try:  # POSIX only; elsewhere concurrent cache fills are not serialised
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["DataUnavailableError", "cache_dir", "resolve_data_dir"]

DATA_DIR_ENV = "BNNGALLERY_DATA_DIR"
CACHE_DIR_ENV = "BNNGALLERY_CACHE_DIR"

#: Seconds a process waits for another one that holds the lock on the same cache entry.
LOCK_TIMEOUT = 1800.0
#: Bytes per read when parsing, hashing or downloading a data file.
_CHUNK = 1 << 20


class DataUnavailableError(RuntimeError):
    """Data files are neither available locally nor could they be downloaded."""


def cache_dir() -> Path:
    """The download cache folder.

    Returns
    -------
    pathlib.Path
        ``$BNNGALLERY_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/bnngallery``, else
        ``~/.cache/bnngallery``. It is not created here.
    """
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "bnngallery"


DataDirArg = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None


def resolve_data_dir(data_dir: DataDirArg = None) -> list[Path]:
    """The folders searched for data, in order of precedence.

    Parameters
    ----------
    data_dir : str, os.PathLike, sequence of them, or None
        Folder(s) given by the caller; searched first.

    Returns
    -------
    list of pathlib.Path
        ``data_dir``, then each folder in ``$BNNGALLERY_DATA_DIR`` (``os.pathsep``-separated),
        then :func:`cache_dir` (always last, also where downloads go). Duplicates are dropped;
        folders need not exist. Each folder holds one subfolder per data set.
    """
    dirs: list[Path] = []
    if data_dir is not None:
        if isinstance(data_dir, (str, os.PathLike)):
            dirs.append(Path(data_dir))
        else:
            dirs.extend(Path(d) for d in data_dir)
    env = os.environ.get(DATA_DIR_ENV, "")
    dirs.extend(Path(p) for p in env.split(os.pathsep) if p.strip())
    dirs.append(cache_dir())
    out: list[Path] = []
    seen: set[str] = set()
    for d in dirs:
        d = d.expanduser()
        key = os.path.normpath(os.path.abspath(d))
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


@contextlib.contextmanager
def _locked(lock_path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created if needed)."""
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise DataUnavailableError(
            f"cannot create the lock file {lock_path} in the download cache ({exc}); set "
            f"{CACHE_DIR_ENV} to a writable folder, or put the data files into a folder named "
            f"in {DATA_DIR_ENV}"
        ) from exc
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DataUnavailableError(
                        f"gave up after {timeout:.0f} s waiting for the lock {lock_path}, held by "
                        f"another process filling the same cache entry. If no such process is "
                        f"running, delete the lock file and retry."
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
