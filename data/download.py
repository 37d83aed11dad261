"""Downloading registered data files into the cache (:func:`fetch_file`).

Downloads use :mod:`urllib` only, with timeouts. They stream into a temporary file in the
cache folder, are verified, and only then renamed into place with :func:`os.replace`, so a
failed, partial or corrupt download never appears under the final name. The cache entry's lock
(:func:`~bnngallery.data.cache._locked`) is held meanwhile, so two processes never fill the same
entry at once.
"""

from __future__ import annotations

import logging
import os
import tempfile
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..files import umask_mode
from .cache import (
    _CHUNK,
    CACHE_DIR_ENV,
    DATA_DIR_ENV,
    DataDirArg,
    DataUnavailableError,
    _locked,
    cache_dir,
    resolve_data_dir,
)
from .manifest import ChecksumError, _file_entry, _find_local, _hasher, _remember_verified, load_manifest

__all__ = ["fetch_file"]

log = logging.getLogger(__name__)

#: Seconds allowed for connecting to a mirror and for each read from it.
DEFAULT_TIMEOUT = 30.0
_USER_AGENT = "bnngallery-data/0.1 (+urllib)"


def _download_one(url: str, dest_dir: Path, entry: Mapping[str, Any], timeout: float) -> Path:
    """Stream ``url`` into a temp file in ``dest_dir`` and verify it; return the temp path.

    On any failure the temp file is removed and the exception propagates.
    """
    algo, expected, h = _hasher(entry)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{entry['filename']}.", suffix=".part", dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                length = resp.headers.get("Content-Length")
                received = 0
                while True:
                    block = resp.read(_CHUNK)
                    if not block:
                        break
                    out.write(block)
                    h.update(block)
                    received += len(block)
            if length is not None and length.isdigit() and received != int(length):
                raise OSError(f"incomplete download: got {received} of {length} bytes")
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, umask_mode())  # mkstemp made it 0600; a shared cache must be readable
        actual = h.hexdigest()
        if actual != expected:
            raise ChecksumError(f"downloaded {received} bytes but {algo} is {actual}, expected {expected}")
        return tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _download(dataset: str, entry: Mapping[str, Any], timeout: float) -> tuple[Path | None, list[str]]:
    """Fill the cache entry for ``entry``; return (path or None, one line per URL tried)."""
    folder = cache_dir() / dataset
    final = folder / entry["filename"]
    tried: list[str] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        tried.append(
            f"(no download: cannot create the cache folder {folder}: {exc}; set {CACHE_DIR_ENV} to a writable folder)"
        )
        return None, tried
    with _locked(folder / f".{entry['filename']}.lock"):
        # Under the lock, a temporary file of this entry can only be left by a download that
        # was killed (one in progress would hold the lock): remove it.
        for stale in folder.glob(f".{entry['filename']}.*.part"):
            stale.unlink(missing_ok=True)
        # Another process may have filled it while we waited for the lock.
        if final.is_file():
            found = _find_local(dataset, entry, [cache_dir()])
            if found is not None:
                return found, tried
        for url in entry.get("urls", []):
            log.info("downloading %s to %s", url, final)
            try:
                tmp = _download_one(url, folder, entry, timeout)
            except Exception as exc:
                # URLError/HTTPError/timeouts (OSError), http.client.HTTPException for broken
                # responses, ChecksumError: this mirror failed, try the next one.
                tried.append(f"{url} ({type(exc).__name__}: {exc})")
                continue
            os.replace(tmp, final)
            _remember_verified(final, entry)  # it was hashed while streaming
            return final, tried
    return None, tried


def _unavailable(
    dataset: str,
    missing: Sequence[Mapping[str, Any]],
    dirs: Sequence[Path],
    tried: Sequence[str],
    download: bool,
) -> DataUnavailableError:
    target = dirs[0] / dataset
    names = "\n  ".join(e["filename"] for e in missing)
    looked = "\n  ".join(str(d / dataset) for d in dirs)
    lines = [
        f"data set {dataset!r}: missing file(s), not found locally"
        + (" and downloads are disabled (download=False):" if not download else " and could not be downloaded:"),
        f"  {names}",
        "Looked in:",
        f"  {looked}",
    ]
    if download:
        lines += ["URLs tried:", "  " + ("\n  ".join(tried) if tried else "(none listed in the manifest)")]
    else:
        urls = [u for e in missing for u in e.get("urls", [])]
        lines += ["They can be downloaded from:", "  " + "\n  ".join(urls)]
    for d in dirs:
        direct = [e["filename"] for e in missing if (d / e["filename"]).is_file()]
        if direct:
            lines.append(
                f"Note: {', '.join(direct)} found directly in {d}, but a data folder holds one "
                f"subfolder per data set: "
                + (
                    f"pass its parent {d.parent} instead."
                    if d.name == dataset
                    else f"move the files into {d / dataset}/."
                )
            )
    lines.append(
        f"Fix: put the file(s) into the folder {target}/ (or any folder looked in above), or "
        f"into <DIR>/{dataset}/ for a folder DIR that you pass as data_dir= or set in the "
        f"environment variable {DATA_DIR_ENV}"
        + (
            ", or connect to the internet and retry with download=True."
            if not download
            else ", or retry when the mirrors are reachable."
        )
    )
    return DataUnavailableError("\n".join(lines))


def fetch_file(
    dataset: str,
    filename: str,
    *,
    data_dir: DataDirArg = None,
    download: bool = True,
    manifest: Mapping[str, Any] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """Path to a verified copy of one registered data file, downloading it if needed.

    Parameters
    ----------
    dataset : str
        Registered data set name, e.g. ``"mnist"``.
    filename : str
        File name as in the manifest, e.g. ``"t10k-images-idx3-ubyte.gz"``.
    data_dir : str, os.PathLike, sequence of them, or None
        Extra folder(s) to search first (see :func:`~bnngallery.data.cache.resolve_data_dir`).
    download : bool
        Download into the cache when no local copy exists. With ``False`` a missing file
        raises :class:`DataUnavailableError`.
    manifest : mapping, optional
        Registry to use instead of :func:`~bnngallery.data.manifest.load_manifest`.
    timeout : float
        Seconds for connecting to a mirror and for each read.

    Returns
    -------
    pathlib.Path
        A local file whose checksum matches the manifest: ``<dir>/<dataset>/<filename>`` (or
        its decompressed twin where the manifest has its checksum).

    Raises
    ------
    ChecksumError
        If a local copy exists but does not match; it is not used.
    DataUnavailableError
        If there is no local copy and it cannot be downloaded; the message lists the folders
        searched, where to put the file, the ``BNNGALLERY_DATA_DIR`` variable, and the URLs
        tried with their errors.
    ValueError
        If the data set or file is not in the manifest.
    """
    manifest = load_manifest() if manifest is None else manifest
    entry = _file_entry(dataset, filename, manifest)
    dirs = resolve_data_dir(data_dir)
    found = _find_local(dataset, entry, dirs)
    if found is not None:
        return found
    tried: list[str] = []
    if download:
        found, tried = _download(dataset, entry, timeout)
        if found is not None:
            return found
    raise _unavailable(dataset, [entry], dirs, tried, download)
