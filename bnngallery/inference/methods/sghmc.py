"""``sghmc``: cyclical stochastic-gradient Hamiltonian Monte Carlo, SGLD with momentum, so
each step carries about ten times as far (:mod:`bnngallery.inference.sgmcmc`)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Method
from .sgld import SGMCMCOptions, fit_chains


@dataclass(frozen=True)
class SGHMCOptions(SGMCMCOptions):
    """SGLD's options, at a smaller step size: the momentum carries each step farther."""

    learning_rate: float = 0.01


METHOD = Method(
    name="sghmc",
    label="cyclical SGHMC",
    summary="cyclical stochastic-gradient HMC (SGLD with momentum), several chains",
    options=SGHMCOptions,
    fitter=lambda call, opts: fit_chains(call, opts, "sghmc"),
    kind="sg_mcmc",
    draws_per_chain=True,
    run_options={"chains": 4},
)
