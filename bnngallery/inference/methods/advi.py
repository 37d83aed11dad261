"""``advi``: mean-field Gaussian ADVI, the gallery's workhorse (and the Gaussian-VI fitter that
``fullrank_advi`` and ``lowrank_advi`` share).

On the JAX backend the whole loop is compiled (:mod:`bnngallery.inference.advi_loop`); on
``backend="pytensor"`` it is PyMC's own ``pm.fit`` with Adam.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Call, Method


@dataclass(frozen=True)
class ADVIOptions:
    """Options of the Gaussian ADVI families.

    ``steps`` Adam steps at ``learning_rate``, decayed by ``lr_schedule`` (default: cosine to
    1 % on JAX, constant on PyTensor); ``mc_samples`` draws per gradient; ``init_sd`` the
    first posterior sd (one number, or one per variable; default: the builder's fan-in-scaled
    ``advi_init_sd``, else 0.1); ``chunk_size`` steps per compiled call; ``draws`` kept;
    ``precision`` of the JAX arithmetic; ``devices`` to split each minibatch over;
    ``restarts`` independent fits, the best final ELBO kept.
    """

    steps: int = 30_000
    learning_rate: float = 0.01
    lr_schedule: str | None = None
    mc_samples: int = 1
    init_sd: float | dict[str, float] | None = None
    chunk_size: int = 1000
    draws: int = 1000
    precision: str = "float64"
    devices: int | None = None
    restarts: int = 1


def fit_gaussian_vi(call: Call, opts, family: str):
    """A Gaussian ADVI fit of ``family`` ("meanfield", "fullrank", "lowrank") on the call's backend."""
    if call.backend == "jax":
        from ..advi_loop import fit_advi_jax

        out = fit_advi_jax(
            call.model,
            steps=opts.steps,
            learning_rate=opts.learning_rate,
            family=family,
            rank=getattr(opts, "rank", 10),
            mc_samples=opts.mc_samples,
            init_sd=opts.init_sd,
            chunk_size=opts.chunk_size,
            draws=opts.draws,
            random_seed=call.random_seed,
            progressbar=call.progressbar,
            lr_schedule=opts.lr_schedule,
            devices=opts.devices,
            precision=opts.precision,
        )
    else:
        from ..pymc_backend import fit_advi_pytensor

        out = fit_advi_pytensor(
            call.model,
            family=family,
            steps=opts.steps,
            learning_rate=opts.learning_rate,
            mc_samples=opts.mc_samples,
            draws=opts.draws,
            random_seed=call.random_seed,
            progressbar=call.progressbar,
        )
        out.settings.update(init_sd=None, chunk_size=None)  # pm.fit has neither: not recorded
    return out


#: Options pm.fit has no counterpart of.
JAX_ONLY_OPTIONS = ("init_sd", "chunk_size", "devices")


def check_pytensor(call: Call, opts, given: frozenset) -> None:
    """``pm.fit`` runs in float64 at a constant step size, from PyMC's own start, on one device."""
    if call.backend != "pytensor":
        return
    ignored = sorted(given & set(JAX_ONLY_OPTIONS))
    if ignored:
        raise ValueError(
            f"{', '.join(ignored)} {'applies' if len(ignored) == 1 else 'apply'} to ADVI with backend='jax' only "
            "(PyMC's pm.fit has no such setting); leave it out with backend='pytensor'."
        )
    if opts.precision != "float64":
        raise ValueError(
            f"precision={opts.precision!r} applies to ADVI with backend='jax' only; "
            "use precision='float64' with backend='pytensor'."
        )
    if opts.lr_schedule == "cosine":
        raise ValueError("backend='pytensor' (pm.fit) supports lr_schedule='constant' only.")


METHOD = Method(
    name="advi",
    label="mean-field ADVI",
    summary="mean-field Gaussian ADVI on minibatches (PyMC's pm.fit on backend='pytensor')",
    options=ADVIOptions,
    fitter=lambda call, opts: fit_gaussian_vi(call, opts, "meanfield"),
    kind="gaussian_vi",
    backends=("jax", "pytensor"),
    settings={"optimizer": "adam", "approximation": "meanfield"},
    check=check_pytensor,
)
