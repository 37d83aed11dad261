"""``pathfinder``: multi-path Pathfinder (blackjax) on the exact full-data log density,
``chains`` L-BFGS paths of at most ``steps`` iterations, importance-resampled
(:mod:`bnngallery.inference.pathfinder`)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Call, Method


@dataclass(frozen=True)
class PathfinderOptions:
    """``steps`` L-BFGS iterations at most (it stops at convergence before), ``chains`` paths,
    ``draws`` resampled, paths started at the initial point plus ``init_sd`` noise."""

    steps: int = 200
    chains: int = 2
    draws: int = 1000
    init_sd: float | dict[str, float] | None = None


def _fit(call: Call, opts: PathfinderOptions):
    from ..pathfinder import POOL_PER_PATH, fit_pathfinder

    out = fit_pathfinder(
        call.model,
        paths=opts.chains,
        maxiter=opts.steps,
        draws=opts.draws,
        init_sd=opts.init_sd,
        random_seed=call.random_seed,
    )
    out.settings.update(paths=opts.chains, pool_per_path=POOL_PER_PATH, precision="float64")
    return out


METHOD = Method(
    name="pathfinder",
    label="multi-path Pathfinder",
    summary="multi-path Pathfinder (L-BFGS paths, importance-resampled), small models",
    options=PathfinderOptions,
    fitter=_fit,
    kind="full_data_vi",
    minibatch=False,
    needs=("jax", "blackjax"),
    run_options={"chains": 8, "steps": 200},
)
