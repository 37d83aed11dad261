"""``sghmc``: cyclical stochastic-gradient Hamiltonian Monte Carlo, SGLD with momentum, so
each step carries about ten times as far (:mod:`bnngallery.inference.sgmcmc`). SGLD's record
at a smaller step size."""

from __future__ import annotations

import dataclasses

from . import sgld
from .sgld import SGMCMCOptions, fit_chains


@dataclasses.dataclass(frozen=True)
class SGHMCOptions(SGMCMCOptions):
    """SGLD's options, at a smaller step size: the momentum carries each step farther."""

    learning_rate: float = 0.01


METHOD = dataclasses.replace(
    sgld.METHOD,
    name="sghmc",
    label="cyclical SGHMC",
    summary="cyclical stochastic-gradient HMC (SGLD with momentum), several chains",
    options=SGHMCOptions,
    fitter=lambda call, opts: fit_chains(call, opts, "sghmc"),
    run_options={"chains": 4, "learning_rate": 0.01},
)
