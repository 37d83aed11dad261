"""``sgld``: cyclical stochastic-gradient Langevin dynamics, ``chains`` chains of ``cycles``
cosine step-size cycles on minibatches (:mod:`bnngallery.inference.sgmcmc`)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Call, Method


@dataclass(frozen=True)
class SGMCMCOptions:
    """``steps`` per chain at step size ``learning_rate`` (about how far a coordinate moves per
    step), ``chains``, ``cycles`` per chain, ``draws`` kept per chain, chains started at the
    initial point plus ``init_sd`` noise, ``precision``."""

    steps: int = 30_000
    learning_rate: float = 0.03
    chains: int = 2
    cycles: int = 4
    draws: int = 1000
    init_sd: float | dict[str, float] | None = None
    precision: str = "float64"


def fit_chains(call: Call, opts: SGMCMCOptions, kind: str):
    """``opts.chains`` chains of SG-MCMC ``kind`` ("sgld" or "sghmc")."""
    from ..sgmcmc import FRICTION, SAMPLE_FRACTION, fit_sgmcmc

    out = fit_sgmcmc(
        call.model,
        kind=kind,
        steps=opts.steps,
        learning_rate=opts.learning_rate,
        chains=opts.chains,
        cycles=opts.cycles,
        draws=opts.draws,
        init_sd=opts.init_sd,
        random_seed=call.random_seed,
        progressbar=call.progressbar,
        precision=opts.precision,
    )
    out.settings.update(sample_fraction=SAMPLE_FRACTION, **({"friction": FRICTION} if kind == "sghmc" else {}))
    return out


METHOD = Method(
    name="sgld",
    label="cyclical SGLD",
    summary="cyclical stochastic-gradient Langevin dynamics, several chains",
    options=SGMCMCOptions,
    fitter=lambda call, opts: fit_chains(call, opts, "sgld"),
    kind="sg_mcmc",
    draws_per_chain=True,
    run_options={"chains": 4, "learning_rate": 0.03},
)
