"""IDX image sets (MNIST, Fashion-MNIST, KMNIST, or any folder of IDX files).

The IDX format (LeCun's MNIST format) is a 4-byte magic number ``00 00 <dtype code> <ndim>``,
``ndim`` big-endian uint32 dimensions, then the data in row-major order, big-endian. This
module reads it strictly (:func:`read_idx`), finds verified local copies of the registered data
sets, downloads missing ones into a cache (:func:`fetch_file`), and loads image/label pairs
as arrays ready for a model (:func:`load_idx_dataset`, :func:`load_mnist`).

Where files are looked for, in order (:func:`resolve_data_dir`):

1. the ``data_dir`` argument,
2. the folders in the environment variable ``BNNGALLERY_DATA_DIR`` (``os.pathsep``-separated),
3. the download cache: ``$BNNGALLERY_CACHE_DIR``, else ``$XDG_CACHE_HOME/bnngallery``, else
   ``~/.cache/bnngallery``.

Each data folder holds one subfolder per data set named as in the manifest, for example
``<data dir>/mnist/t10k-images-idx3-ubyte.gz``. The decompressed file (same name without
``.gz``) is accepted too where the manifest knows its checksum. Every local copy is checked
against the manifest's checksum (sha256, or md5 where no sha256 is published) before it is
used; a copy that does not match raises :class:`ChecksumError` instead of being read.

Downloads use :mod:`urllib` only, with timeouts. They stream into a temporary file in the
cache folder, are verified, and only then renamed into place with :func:`os.replace`, so a
failed, partial or corrupt download never appears under the final name. A lock file
(``fcntl.flock``) serialises processes that fill the same cache entry at once: the second one
waits and then finds the verified file.

The registry of data sets, file names, checksums and mirror URLs is ``manifest.json`` next to
this module (:func:`load_manifest`).

Why one module of about 800 lines: reading, finding, verifying and downloading a file are one
path with one set of invariants (no unverified byte is ever read, no partial file ever appears
under its final name, one lock per cache entry), and the loaders are thin ends of that path.
Split, each part would need the others' private checks.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import logging
import os
import struct
import tempfile
import time
import urllib.request
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..files import umask_mode
from ..validation import check_choice, check_positive_int

try:  # POSIX only; elsewhere concurrent cache fills are not serialised
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "ChecksumError",
    "DataUnavailableError",
    "IDXFormatError",
    "cache_dir",
    "dataset_names",
    "fetch_file",
    "load_idx_dataset",
    "load_manifest",
    "load_mnist",
    "read_idx",
    "resolve_data_dir",
]

log = logging.getLogger(__name__)

DATA_DIR_ENV = "BNNGALLERY_DATA_DIR"
CACHE_DIR_ENV = "BNNGALLERY_CACHE_DIR"
MANIFEST_PATH = Path(__file__).with_name("manifest.json")

#: Seconds allowed for connecting to a mirror and for each read from it.
DEFAULT_TIMEOUT = 30.0
#: Seconds a process waits for another one that holds the lock on the same cache entry.
LOCK_TIMEOUT = 1800.0
_CHUNK = 1 << 20
_USER_AGENT = "bnngallery-data/0.1 (+urllib)"

# IDX type code -> (big-endian numpy dtype, name used in messages)
_IDX_DTYPES: dict[int, tuple[str, str]] = {
    0x08: (">u1", "unsigned byte"),
    0x09: (">i1", "signed byte"),
    0x0B: (">i2", "short (int16)"),
    0x0C: (">i4", "int (int32)"),
    0x0D: (">f4", "float (float32)"),
    0x0E: (">f8", "double (float64)"),
}
_SPLIT_PREFIX = {"train": "train", "test": "t10k"}


class IDXFormatError(ValueError):
    """A file is not a valid IDX file (bad magic, unknown type, wrong length, broken gzip)."""


class ChecksumError(ValueError):
    """A data file's checksum does not match the manifest, so it was not used."""


class DataUnavailableError(RuntimeError):
    """Data files are neither available locally nor could they be downloaded."""


# --------------------------------------------------------------------------------------------
# Reading IDX files
# --------------------------------------------------------------------------------------------


def _format_error(path: Path, expected: str, found: str) -> IDXFormatError:
    return IDXFormatError(
        f"{path}: not a valid IDX file: expected {expected}, found {found}. "
        f"The file is corrupt, truncated or not IDX data; delete it and download it again "
        f"(or replace it with a good copy)."
    )


def _read_exact(stream: Any, n: int) -> bytes:
    """Read up to ``n`` bytes, looping over short reads; fewer only at end of stream."""
    parts = []
    remaining = n
    while remaining > 0:
        block = stream.read(min(remaining, _CHUNK))
        if not block:
            break
        parts.append(block)
        remaining -= len(block)
    return b"".join(parts)


def _read_payload(stream: Any, n: int) -> bytearray:
    """Read up to ``n`` bytes into a bytearray in chunks (never allocates ``n`` up front)."""
    buf = bytearray()
    while len(buf) < n:
        block = stream.read(min(n - len(buf), _CHUNK))
        if not block:
            break
        buf += block
    return buf


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a numpy array.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Gzip compression is detected from the content (magic ``1f 8b``), not the
        name, so ``foo-idx3-ubyte.gz`` and ``foo-idx3-ubyte`` both work.

    Returns
    -------
    numpy.ndarray
        Array with the file's shape and element type in native byte order (``uint8`` for
        MNIST-style ``ubyte`` files). The array is writable and owns its data.

    Raises
    ------
    IDXFormatError
        If the magic bytes are wrong, the type code is unknown, the number of dimensions is
        zero, the data are shorter or longer than the dimensions say, or the gzip stream is
        corrupt or truncated. The message names the file, what was expected and what was
        found, and suggests deleting and re-downloading the file.
    FileNotFoundError
        If ``path`` does not exist.
    """
    path = Path(path)
    with open(path, "rb") as raw:
        head = raw.read(2)
        raw.seek(0)
        if head == b"\x1f\x8b":
            try:
                with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                    return _parse_idx(gz, path, compressed_size=None)
            except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
                raise _format_error(
                    path, "a complete, valid gzip stream", f"a broken one ({type(exc).__name__}: {exc})"
                ) from exc
        size = os.fstat(raw.fileno()).st_size
        return _parse_idx(raw, path, compressed_size=size)


def _parse_idx(stream: Any, path: Path, compressed_size: int | None) -> np.ndarray:
    magic = _read_exact(stream, 4)
    if len(magic) < 4:
        raise _format_error(path, "a 4-byte IDX magic number", f"only {len(magic)} byte(s) in total")
    if magic[0] != 0 or magic[1] != 0:
        raise _format_error(path, "magic bytes 00 00 <type> <ndim>", f"{magic.hex(' ')} (first two bytes not zero)")
    code, ndim = magic[2], magic[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} ({n})" for c, (_, n) in _IDX_DTYPES.items())
        raise _format_error(path, f"a data type code among {known}", f"0x{code:02X}")
    if ndim == 0:
        raise _format_error(path, "at least one dimension", "ndim = 0")
    dims_raw = _read_exact(stream, 4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise _format_error(
            path, f"{ndim} dimension sizes ({4 * ndim} bytes) after the magic", f"only {len(dims_raw)} bytes"
        )
    dims = struct.unpack(f">{ndim}I", dims_raw)
    be_dtype, _ = _IDX_DTYPES[code]
    itemsize = np.dtype(be_dtype).itemsize
    count = 1
    for d in dims:
        count *= d
    nbytes = count * itemsize
    shape_txt = " x ".join(str(d) for d in dims)
    header = 4 + 4 * ndim
    if compressed_size is not None:  # raw file: compare sizes before reading anything big
        have = compressed_size - header
        if have != nbytes:
            what = "truncated" if have < nbytes else "trailing bytes"
            raise _format_error(path, f"{nbytes} data bytes for shape {shape_txt}", f"{have} ({what})")
    payload = _read_payload(stream, nbytes)
    if len(payload) < nbytes:
        raise _format_error(path, f"{nbytes} data bytes for shape {shape_txt}", f"only {len(payload)} (truncated)")
    extra = stream.read(1)
    if extra:
        raise _format_error(path, f"the file to end after {nbytes} data bytes for shape {shape_txt}", "trailing bytes")
    arr = np.frombuffer(payload, dtype=be_dtype, count=count).reshape(dims)
    if itemsize > 1:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


# --------------------------------------------------------------------------------------------
# Manifest and folders
# --------------------------------------------------------------------------------------------


def load_manifest() -> dict[str, Any]:
    """Return the registry of data sets shipped as ``manifest.json`` next to this module.

    Returns
    -------
    dict
        ``{"datasets": {name: {"splits": {split: {"images": filename, "labels": filename}},
        "files": [{"filename", "sha256" and/or "md5", "urls", optional "size", optional
        "raw": {checksums of the decompressed file}}]}}}``.
    """
    with open(MANIFEST_PATH, encoding="utf-8") as f:
        return json.load(f)


def dataset_names(manifest: Mapping[str, Any] | None = None) -> list[str]:
    """Names of the registered data sets (``mnist``, ``fashion-mnist``, ``kmnist``).

    Parameters
    ----------
    manifest : mapping, optional
        Registry to use instead of :func:`load_manifest`.

    Returns
    -------
    list of str
        Sorted names.
    """
    manifest = load_manifest() if manifest is None else manifest
    return sorted(manifest["datasets"])


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


def _dataset_entry(dataset: str, manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    try:
        return manifest["datasets"][dataset]
    except KeyError:
        known = ", ".join(sorted(manifest["datasets"]))
        raise ValueError(f"unknown data set {dataset!r}; known data sets: {known}") from None


def _file_entry(dataset: str, filename: str, manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    ds = _dataset_entry(dataset, manifest)
    for entry in ds["files"]:
        if entry["filename"] == filename:
            if not (entry.get("sha256") or entry.get("md5")):
                raise ValueError(f"manifest entry {dataset}/{filename} has no sha256 or md5 checksum")
            return entry
    known = ", ".join(e["filename"] for e in ds["files"])
    raise ValueError(f"data set {dataset!r} has no file {filename!r}; its files: {known}")


# --------------------------------------------------------------------------------------------
# Checksums
# --------------------------------------------------------------------------------------------


def _hasher(checks: Mapping[str, Any]) -> tuple[str, str, Any]:
    """(algorithm, expected hex digest, hash object), preferring sha256 over md5."""
    if checks.get("sha256"):
        return "sha256", checks["sha256"].lower(), hashlib.sha256()
    if checks.get("md5"):
        return "md5", checks["md5"].lower(), hashlib.md5(usedforsecurity=False)
    raise ValueError("no sha256 or md5 checksum")


_verified: dict[tuple[str, int, int, int, str], bool] = {}


def _verify_key(path: Path, expected: str) -> tuple[str, int, int, int, str]:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino, expected)


def _remember_verified(path: Path, checks: Mapping[str, Any]) -> None:
    _verified[_verify_key(path, _hasher(checks)[1])] = True


def _file_matches(path: Path, checks: Mapping[str, Any]) -> tuple[bool, str, str, str]:
    """Whether ``path`` matches ``checks``: (ok, algorithm, expected, actual).

    A match is remembered for the same (path, size, mtime, inode), so loading the same file
    again in one process does not hash it again.
    """
    algo, expected, h = _hasher(checks)
    key = _verify_key(path, expected)
    if _verified.get(key):
        return True, algo, expected, expected
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    actual = h.hexdigest()
    ok = actual == expected
    if ok:
        _verified[key] = True
    return ok, algo, expected, actual


def _find_local(dataset: str, entry: Mapping[str, Any], dirs: Sequence[Path]) -> Path | None:
    """First copy of ``entry`` under ``<dir>/<dataset>/``, verified; None if there is none.

    Raises ChecksumError for a copy that exists but does not match.
    """
    filename = entry["filename"]
    candidates: list[tuple[str, Mapping[str, Any]]] = [(filename, entry)]
    raw = entry.get("raw") or {}
    if filename.endswith(".gz") and (raw.get("sha256") or raw.get("md5")):
        candidates.append((filename[: -len(".gz")], raw))
    for d in dirs:
        for name, checks in candidates:
            p = d / dataset / name
            if not p.is_file():
                continue
            ok, algo, expected, actual = _file_matches(p, checks)
            if ok:
                return p
            size = p.stat().st_size
            want_size = entry.get("size") if name == filename else None
            size_txt = f" ({size} bytes" + (f", expected {want_size})" if want_size else ")")
            urls = "\n  ".join(entry.get("urls", []))
            raise ChecksumError(
                f"{p}{size_txt} does not match the manifest: {algo} expected {expected}, "
                f"found {actual}. The file is corrupt, truncated or a different file, so it was "
                f"not used. Delete it (rm '{p}') and run again to download a fresh copy, or "
                f"replace it with a good copy" + (f" from one of:\n  {urls}" if urls else ".")
            )
    return None


# --------------------------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------------------------


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
        Extra folder(s) to search first (see :func:`resolve_data_dir`).
    download : bool
        Download into the cache when no local copy exists. With ``False`` a missing file
        raises :class:`DataUnavailableError`.
    manifest : mapping, optional
        Registry to use instead of :func:`load_manifest`.
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


# --------------------------------------------------------------------------------------------
# Loading image/label pairs
# --------------------------------------------------------------------------------------------


def _check_split(split: str) -> str:
    return check_choice(split, name="split", allowed=sorted(_SPLIT_PREFIX))


def _files_in_folder(folder: Path, split: str) -> tuple[Path, Path]:
    prefix = _SPLIT_PREFIX[split]
    found = []
    wanted = []
    for kind, nd in (("images", 3), ("labels", 1)):
        names = [
            f"{prefix}-{kind}-idx{nd}-ubyte.gz",
            f"{prefix}-{kind}-idx{nd}-ubyte",
            f"{prefix}-{kind}.idx{nd}-ubyte.gz",
            f"{prefix}-{kind}.idx{nd}-ubyte",
        ]
        wanted.append(names[0])
        hit = next((folder / n for n in names if (folder / n).is_file()), None)
        found.append(hit)
    if not folder.is_dir() or None in found:
        missing = [w for w, f in zip(wanted, found, strict=False) if f is None]
        raise DataUnavailableError(
            f"folder {folder} should hold the {split} split as IDX files, but "
            + ("the folder does not exist" if not folder.is_dir() else "these are missing")
            + f": {', '.join(missing)} (the names without .gz are accepted too). "
            f"Put the files into {folder}/ or pass another folder."
        )
    return found[0], found[1]  # type: ignore[return-value]


def load_idx_dataset(
    name_or_path: str | os.PathLike[str],
    split: str = "test",
    *,
    data_dir: DataDirArg = None,
    limit: int | None = None,
    flatten: bool = True,
    dtype: Any = np.float32,
    download: bool = True,
    manifest: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load images and labels of an IDX image set by registered name or folder path.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A registered name (``"mnist"``, ``"fashion-mnist"``, ``"kmnist"``), or a folder with
        ``train-images-idx3-ubyte[.gz]`` / ``train-labels-idx1-ubyte[.gz]`` (split ``"train"``)
        or ``t10k-images-idx3-ubyte[.gz]`` / ``t10k-labels-idx1-ubyte[.gz]`` (split ``"test"``).
        A :class:`os.PathLike` is always taken as a path; a string is a name if registered.
        Files found by path are format-checked but not checksum-verified.
    split : {"train", "test"}
        Which split.
    data_dir : str, os.PathLike, sequence of them, or None
        Extra folder(s) searched first for registered sets (see :func:`resolve_data_dir`).
    limit : int, optional
        Keep only the first ``limit`` examples.
    flatten : bool
        Return images as ``(n, rows * cols)`` instead of ``(n, rows, cols)``.
    dtype : numpy floating dtype
        Image dtype; pixels are scaled from 0..255 to [0, 1].
    download : bool
        Download missing registered files into the cache.
    manifest : mapping, optional
        Registry to use instead of :func:`load_manifest`.

    Returns
    -------
    images : numpy.ndarray
        ``(n, rows * cols)`` or ``(n, rows, cols)``, ``dtype``, values in [0, 1].
    labels : numpy.ndarray
        ``(n,)`` int64.

    Raises
    ------
    ValueError
        For an unknown name, a bad split, limit or dtype.
    IDXFormatError
        If a file is not valid IDX, images are not 3-D uint8, labels not 1-D integers, or the
        image and label counts differ.
    ChecksumError, DataUnavailableError
        As for :func:`fetch_file`.
    """
    split = _check_split(split)
    if limit is not None:
        limit = check_positive_int(limit, name="limit", allow_zero=True)
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"dtype must be a floating type, got {dtype}")
    manifest = load_manifest() if manifest is None else manifest

    if isinstance(name_or_path, str) and name_or_path in manifest["datasets"]:
        name = name_or_path
        sp = manifest["datasets"][name]["splits"][split]
        entries = [_file_entry(name, sp["images"], manifest), _file_entry(name, sp["labels"], manifest)]
        dirs = resolve_data_dir(data_dir)
        paths = [_find_local(name, e, dirs) for e in entries]
        missing = [e for e, p in zip(entries, paths, strict=False) if p is None]
        tried: list[str] = []
        if missing and download:
            for i, (e, p) in enumerate(zip(entries, paths, strict=False)):
                if p is None:
                    got, t = _download(name, e, DEFAULT_TIMEOUT)
                    paths[i] = got
                    tried += t
            missing = [e for e, p in zip(entries, paths, strict=False) if p is None]
        if missing:
            raise _unavailable(name, missing, dirs, tried, download)
        img_path, lab_path = paths
    else:
        folder = Path(name_or_path).expanduser()
        looks_like_path = (
            not isinstance(name_or_path, str)
            or os.sep in name_or_path
            or folder.exists()
            or (os.altsep is not None and os.altsep in name_or_path)
        )
        if not looks_like_path:
            known = ", ".join(sorted(manifest["datasets"]))
            raise ValueError(
                f"unknown data set {name_or_path!r}: known names are {known}; a folder path "
                f"holding IDX files (e.g. t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) "
                f"works too"
            )
        img_path, lab_path = _files_in_folder(folder, split)

    images = read_idx(img_path)
    labels = read_idx(lab_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise IDXFormatError(
            f"{img_path}: expected images as a 3-D unsigned-byte IDX array (n, rows, cols), found "
            f"{images.ndim}-D {images.dtype}; is this a labels file or another format?"
        )
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise IDXFormatError(
            f"{lab_path}: expected labels as a 1-D integer IDX array, found {labels.ndim}-D {labels.dtype}"
        )
    if images.shape[0] != labels.shape[0]:
        raise IDXFormatError(
            f"{images.shape[0]} images in {img_path} but {labels.shape[0]} labels in {lab_path}; "
            f"the two files do not belong together (delete and re-download them)"
        )
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    out = np.divide(images, dtype.type(255), dtype=dtype)
    if flatten:
        out = out.reshape(out.shape[0], -1)
    return out, labels.astype(np.int64)


def load_mnist(
    split: str = "train",
    *,
    data_dir: DataDirArg = None,
    limit: int | None = None,
    flatten: bool = True,
    dtype: Any = np.float32,
    download: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST images scaled to [0, 1] and their labels.

    Parameters
    ----------
    split : {"train", "test"}
        ``"train"`` (60,000 examples) or ``"test"`` (10,000).
    data_dir : str, os.PathLike, sequence of them, or None
        Extra folder(s) searched first; each holds a ``mnist/`` subfolder.
    limit : int, optional
        Keep only the first ``limit`` examples.
    flatten : bool
        Images as ``(n, 784)`` if True, else ``(n, 28, 28)``.
    dtype : numpy floating dtype
        Image dtype, float32 by default.
    download : bool
        Download missing files into the cache (see :func:`fetch_file`).

    Returns
    -------
    images : numpy.ndarray
        ``(n, 784)`` or ``(n, 28, 28)`` in [0, 1].
    labels : numpy.ndarray
        ``(n,)`` int64 in 0..9.

    See Also
    --------
    load_idx_dataset : the same for any registered name or folder.
    """
    return load_idx_dataset(
        "mnist", split, data_dir=data_dir, limit=limit, flatten=flatten, dtype=dtype, download=download
    )
