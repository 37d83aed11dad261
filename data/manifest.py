"""The registry of data sets (``manifest.json`` next to this module) and checksum checks.

The manifest names each data set's files, their checksums and mirror URLs
(:func:`load_manifest`). Every local copy is checked against the manifest's checksum (sha256,
or md5 where no sha256 is published) before it is used; a copy that does not match raises
:class:`ChecksumError` instead of being read. The decompressed file (same name without ``.gz``)
is accepted too where the manifest knows its checksum.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .cache import _CHUNK

__all__ = ["ChecksumError", "dataset_names", "load_manifest"]

MANIFEST_PATH = Path(__file__).with_name("manifest.json")


class ChecksumError(ValueError):
    """A data file's checksum does not match the manifest, so it was not used."""


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
