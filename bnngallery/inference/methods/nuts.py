"""``nuts``: the reference, NUTS by ``pm.sample`` with NumPyro's sampler (``backend="jax"``)
or PyMC's own (``backend="pytensor"``), on the exact full-data log density."""

from __future__ import annotations

from dataclasses import dataclass

from ..jaxify import minibatch_nodes
from .base import Call, Method, require_package


@dataclass(frozen=True)
class NUTSOptions:
    """``draws`` and ``tune`` (warm-up) per chain, ``chains`` in ``cores`` processes (default
    one per chain), ``target_accept``, and ``sampler``: ``"numpyro"`` or ``"pymc"`` (default:
    the backend's)."""

    draws: int = 1000
    tune: int = 1000
    chains: int = 2
    cores: int | None = None
    target_accept: float = 0.9
    sampler: str | None = None


def sampler_of(call: Call, opts: NUTSOptions) -> str:
    return opts.sampler or ("numpyro" if call.backend == "jax" else "pymc")


def _check(call: Call, opts: NUTSOptions, given: frozenset) -> None:
    if minibatch_nodes([call.model.logp()]):
        raise ValueError(
            "NUTS needs the exact full-data log density, but this model was built with batch_size; "
            "build it again with batch_size=None for NUTS."
        )
    if sampler_of(call, opts) == "numpyro":
        for module in ("numpyro", "jax"):
            require_package(module, "NUTS with sampler='numpyro'")


def _fit(call: Call, opts: NUTSOptions):
    from ..progress import sampler_bars
    from ..pymc_backend import sample_nuts

    sampler = sampler_of(call, opts)
    cores = opts.cores or opts.chains
    with sampler_bars(call.progressbar):
        out = sample_nuts(
            call.model,
            sampler=sampler,
            draws=opts.draws,
            tune=opts.tune,
            chains=opts.chains,
            cores=cores,
            target_accept=opts.target_accept,
            random_seed=call.random_seed,
            progressbar=call.progressbar,
        )
    out.settings.update(sampler=sampler, cores=cores)
    out.backend = "jax" if sampler == "numpyro" else "pytensor"
    return out


METHOD = Method(
    name="nuts",
    label="NUTS",
    summary="the No-U-Turn sampler (NumPyro's or PyMC's), the reference",
    options=NUTSOptions,
    fitter=_fit,
    kind="mcmc",
    backends=("jax", "pytensor"),
    minibatch=False,
    draws_per_chain=True,
    needs=(),
    reference=True,
    check=_check,
)
