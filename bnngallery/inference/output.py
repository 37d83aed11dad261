"""What every method's fitter hands back (:class:`FitOutput`), and how it becomes the result
DataTree of :mod:`bnngallery.results` (:func:`to_result`): one type and one assembly for all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from ..models.info import ModelInfo
from ..results import make_result, posterior_dataset


@dataclass
class FitOutput:
    """One fit, as any method's fitter returns it.

    ``draws`` are keyed by variable, ``(chain, draw, ...)`` or ``(draw, ...)`` in the
    constrained space. ``loss`` is the negative objective per step (``objective``: ``"elbo"``,
    or ``"log density"`` for MAP fits and SG-MCMC); samplers have none. A Gaussian
    approximation also gives ``mean`` and ``std`` keyed by value variable (unconstrained
    space), and a full-rank one its Cholesky factor ``cholesky``, a low-rank one ``factor``
    and ``diag_sd``, over the variables flattened in ``order``. ``groups`` are extra result
    groups (NUTS: ``sample_stats``), ``settings`` what the method records beyond its options,
    ``extra`` its own root attributes of the result.
    """

    draws: dict[str, np.ndarray]
    compile_seconds: float
    run_seconds: float
    loss: np.ndarray | None = None
    objective: str = "elbo"
    steps_done: int | None = None
    interrupted: bool = False
    batch_size: int | None = None
    device: str = ""
    mean: dict[str, np.ndarray] = field(default_factory=dict)
    std: dict[str, np.ndarray] = field(default_factory=dict)
    cholesky: np.ndarray | None = None
    order: list[str] | None = None
    factor: np.ndarray | None = None  #: low-rank fits: covariance diag(diag_sd**2) + factor factor^T
    diag_sd: np.ndarray | None = None
    member_loss: np.ndarray | None = None  #: ensembles and SG-MCMC chains: (member, step)
    groups: dict[str, xr.Dataset] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    backend: str | None = None  #: the backend that ran it, where not the one asked for (NUTS's sampler)


def _approximation(model, out: FitOutput) -> xr.Dataset | None:
    """The ``approximation`` group: means and sds in the unconstrained space (and a full- or
    low-rank fit's factors, variables flattened in ``attrs["flat_order"]``)."""
    if not out.mean:
        return None
    value_to_rv = {model.rvs_to_values[rv].name: rv.name for rv in model.free_RVs}
    approx = {}
    for name in out.mean:
        dims = list(model.named_vars_to_dims.get(value_to_rv.get(name, name), ()))
        if len(dims) != np.ndim(out.mean[name]):
            dims = [f"{name}_dim_{i}" for i in range(np.ndim(out.mean[name]))]
        approx[f"{name}_mean"] = (dims, np.asarray(out.mean[name]))
        approx[f"{name}_sd"] = (dims, np.asarray(out.std[name]))
    approximation = xr.Dataset(approx)
    if out.cholesky is not None:
        approximation["cholesky"] = (("flat_row", "flat_col"), np.asarray(out.cholesky, dtype=np.float64))
    if out.factor is not None:
        approximation["cov_factor"] = (("flat_row", "rank"), np.asarray(out.factor, dtype=np.float64))
        approximation["cov_diag_sd"] = (("flat_row",), np.asarray(out.diag_sd, dtype=np.float64))
    if out.order:
        approximation.attrs["flat_order"] = json.dumps(list(out.order))
    return approximation


def to_result(model, out: FitOutput, *, info: ModelInfo, method: str, backend: str, settings: dict) -> xr.DataTree:
    """The result DataTree of a fit: draws, the fit's own groups, ``fit_history`` (the
    negative objective per step) and ``approximation`` where the method has them."""
    groups = dict(out.groups)
    if out.loss is not None:
        history = xr.Dataset(
            {"loss": (("step",), np.asarray(out.loss, dtype=np.float64))},
            coords={"step": np.arange(1, len(out.loss) + 1)},
        )
        history.attrs["objective"] = out.objective
        if out.member_loss is not None:
            history["member_loss"] = (("member", "step"), np.asarray(out.member_loss, dtype=np.float64))
        groups["fit_history"] = history
    approximation = _approximation(model, out)
    if approximation is not None:
        groups["approximation"] = approximation
    attrs: dict = {"interrupted": int(out.interrupted)}
    if out.steps_done is not None:
        attrs.update(steps_done=out.steps_done, device=out.device)
    return make_result(
        posterior=posterior_dataset(model, out.draws),
        method=method,
        backend=out.backend or backend,
        compile_seconds=out.compile_seconds,
        run_seconds=out.run_seconds,
        settings={
            k: v
            for k, v in {**settings, **out.settings, "batch_size": out.batch_size}.items()
            if v is not None  # None: the method has no such setting
        },
        model_info=info,
        groups=groups,
        extra_attrs={**attrs, **out.extra},
    )
