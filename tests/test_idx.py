"""Tests for the IDX reader, the data-file cache/downloader and the image-set loaders.

Downloads are served from an ``http.server`` on 127.0.0.1 (loopback only) with a toy manifest,
so no test touches the real mirrors. The real-data tests read the shared, read-only copies of
MNIST / Fashion-MNIST / KMNIST next to the checkout (``../shared/datasets``) or in
``$BNNGALLERY_DATA_DIR``.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnngallery.data import manifest as data_manifest
from bnngallery.data.cache import DataUnavailableError, cache_dir, resolve_data_dir
from bnngallery.data.download import fetch_file
from bnngallery.data.idx import IDXFormatError, load_idx_dataset, load_mnist, read_idx
from bnngallery.data.manifest import ChecksumError, load_manifest

# Captured before the autouse fixture below clears it for the other tests.
_ENV_DATA_DIR = os.environ.get("BNNGALLERY_DATA_DIR")
_SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"

_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.asarray(arr)
    code = _CODES[arr.dtype.type]
    head = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, arr: np.ndarray, gz: bool = False) -> Path:
    data = idx_bytes(arr)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def toy_arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


class Server:
    """Loopback HTTP server serving ``files`` (path -> bytes) with a few failure modes.

    ``/<name>``: the file. ``/cut/<name>``: announces the full length, sends half, closes.
    ``/hang/<name>``: accepts and never answers (until teardown). ``/gate/<name>``: waits until
    ``gate`` is set before sending. Anything else: 404. ``hits`` counts requests per path.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.hits: dict[str, int] = {}
        self.gate = threading.Event()
        self.release = threading.Event()
        self.gate_wait: Callable[[], None] | None = None
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802
                path = self.path
                srv.hits[path] = srv.hits.get(path, 0) + 1
                mode, _, name = path.lstrip("/").rpartition("/")
                data = srv.files.get(name)
                if data is None:
                    self.send_error(404)
                    return
                if mode == "hang":
                    srv.release.wait(10)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if mode == "gate":
                    if srv.gate_wait is not None:
                        srv.gate_wait()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    time.sleep(0.3)
                    self.wfile.write(data[len(data) // 2 :])
                elif mode == "cut":
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                else:
                    self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, name: str, mode: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{mode + '/' if mode else ''}{name}"

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def closed_port_url(name: str) -> str:
    """A loopback URL on which nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty cache, no BNNGALLERY_DATA_DIR, and no proxies."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("BNNGALLERY_CACHE_DIR", str(cache))
    monkeypatch.delenv("BNNGALLERY_DATA_DIR", raising=False)
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(data_manifest, "_verified", {})
    return cache


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def toy(server: Server):
    """A registered toy data set ``toy`` (train 12, test 7 examples) served from loopback."""
    files: dict[str, bytes] = {}
    arrays = {}
    for split, prefix, n, seed in (("train", "train", 12, 1), ("test", "t10k", 7, 2)):
        images, labels = toy_arrays(n, seed)
        arrays[split] = (images, labels)
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(images), mtime=0)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(labels), mtime=0)
    server.files.update(files)
    entries = [
        {
            "filename": name,
            "sha256": sha256(data),
            "raw": {"sha256": sha256(gzip.decompress(data))},
            "urls": [server.url(name)],
        }
        for name, data in files.items()
    ]
    manifest = {
        "datasets": {
            "toy": {
                "splits": {
                    "train": {"images": "train-images-idx3-ubyte.gz", "labels": "train-labels-idx1-ubyte.gz"},
                    "test": {"images": "t10k-images-idx3-ubyte.gz", "labels": "t10k-labels-idx1-ubyte.gz"},
                },
                "files": entries,
            }
        }
    }
    return manifest, files, arrays


def entry_of(manifest: dict, name: str) -> dict:
    return next(e for e in manifest["datasets"]["toy"]["files"] if e["filename"] == name)


def leftovers(folder: Path) -> list[str]:
    """Temp/partial files left in a cache folder (lock files are expected and not counted)."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


# --------------------------------------------------------------------------------------------
# read_idx
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("dtype", list(_CODES), ids=lambda t: t.__name__)
def test_roundtrip_all_types(tmp_path: Path, dtype: type, gz: bool) -> None:
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    out = read_idx(write_idx(tmp_path / "a.idx", arr, gz=gz))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    assert out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)
    assert out.flags.writeable


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_roundtrip_mnist_like_images_and_labels(tmp_path: Path, gz: bool) -> None:
    images, labels = toy_arrays(9, 3)
    suffix = ".gz" if gz else ""
    img = read_idx(write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images, gz))
    lab = read_idx(write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", labels, gz))
    np.testing.assert_array_equal(img, images)
    np.testing.assert_array_equal(lab, labels)
    assert img.dtype == np.uint8 and img.shape == (9, 28, 28) and lab.shape == (9,)


def test_gzip_detected_by_content_not_name(tmp_path: Path) -> None:
    arr = np.arange(6, dtype=np.uint8).reshape(2, 3)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "no-suffix", arr, gz=True)), arr)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "fake.gz", arr, gz=False)), arr)


def _assert_format_error(path: Path, *fragments: str) -> IDXFormatError:
    with pytest.raises(IDXFormatError) as info:
        read_idx(path)
    msg = str(info.value)
    assert str(path) in msg
    assert "delete" in msg and "download" in msg
    for frag in fragments:
        assert frag in msg, msg
    assert isinstance(info.value, ValueError)
    return info.value


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_bad_magic(tmp_path: Path, gz: bool) -> None:
    data = bytearray(idx_bytes(np.zeros((2, 2), np.uint8)))
    data[0] = 0x08
    p = tmp_path / "bad"
    p.write_bytes(gzip.compress(bytes(data)) if gz else bytes(data))
    _assert_format_error(p, "magic", "08 00 08 02")


def test_unknown_type_code(tmp_path: Path) -> None:
    data = bytearray(idx_bytes(np.zeros((2, 2), np.uint8)))
    data[2] = 0x0A
    p = tmp_path / "code"
    p.write_bytes(bytes(data))
    _assert_format_error(p, "0x0A", "0x08")


def test_zero_dimensions(tmp_path: Path) -> None:
    p = tmp_path / "nd0"
    p.write_bytes(bytes([0, 0, 8, 0, 1]))
    _assert_format_error(p, "ndim = 0")


def test_header_too_short(tmp_path: Path) -> None:
    p = tmp_path / "short"
    p.write_bytes(b"\x00\x00")
    _assert_format_error(p, "magic", "2 byte")
    p.write_bytes(bytes([0, 0, 8, 3, 0, 0, 0, 5]))
    _assert_format_error(p, "12 bytes", "only 4 bytes")


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_truncated(tmp_path: Path, gz: bool) -> None:
    data = idx_bytes(np.ones((4, 28, 28), np.uint8))[:-10]
    p = tmp_path / "trunc"
    p.write_bytes(gzip.compress(data) if gz else data)
    _assert_format_error(p, "3136 data bytes", "truncated")


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_trailing_bytes(tmp_path: Path, gz: bool) -> None:
    data = idx_bytes(np.ones((4, 28, 28), np.uint8)) + b"\x00junk"
    p = tmp_path / "trail"
    p.write_bytes(gzip.compress(data) if gz else data)
    _assert_format_error(p, "trailing bytes")


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    data = gzip.compress(idx_bytes(np.arange(4000, dtype=np.int32)))
    p = tmp_path / "cut.gz"
    p.write_bytes(data[: len(data) // 2])
    _assert_format_error(p, "gzip")


def test_corrupt_gzip_stream(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    data = bytearray(gzip.compress(idx_bytes(rng.integers(0, 256, (50, 28, 28), dtype=np.uint8))))
    for i in range(len(data) // 3, len(data) // 3 + 16):  # flip bytes inside the deflate stream
        data[i] ^= 0xFF
    p = tmp_path / "flip.gz"
    p.write_bytes(bytes(data))
    _assert_format_error(p, "gzip")


def test_gzip_crc_mismatch(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(idx_bytes(np.arange(100, dtype=np.uint8))))
    data[-8] ^= 0xFF  # CRC32 in the trailer
    p = tmp_path / "crc.gz"
    p.write_bytes(bytes(data))
    _assert_format_error(p, "gzip")


def test_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "nope-idx3-ubyte.gz"
    with pytest.raises(FileNotFoundError, match="nope-idx3-ubyte.gz"):
        read_idx(p)


def test_huge_declared_dims_do_not_allocate(tmp_path: Path) -> None:
    p = tmp_path / "huge"
    head = bytes([0, 0, 0x0E, 3]) + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1)
    p.write_bytes(head + b"\x00" * 8)
    _assert_format_error(p, "truncated")
    p.write_bytes(gzip.compress(head + b"\x00" * 8))
    _assert_format_error(p, "truncated")


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _structured() -> st.SearchStrategy[bytes]:
    """Mostly plausible IDX: a real header with small dims, a payload of any length."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        code = draw(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, draw(st.integers(0, 255))]))
        dims = draw(st.lists(st.integers(0, 6), min_size=0, max_size=4))
        head = bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
        return head + draw(st.binary(max_size=400))

    return build()


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(st.binary(max_size=300), _structured()),
    gz=st.booleans(),
    cut=st.integers(0, 40),
)
def test_fuzz_read_idx_only_raises_idx_format_error(fuzz_dir: Path, data: bytes, gz: bool, cut: int) -> None:
    if gz:
        data = gzip.compress(data)
        if cut % 2:  # truncate the compressed stream
            data = data[:-cut]
        elif 0 < cut < len(data):  # flip one byte of it
            data = data[:cut] + bytes([data[cut] ^ 0x5A]) + data[cut + 1 :]
    p = fuzz_dir / "fuzz.bin"
    p.write_bytes(data)
    try:
        arr = read_idx(p)
    except IDXFormatError as exc:
        assert str(p) in str(exc)
        return
    assert isinstance(arr, np.ndarray)
    raw = gzip.decompress(data) if gz else data
    assert 4 + 4 * arr.ndim + arr.nbytes == len(raw)


# --------------------------------------------------------------------------------------------
# folders, manifest
# --------------------------------------------------------------------------------------------


def test_resolve_data_dir_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert resolve_data_dir() == [isolated_env]
    monkeypatch.setenv("BNNGALLERY_DATA_DIR", f"{b}{os.pathsep}{c}")
    assert resolve_data_dir(a) == [a, b, c, isolated_env]
    assert resolve_data_dir(str(b)) == [b, c, isolated_env]  # duplicates dropped
    assert resolve_data_dir([a, c]) == [a, c, b, isolated_env]


def test_cache_dir_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BNNGALLERY_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "bnngallery"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "bnngallery"
    monkeypatch.setenv("BNNGALLERY_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_manifest_every_file_has_checksum_and_mirrors() -> None:
    manifest = load_manifest()
    assert set(manifest["datasets"]) == {"mnist", "fashion-mnist", "kmnist"}
    for name, ds in manifest["datasets"].items():
        files = {e["filename"]: e for e in ds["files"]}
        for split in ("train", "test"):
            for kind in ("images", "labels"):
                assert ds["splits"][split][kind] in files
        assert set(files) == {
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        }
        for fname, e in files.items():
            assert len(e.get("sha256", "")) == 64 or len(e.get("md5", "")) == 32, (name, fname)
            assert e["urls"] and all(
                u.endswith("/" + fname) and u.startswith(("http://", "https://")) for u in e["urls"]
            )


def test_manifest_matches_shared_checksum_lists() -> None:
    if not _SHARED.is_dir():
        pytest.skip("no shared/datasets next to the checkout")
    manifest = load_manifest()
    for name, ds in manifest["datasets"].items():
        for algo in ("sha256", "md5"):
            listed = dict(reversed(line.split()) for line in (_SHARED / name / f"{algo}sums").read_text().splitlines())
            for e in ds["files"]:
                if e["filename"] in listed:
                    assert e[algo] == listed[e["filename"]], (name, e["filename"], algo)
                raw = e["filename"][:-3]
                if raw in listed:
                    assert e["raw"][algo] == listed[raw], (name, raw, algo)


# --------------------------------------------------------------------------------------------
# local copies and checksums
# --------------------------------------------------------------------------------------------


def _place(folder: Path, files: dict[str, bytes], names: list[str] | None = None) -> Path:
    (folder / "toy").mkdir(parents=True, exist_ok=True)
    for name in names or list(files):
        (folder / "toy" / name).write_bytes(files[name])
    return folder / "toy"


def test_verified_local_copy_is_used_without_network(tmp_path: Path, toy, server: Server) -> None:
    manifest, files, arrays = toy
    _place(tmp_path / "data", files)
    x, y = load_idx_dataset("toy", "train", data_dir=tmp_path / "data", manifest=manifest, download=False)
    images, labels = arrays["train"]
    np.testing.assert_array_equal(x, images.reshape(12, -1) / np.float32(255))
    np.testing.assert_array_equal(y, labels)
    assert server.hits == {}
    p = fetch_file("toy", "t10k-images-idx3-ubyte.gz", data_dir=tmp_path / "data", manifest=manifest, download=False)
    assert p == tmp_path / "data" / "toy" / "t10k-images-idx3-ubyte.gz"


def test_data_dir_from_env(tmp_path: Path, toy, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest, files, _ = toy
    _place(tmp_path / "envdata", files)
    monkeypatch.setenv("BNNGALLERY_DATA_DIR", str(tmp_path / "envdata"))
    p = fetch_file("toy", "t10k-labels-idx1-ubyte.gz", manifest=manifest, download=False)
    assert p.parent == tmp_path / "envdata" / "toy"


def test_decompressed_local_copy_is_accepted(tmp_path: Path, toy) -> None:
    manifest, files, arrays = toy
    folder = tmp_path / "data" / "toy"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name[:-3]).write_bytes(gzip.decompress(data))
    x, y = load_idx_dataset("toy", "test", data_dir=tmp_path / "data", manifest=manifest, download=False, flatten=False)
    np.testing.assert_array_equal(y, arrays["test"][1])
    assert x.shape == (7, 28, 28)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_checksum_mismatch_local_copy_not_used(tmp_path: Path, toy, server: Server, damage: str) -> None:
    manifest, files, _ = toy
    folder = _place(tmp_path / "data", files)
    bad = folder / "t10k-images-idx3-ubyte.gz"
    data = bytearray(bad.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
    else:
        del data[-100:]
    bad.write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as info:
        load_idx_dataset("toy", "test", data_dir=tmp_path / "data", manifest=manifest)
    msg = str(info.value)
    assert str(bad) in msg and "sha256" in msg and "Delete it" in msg
    assert server.hits == {}  # neither read nor silently replaced by a download
    assert not (cache_dir() / "toy").exists()
    with pytest.raises(ChecksumError):
        fetch_file("toy", "t10k-images-idx3-ubyte.gz", data_dir=tmp_path / "data", manifest=manifest)


def test_md5_only_entry(tmp_path: Path, toy) -> None:
    manifest, files, _ = toy
    e = entry_of(manifest, "t10k-labels-idx1-ubyte.gz")
    del e["sha256"]
    e["md5"] = hashlib.md5(files[e["filename"]]).hexdigest()
    _place(tmp_path / "d", files)
    assert fetch_file("toy", e["filename"], data_dir=tmp_path / "d", manifest=manifest, download=False).is_file()
    e["md5"] = "0" * 32
    with pytest.raises(ChecksumError, match="md5"):
        fetch_file("toy", e["filename"], data_dir=tmp_path / "d", manifest=manifest, download=False)


def test_entry_without_checksum_is_rejected(toy) -> None:
    manifest, _, _ = toy
    del entry_of(manifest, "t10k-labels-idx1-ubyte.gz")["sha256"]
    with pytest.raises(ValueError, match="no sha256 or md5"):
        fetch_file("toy", "t10k-labels-idx1-ubyte.gz", manifest=manifest)


# --------------------------------------------------------------------------------------------
# downloads
# --------------------------------------------------------------------------------------------


def test_download_lands_verified_in_cache(toy, server: Server, isolated_env: Path) -> None:
    manifest, files, _ = toy
    name = "t10k-images-idx3-ubyte.gz"
    p = fetch_file("toy", name, manifest=manifest)
    assert p == isolated_env / "toy" / name
    assert p.read_bytes() == files[name]
    assert leftovers(p.parent) == [name]
    assert server.hits == {f"/{name}": 1}
    assert fetch_file("toy", name, manifest=manifest, download=False) == p  # now found locally
    assert server.hits == {f"/{name}": 1}


def test_load_by_name_downloads_both_files(toy, server: Server) -> None:
    manifest, _, arrays = toy
    x, y = load_idx_dataset("toy", "train", manifest=manifest, limit=5)
    images, labels = arrays["train"]
    assert x.shape == (5, 784) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x, images[:5].reshape(5, -1).astype(np.float32) / 255)
    np.testing.assert_array_equal(y, labels[:5])
    assert len(server.hits) == 2


def test_download_falls_back_to_next_mirror(toy, server: Server) -> None:
    manifest, files, _ = toy
    name = "t10k-labels-idx1-ubyte.gz"
    entry_of(manifest, name)["urls"] = [server.url("missing.gz"), closed_port_url(name), server.url(name)]
    assert fetch_file("toy", name, manifest=manifest).read_bytes() == files[name]


def test_download_with_wrong_checksum_leaves_nothing(toy, server: Server, isolated_env: Path) -> None:
    manifest, files, _ = toy
    name = "t10k-images-idx3-ubyte.gz"
    server.files[name] = files[name][:-1] + bytes([files[name][-1] ^ 1])
    with pytest.raises(DataUnavailableError) as info:
        fetch_file("toy", name, manifest=manifest)
    msg = str(info.value)
    assert "ChecksumError" in msg and server.url(name) in msg
    assert not (isolated_env / "toy" / name).exists()
    assert leftovers(isolated_env / "toy") == []


def test_download_cut_mid_stream_leaves_nothing(toy, server: Server, isolated_env: Path) -> None:
    manifest, _, _ = toy
    name = "t10k-images-idx3-ubyte.gz"
    entry_of(manifest, name)["urls"] = [server.url(name, "cut")]
    with pytest.raises(DataUnavailableError, match="incomplete|IncompleteRead"):
        fetch_file("toy", name, manifest=manifest)
    assert not (isolated_env / "toy" / name).exists()
    assert leftovers(isolated_env / "toy") == []


def test_download_timeout(toy, server: Server, isolated_env: Path) -> None:
    manifest, _, _ = toy
    name = "t10k-labels-idx1-ubyte.gz"
    entry_of(manifest, name)["urls"] = [server.url(name, "hang")]
    t0 = time.monotonic()
    with pytest.raises(DataUnavailableError, match="timed out"):
        fetch_file("toy", name, manifest=manifest, timeout=0.5)
    assert time.monotonic() - t0 < 5
    assert leftovers(isolated_env / "toy") == []


def test_offline_error_says_where_to_put_files(tmp_path: Path, toy, isolated_env: Path) -> None:
    manifest, _, _ = toy
    for e in manifest["datasets"]["toy"]["files"]:
        e["urls"] = [closed_port_url(e["filename"])]
    with pytest.raises(DataUnavailableError) as info:
        load_idx_dataset("toy", "test", manifest=manifest)
    msg = str(info.value)
    assert str(isolated_env / "toy") in msg
    assert "BNNGALLERY_DATA_DIR" in msg
    assert "t10k-images-idx3-ubyte.gz" in msg and "t10k-labels-idx1-ubyte.gz" in msg
    for e in manifest["datasets"]["toy"]["files"][2:]:
        assert e["urls"][0] in msg  # URLs tried, with their errors
    assert leftovers(isolated_env / "toy") == []

    with pytest.raises(DataUnavailableError) as info:
        fetch_file("toy", "t10k-images-idx3-ubyte.gz", data_dir=tmp_path / "mine", manifest=manifest, download=False)
    msg = str(info.value)
    assert str(tmp_path / "mine" / "toy") in msg and "BNNGALLERY_DATA_DIR" in msg and "download=False" in msg


def test_offline_error_hints_at_dataset_subfolder(tmp_path: Path, toy) -> None:
    manifest, files, _ = toy
    folder = tmp_path / "flat"
    folder.mkdir()
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(files["t10k-labels-idx1-ubyte.gz"])
    with pytest.raises(DataUnavailableError, match="subfolder per data set") as info:
        fetch_file("toy", "t10k-labels-idx1-ubyte.gz", data_dir=folder, manifest=manifest, download=False)
    assert str(folder / "toy") in str(info.value)


_CHILD = """
import json, sys
from pathlib import Path
from bnngallery.data.download import fetch_file
manifest = json.loads(Path(sys.argv[1]).read_text())
Path(sys.argv[2]).touch()  # tell the server this process is about to fetch
print(fetch_file("toy", "t10k-images-idx3-ubyte.gz", manifest=manifest, timeout=20))
"""


def test_two_processes_fill_cache_once(tmp_path: Path, toy, server: Server, isolated_env: Path) -> None:
    manifest, files, _ = toy
    name = "t10k-images-idx3-ubyte.gz"
    entry_of(manifest, name)["urls"] = [server.url(name, "gate")]
    mpath = tmp_path / "manifest.json"
    mpath.write_text(json.dumps(manifest))
    markers = [tmp_path / "started-0", tmp_path / "started-1"]

    def both_started() -> None:  # hold the first response until the second process is fetching too
        deadline = time.monotonic() + 20
        while not all(m.exists() for m in markers) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)

    server.gate_wait = both_started
    env = dict(os.environ)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(mpath), str(m)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for m in markers
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=False):
        assert p.returncode == 0, err
        assert Path(out.strip()) == isolated_env / "toy" / name
    assert all(m.exists() for m in markers)
    assert server.hits == {f"/gate/{name}": 1}  # the second process waited and reused the file
    assert (isolated_env / "toy" / name).read_bytes() == files[name]
    assert leftovers(isolated_env / "toy") == [name]


# --------------------------------------------------------------------------------------------
# loaders: arguments, paths
# --------------------------------------------------------------------------------------------


def test_load_by_path(tmp_path: Path) -> None:
    images, labels = toy_arrays(6, 7)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, gz=True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)  # raw works too
    for arg in (tmp_path, str(tmp_path)):
        x, y = load_idx_dataset(arg, "test", flatten=False, dtype=np.float64)
        assert x.shape == (6, 28, 28) and x.dtype == np.float64
        np.testing.assert_array_equal(x, images / 255.0)
        np.testing.assert_array_equal(y, labels)
    with pytest.raises(DataUnavailableError, match="train-images-idx3-ubyte.gz"):
        load_idx_dataset(tmp_path, "train")


def test_load_by_path_count_mismatch(tmp_path: Path) -> None:
    images, _ = toy_arrays(6, 7)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(IDXFormatError, match="6 images .* 5 labels"):
        load_idx_dataset(tmp_path, "test")


def test_load_by_path_swapped_files(tmp_path: Path) -> None:
    images, labels = toy_arrays(6, 7)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", labels)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", images)
    with pytest.raises(IDXFormatError, match="3-D"):
        load_idx_dataset(tmp_path, "test")


def test_argument_validation(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^split must be one of \('test', 'train'\); got 'validation'"):
        load_mnist("validation")
    with pytest.raises(ValueError, match="mnist.*a folder path") as info:
        load_idx_dataset("emnist")
    assert "fashion-mnist" in str(info.value) and "kmnist" in str(info.value)
    with pytest.raises(ValueError, match="limit"):
        load_idx_dataset(tmp_path, limit=-1)
    with pytest.raises(ValueError, match="floating"):
        load_idx_dataset(tmp_path, dtype=np.int32)
    with pytest.raises(ValueError, match="unknown data set"):
        fetch_file("emnist", "x.gz")
    with pytest.raises(ValueError, match="has no file"):
        fetch_file("mnist", "x.gz")


# --------------------------------------------------------------------------------------------
# real data
# --------------------------------------------------------------------------------------------


def _real_data_dir() -> Path:
    if _SHARED.is_dir():
        return _SHARED
    if _ENV_DATA_DIR and Path(_ENV_DATA_DIR).is_dir():
        return Path(_ENV_DATA_DIR)
    if os.environ.get("BNNGALLERY_ALLOW_SKIP") == "1":
        pytest.skip("no shared datasets folder and no BNNGALLERY_DATA_DIR")
    pytest.fail(
        f"real IDX data not found: expected {_SHARED} or a folder in BNNGALLERY_DATA_DIR "
        f"(set BNNGALLERY_ALLOW_SKIP=1 to skip these tests)"
    )


@pytest.fixture(scope="module")
def mnist_test() -> tuple[np.ndarray, np.ndarray]:
    return load_mnist("test", data_dir=_real_data_dir(), download=False)


def test_real_mnist_test(mnist_test) -> None:
    x, y = mnist_test
    assert x.shape == (10000, 784) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert y.dtype == np.int64 and y.min() == 0 and y.max() == 9
    counts = np.bincount(y, minlength=10)
    assert counts.sum() == 10000
    assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_real_mnist_test_options(mnist_test) -> None:
    x, y = load_mnist("test", data_dir=_real_data_dir(), download=False, flatten=False, limit=100)
    assert x.shape == (100, 28, 28)
    np.testing.assert_array_equal(x.reshape(100, -1), mnist_test[0][:100])
    np.testing.assert_array_equal(y, mnist_test[1][:100])


def test_real_mnist_train() -> None:
    x, y = load_mnist("train", data_dir=_real_data_dir(), download=False)
    assert x.shape == (60000, 784) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert abs(float(x.mean()) - 0.13066) < 1e-4
    assert np.bincount(y, minlength=10).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.mark.parametrize(
    ("name", "first", "mean"),
    [("fashion-mnist", [9, 2, 1, 1, 6, 1, 4, 6, 5, 7], 0.28685), ("kmnist", [2, 9, 3, 8, 3, 3, 8, 3, 2, 5], 0.18456)],
)
def test_real_ood_sets_by_name_and_path(name: str, first: list[int], mean: float) -> None:
    root = _real_data_dir()
    x, y = load_idx_dataset(name, "test", data_dir=root, download=False)
    assert x.shape == (10000, 784) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert np.bincount(y, minlength=10).tolist() == [1000] * 10
    assert y[:10].tolist() == first
    assert abs(float(x.mean()) - mean) < 1e-4
    xp, yp = load_idx_dataset(root / name, "test")  # by path: same arrays
    np.testing.assert_array_equal(xp, x)
    np.testing.assert_array_equal(yp, y)


def test_real_data_via_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BNNGALLERY_DATA_DIR", str(_real_data_dir()))
    x, y = load_mnist("test", download=False, limit=10)
    assert x.shape == (10, 784) and y.tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_part_file_of_a_killed_download_is_removed_by_the_next_fetch(toy, server: Server, isolated_env: Path) -> None:
    """A download killed hard (no cleanup ran) leaves its temporary file; the next fetch of
    that entry, holding the lock, removes it and lands the verified file alone."""
    manifest, files, _ = toy
    name = "t10k-labels-idx1-ubyte.gz"
    folder = isolated_env / "toy"
    folder.mkdir(parents=True)
    (folder / f".{name}.abc123.part").write_bytes(files[name][:10])
    other = folder / ".train-images-idx3-ubyte.gz.zz.part"  # another entry's: not ours to judge
    other.write_bytes(b"x")
    fetch_file("toy", name, manifest=manifest)
    assert leftovers(folder) == sorted([name, other.name])


def test_cached_download_is_readable_as_the_umask_says(toy, server: Server, isolated_env: Path) -> None:
    manifest, _, _ = toy
    old = os.umask(0o022)
    try:
        p = fetch_file("toy", "t10k-labels-idx1-ubyte.gz", manifest=manifest)
    finally:
        os.umask(old)
    assert p.stat().st_mode & 0o777 == 0o644
