"""``ensemble``: a deep ensemble, ``members`` MAP fits from random starts, one draw each
(:mod:`bnngallery.inference.ensemble`)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Call, Method


@dataclass(frozen=True)
class MAPOptions:
    """Options of the MAP fits by the ADVI engine's point-mass family: ``steps`` Adam steps at
    ``learning_rate`` (``lr_schedule``), each start the initial point plus ``init_sd`` noise
    (default: the builder's fan-in-scaled ``advi_init_sd``), ``chunk_size`` steps per compiled
    call, ``precision``, ``devices``."""

    steps: int = 30_000
    learning_rate: float = 0.01
    lr_schedule: str | None = None
    init_sd: float | dict[str, float] | None = None
    chunk_size: int = 1000
    precision: str = "float64"
    devices: int | None = None


def map_fit_options(opts, call: Call) -> dict:
    """The keywords of :func:`~bnngallery.inference.advi_loop.fit_advi_jax` a MAP fit passes on."""
    return {
        "steps": opts.steps,
        "learning_rate": opts.learning_rate,
        "lr_schedule": opts.lr_schedule,
        "init_sd": opts.init_sd,
        "chunk_size": opts.chunk_size,
        "precision": opts.precision,
        "devices": opts.devices,
        "progressbar": call.progressbar,
    }


@dataclass(frozen=True)
class EnsembleOptions(MAPOptions):
    """The MAP fits' options and ``members``, the number of fits (the result's draws)."""

    members: int = 5


def _fit(call: Call, opts: EnsembleOptions):
    from ..ensemble import fit_ensemble

    return fit_ensemble(call.model, members=opts.members, random_seed=call.random_seed, **map_fit_options(opts, call))


METHOD = Method(
    name="ensemble",
    label="deep ensemble",
    summary="MAP fits from several random starts, one draw each",
    options=EnsembleOptions,
    fitter=_fit,
    kind="map",
    settings={"optimizer": "adam"},
)
