"""IDX image sets (MNIST, Fashion-MNIST, KMNIST, or any folder of IDX files).

The IDX format (LeCun's MNIST format) is a 4-byte magic number ``00 00 <dtype code> <ndim>``,
``ndim`` big-endian uint32 dimensions, then the data in row-major order, big-endian. This
module reads it strictly (:func:`read_idx`) and loads image/label pairs as arrays ready for a
model (:func:`load_idx_dataset`, :func:`load_mnist`). Registered sets are looked for in the
folders of :mod:`bnngallery.data.cache`, verified against :mod:`bnngallery.data.manifest`, and
downloaded by :mod:`bnngallery.data.download` when missing.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..validation import check_choice, check_positive_int
from .cache import _CHUNK, DataDirArg, DataUnavailableError, resolve_data_dir
from .download import DEFAULT_TIMEOUT, _download, _unavailable
from .manifest import _file_entry, _find_local, load_manifest

__all__ = ["IDXFormatError", "load_idx_dataset", "load_mnist", "read_idx"]

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
        Extra folder(s) searched first for registered sets (see :func:`~bnngallery.data.cache.resolve_data_dir`).
    limit : int, optional
        Keep only the first ``limit`` examples.
    flatten : bool
        Return images as ``(n, rows * cols)`` instead of ``(n, rows, cols)``.
    dtype : numpy floating dtype
        Image dtype; pixels are scaled from 0..255 to [0, 1].
    download : bool
        Download missing registered files into the cache.
    manifest : mapping, optional
        Registry to use instead of :func:`~bnngallery.data.manifest.load_manifest`.

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
        As for :func:`~bnngallery.data.download.fetch_file`.
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
        Download missing files into the cache (see :func:`~bnngallery.data.download.fetch_file`).

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
