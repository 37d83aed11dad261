"""The one kind of object every fit returns, and how it is saved and loaded.

A fit result is an ``xarray.DataTree`` that ArviZ reads as it is:

- ``posterior``: draws (``chain``, ``draw``, named dims) of the free random variables and
  of the deterministics that do not grow with the data;
- ``sample_stats`` (NUTS): divergences, tree depth, ... as PyMC writes them;
- ``fit_history`` (ADVI, and the MAP fits of ``laplace`` and ``ensemble``): ``loss`` =
  negative ELBO per step, or the negative log density for a MAP fit (``attrs["objective"]``;
  an ensemble adds ``member_loss`` per member and averages them in ``loss``);
- ``approximation`` (Gaussian fits: ADVI, Laplace): mean and marginal sd of the Gaussian in
  the unconstrained space per variable, and for a correlated one its covariance over the
  variables flattened in ``attrs["flat_order"]``: a Cholesky factor ``cholesky`` (full
  rank), or ``cov_diag_sd`` and ``cov_factor`` (``diag(d**2) + W W^T``, low rank); read it
  with :func:`stored_gaussian`;
- root attributes: method, backend, timing (compile/run), settings, the model family and
  its builder settings, a format version checked on load, and (in a saved file) a SHA-256
  of the whole content, checked on load so a damaged file is refused, never used.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .files import jsonable, write_bytes
from .models.info import ModelInfo
from .provenance import machine_description, software_versions
from .validation import check_file_path

FORMAT_VERSION = 1

#: Root attributes every result carries.
REQUIRED_ATTRS = ("bnngallery_format", "method", "backend", "compile_seconds", "run_seconds", "settings")


class ResultFormatError(ValueError):
    """A saved result that this version cannot read, or that belongs to another model."""


def posterior_dataset(model, draws: dict[str, np.ndarray]) -> xr.Dataset:
    """Draws keyed by variable name, each shaped (chain, draw, ...), as a posterior Dataset."""
    coords_all = {k: np.asarray(v) for k, v in model.coords.items() if v is not None}
    data_vars, coords = {}, {}
    for name, arr in draws.items():
        dims = list(model.named_vars_to_dims.get(name, ()))
        extra = arr.ndim - 2
        if len(dims) != extra:
            dims = [f"{name}_dim_{i}" for i in range(extra)]
        for d in dims:
            if d in coords_all:
                coords[d] = coords_all[d]
        data_vars[name] = (("chain", "draw", *dims), np.asarray(arr))
    n_chain, n_draw = next(iter(draws.values())).shape[:2]
    coords["chain"] = np.arange(n_chain)
    coords["draw"] = np.arange(n_draw)
    return xr.Dataset(data_vars, coords=coords)


def make_result(
    *,
    posterior: xr.Dataset,
    method: str,
    backend: str,
    compile_seconds: float,
    run_seconds: float,
    settings: dict,
    model_info: ModelInfo | None = None,
    groups: dict[str, xr.Dataset] | None = None,
    extra_attrs: dict | None = None,
) -> xr.DataTree:
    """Assemble a result DataTree with the attributes every consumer relies on."""
    tree = {"posterior": posterior}
    tree.update(groups or {})
    dt = xr.DataTree.from_dict(tree)
    info = model_info or ModelInfo()
    dt.attrs.update(
        {
            "bnngallery_format": FORMAT_VERSION,
            "method": method,
            "backend": backend,
            "compile_seconds": float(compile_seconds),
            "run_seconds": float(run_seconds),
            "fit_seconds": float(compile_seconds + run_seconds),
            "settings": json.dumps(jsonable(settings), sort_keys=True),
            "model_family": info.family,
            "model_settings": json.dumps(jsonable(info.settings), sort_keys=True),
            "interrupted": 0,
            "machine": machine_description(),
            "software": json.dumps(software_versions(), sort_keys=True),
        }
    )
    dt.attrs.update(extra_attrs or {})
    return dt


def final_elbo(result: xr.DataTree, *, last: int = 1000) -> float | None:
    """Mean ELBO of an ADVI fit over its last ``last`` steps (at most its last 10 %); None for
    NUTS and for MAP-based fits (their history is the log density, not an ELBO)."""
    if "fit_history" not in result.children or result["fit_history"].attrs.get("objective", "elbo") != "elbo":
        return None
    loss = result["fit_history"]["loss"].values
    if loss.size == 0:
        return None
    k = max(1, min(last, loss.size // 10 or 1))
    return float(-loss[-k:].mean())


def fit_label(result: xr.DataTree) -> str:
    """``"<method> (<backend>)"``, e.g. ``"advi (jax)"``, the row name of a result."""
    return f"{result.attrs['method']} ({result.attrs['backend']})"


def is_vi(result: xr.DataTree) -> bool:
    """True for a variational fit (a result with an ``approximation`` group)."""
    return "approximation" in result.children


@dataclass
class StoredGaussian:
    """A result's Gaussian approximation over the flat unconstrained vector of ``names``.

    ``kind`` is "mean-field", "full-rank" or "low-rank" (the stored covariance), or
    "marginal" when the covariance was stored in another variable order than asked for and
    only the marginal sds are used.
    """

    names: list[str]
    mean: np.ndarray
    sd: np.ndarray
    kind: str
    cholesky: np.ndarray | None = None
    factor: np.ndarray | None = None
    diag_sd: np.ndarray | None = None

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws, shape (n, dim)."""
        eps = rng.standard_normal((n, self.mean.size))
        if self.cholesky is not None:
            return self.mean + eps @ self.cholesky.T
        if self.factor is not None and self.diag_sd is not None:
            return self.mean + eps * self.diag_sd + rng.standard_normal((n, self.factor.shape[1])) @ self.factor.T
        return self.mean + eps * self.sd

    def log_density(self, z: np.ndarray) -> np.ndarray:
        """Log density at flat draws ``z`` (n, dim)."""
        r = np.atleast_2d(z) - self.mean
        if self.cholesky is not None:
            u = np.linalg.solve(self.cholesky, r.T).T
            quad, log_det = np.sum(u**2, axis=1), 2 * np.sum(np.log(np.abs(np.diag(self.cholesky))))
        elif (
            self.factor is not None and self.diag_sd is not None
        ):  # Woodbury and the determinant lemma: no dim x dim matrix
            u = r / self.diag_sd
            A = self.factor / self.diag_sd[:, None]
            C = np.eye(A.shape[1]) + A.T @ A
            v = u @ A
            quad = np.sum(u**2, axis=1) - np.sum(v * np.linalg.solve(C, v.T).T, axis=1)
            log_det = 2 * np.sum(np.log(self.diag_sd)) + np.linalg.slogdet(C)[1]
        else:
            quad, log_det = np.sum((r / self.sd) ** 2, axis=1), 2 * np.sum(np.log(self.sd))
        return -0.5 * quad - 0.5 * log_det - 0.5 * self.mean.size * np.log(2 * np.pi)


def stored_gaussian(result: xr.DataTree, names: list[str]) -> StoredGaussian:
    """The Gaussian of a result's ``approximation`` group over the variables ``names`` (value
    variables, in the order of the flat vector wanted)."""
    if not is_vi(result):
        raise ValueError(f"{fit_label(result)} has no 'approximation' group: it is not a Gaussian fit.")
    approx = result["approximation"]
    missing = [n for n in names if f"{n}_mean" not in approx.data_vars]
    if missing:
        raise ValueError(f"The approximation lacks {missing}; was it fitted on this model family?")
    mean = np.concatenate([np.asarray(approx[f"{n}_mean"].values, dtype=np.float64).ravel() for n in names])
    sd = np.concatenate([np.asarray(approx[f"{n}_sd"].values, dtype=np.float64).ravel() for n in names])
    same_order = json.loads(approx.attrs.get("flat_order", "[]")) == list(names)
    if "cholesky" in approx.data_vars:
        if same_order:
            return StoredGaussian(list(names), mean, sd, "full-rank", cholesky=np.asarray(approx["cholesky"].values))
        return StoredGaussian(list(names), mean, sd, "marginal")
    if "cov_factor" in approx.data_vars:
        if same_order:
            return StoredGaussian(
                list(names),
                mean,
                sd,
                "low-rank",
                factor=np.asarray(approx["cov_factor"].values, dtype=np.float64),
                diag_sd=np.asarray(approx["cov_diag_sd"].values, dtype=np.float64),
            )
        return StoredGaussian(list(names), mean, sd, "marginal")
    return StoredGaussian(list(names), mean, sd, "mean-field")


def settings_of(result: xr.DataTree) -> dict:
    """The fit settings stored in a result."""
    return json.loads(result.attrs.get("settings", "{}"))


def model_settings_of(result: xr.DataTree) -> dict:
    """The builder settings of the model a result was fitted on."""
    return json.loads(result.attrs.get("model_settings", "{}"))


#: Root attribute of a saved result holding :func:`content_digest` of the rest.
DIGEST_ATTR = "content_sha256"


def content_digest(result: xr.DataTree) -> str:
    """SHA-256 of a result's content: every group's variables and coordinates (name, dims,
    dtype, bytes) and the root attributes other than the digest itself."""
    h = hashlib.sha256()
    for node in sorted(result.subtree, key=lambda n: n.path):
        h.update(node.path.encode())
        for name in sorted(node.variables):
            var = node.variables[name]
            values = np.ascontiguousarray(var.values)
            h.update(f"{name}|{var.dims}|{values.dtype.str}|{values.shape}".encode())
            h.update(values.tobytes() if values.dtype != object else repr(values.tolist()).encode())
    attrs = {k: v for k, v in result.attrs.items() if k != DIGEST_ATTR}
    h.update(json.dumps(jsonable(attrs), sort_keys=True).encode())
    return h.hexdigest()


def check_result(result, *, name: str = "result") -> xr.DataTree:
    """Return ``result`` if it is a result DataTree from :func:`bnngallery.fit` or :func:`load_result`."""
    if not isinstance(result, xr.DataTree):
        raise ValueError(
            f"{name} must be a result DataTree from bnngallery.fit or load_result; got {type(result).__name__}."
        )
    missing = [a for a in REQUIRED_ATTRS if a not in result.attrs]
    if missing:
        raise ValueError(
            f"{name} is a DataTree but not a bnngallery result (missing attributes {missing}); pass what "
            "bnngallery.fit or load_result returned."
        )
    return result


def save_result(result: xr.DataTree, path: str | os.PathLike) -> Path:
    """Write a result to netCDF (HDF5, via h5netcdf) atomically.

    Parameters
    ----------
    result : xr.DataTree
        A result from :func:`bnngallery.fit`.
    path : path-like
        Target file, conventionally ``*.nc``.
    """
    result = check_result(result)
    path = check_file_path(path)
    result = result.copy()
    result.attrs[DIGEST_ATTR] = content_digest(result)
    # HDF5 is written in memory first and the bytes then go to disk by ordinary file I/O: h5py
    # writing to a full disk crashes the interpreter (a segfault in its cleanup), while a plain
    # write fails with a clean OSError and atomic_write removes the partial file.
    buffer = io.BytesIO()
    result.to_netcdf(buffer, engine="h5netcdf")
    with buffer.getbuffer() as view:  # released before the buffer is
        return write_bytes(view, path)


def load_result(
    path: str | os.PathLike, *, expect_family: str | None = None, expect_model_settings: dict | None = None
) -> xr.DataTree:
    """Read a saved result, refusing files from a newer format or another model configuration.

    Parameters
    ----------
    path : path-like
        A file written by :func:`save_result`.
    expect_family, expect_model_settings : optional
        When given, the stored model family / builder settings must match, so a result is
        never silently applied to a different network.
    """
    path = check_file_path(path)
    if not path.exists():
        raise FileNotFoundError(f"No saved result at {path}.")
    try:
        dt = xr.open_datatree(path, engine="h5netcdf").load()
    except (OSError, ValueError) as err:
        raise ResultFormatError(f"{path} is not a readable bnngallery result ({err}); re-run the fit.") from err
    version = dt.attrs.get("bnngallery_format")
    if version is None:
        raise ResultFormatError(f"{path} has no bnngallery_format attribute; it was not written by save_result.")
    stored_digest = dt.attrs.get(DIGEST_ATTR)
    if stored_digest is not None and content_digest(dt) != stored_digest:
        raise ResultFormatError(
            f"{path} is damaged: its content no longer matches the checksum written with it (bytes changed "
            "on disk or in transfer). Restore it from a copy or re-run the fit."
        )
    if int(version) > FORMAT_VERSION:
        raise ResultFormatError(
            f"{path} uses result format {int(version)}, newer than this bnngallery understands "
            f"({FORMAT_VERSION}); upgrade bnngallery to read it."
        )
    if expect_family is not None and dt.attrs.get("model_family") != expect_family:
        raise ResultFormatError(f"{path} holds a fit of model {dt.attrs.get('model_family')!r}, not {expect_family!r}.")
    if expect_model_settings is not None:
        stored = model_settings_of(dt)
        wanted = jsonable(expect_model_settings)
        if stored != wanted:
            diff = {
                k: (stored.get(k), wanted.get(k)) for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k)
            }
            raise ResultFormatError(
                f"{path} was fitted with other model settings (stored vs expected: {diff}); re-run the fit."
            )
    return dt
