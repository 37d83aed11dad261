"""Multi-path Pathfinder (Zhang, Carpenter, Gelman and Vehtari 2022), by blackjax.

Each path runs L-BFGS on the full-data log density from its own start and keeps the
Gaussian (with the optimiser's low-rank inverse-Hessian as covariance) of highest ELBO
along the way; the draws of all paths are pooled and resampled by Pareto-smoothed
importance weights. The Pareto k of those weights (``attrs["pathfinder_khat"]``) says, as
for ADVI's k-hat, whether the pool can stand in for the posterior. Full-data, so for small
models (the L-BFGS steps see every row).
"""

from __future__ import annotations

import time

import numpy as np

from .advi_loop import constrained_draws, init_sds
from .output import FitOutput
from .precision import precision_scope
from .target import full_data_logp

#: Draws from each path's Gaussian: to estimate the ELBO at every L-BFGS iterate, and
#: pooled for the importance resampling (the paper's 100). blackjax evaluates the ELBO of
#: every iterate at once, so memory grows as iterations x this x one log density.
POOL_PER_PATH = 100


def fit_pathfinder(model, *, paths: int, maxiter: int, draws: int, init_sd, random_seed: int) -> FitOutput:
    """``paths`` Pathfinder runs of at most ``maxiter`` L-BFGS iterations, resampled to ``draws``."""
    import jax
    import jax.numpy as jnp
    from blackjax.vi.multipathfinder import MultipathfinderState, psis_weights
    from blackjax.vi.pathfinder import approximate, sample

    t0 = time.perf_counter()
    with precision_scope("float64"):
        logp, layout = full_data_logp(model)
        rng = np.random.default_rng(random_seed)
        point = model.initial_point()
        sds = init_sds(init_sd, layout.names)
        starts = np.concatenate(
            [
                (
                    np.asarray(point[n], dtype=np.float64).reshape(1, -1)
                    + sd * rng.standard_normal((paths, int(np.prod(s))))
                )
                for n, s, sd in zip(layout.names, layout.shapes, sds, strict=True)
            ],
            axis=1,
        )
        key_fit, key_draw = jax.random.split(jax.random.PRNGKey(random_seed))
        keys = jax.random.split(key_fit, paths)

        def one_path(args):  # blackjax's multi-path vmaps the paths; one at a time bounds memory
            key, x0 = args
            state, _ = approximate(key, logp, x0, POOL_PER_PATH, maxiter=maxiter)
            k_sample, k_eval = jax.random.split(key)
            pool, logq = sample(k_sample, state, POOL_PER_PATH)
            return state, pool, jax.lax.map(logp, pool), logq

        @jax.jit
        def run(starts):
            states, pool, logp_pool, logq = jax.lax.map(one_path, (keys, starts))
            state = MultipathfinderState(path_states=states, samples=pool, logp=logp_pool, logq=logq)
            log_w, khat = psis_weights(state)
            flat = pool.reshape(-1, pool.shape[-1])
            idx = jax.random.choice(key_draw, flat.shape[0], shape=(draws,), replace=True, p=jnp.exp(log_w))
            return state, khat, flat[idx]

        state, khat, z = run(jnp.asarray(starts))
        z = np.asarray(z)
        if not np.all(np.isfinite(z)):
            raise FloatingPointError(
                "Pathfinder's draws hold NaN or inf: L-BFGS left the region the model is defined in."
            )
        out_draws = constrained_draws(model, layout, jnp.asarray(z), "float64")
        best_elbo = np.asarray(state.path_states.elbo)
    seconds = time.perf_counter() - t0
    return FitOutput(
        draws=out_draws,
        loss=np.zeros(0),
        compile_seconds=0.0,
        run_seconds=seconds,
        steps_done=maxiter,
        extra={"pathfinder_khat": float(khat), "pathfinder_elbos": [float(e) for e in best_elbo], "paths": paths},
    )
