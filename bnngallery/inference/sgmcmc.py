"""Cyclical, preconditioned stochastic-gradient MCMC: minibatch Langevin (SGLD) or
Hamiltonian (SGHMC) dynamics on the model's log density.

SGLD (Welling and Teh 2011) moves by ``eta * grad log p + sqrt(2 eta) * noise`` with the
minibatch estimate of the full-data gradient; SGHMC (Chen, Fox and Guestrin 2014, in their
"SGD with momentum" form) adds a momentum that keeps ``1 - FRICTION`` of itself each step,
so it travels like SGD with momentum and converges far faster on big nets. Both are
preconditioned by RMSprop's statistics of the gradient, as pSGLD (Li, Chen, Carlson and
Carin 2016) and scale-adapted SGHMC (Springenberg, Klein, Falkner and Hutter 2016) do: each
coordinate's step is divided by the root mean square of its gradient, so one
``learning_rate`` (in the units of Adam's: how far a coordinate moves per step) suits
networks and data of any scale. The statistics keep moving while the chains sample, and the
small drift term a moving preconditioner adds is left out, as Li et al. recommend: frozen
statistics let a coordinate whose gradient was near zero (a dead unit) take an unbounded
step once its gradient returns. Because the statistics are updated after the step, a
gradient that jumps (a unit that comes back to life, the steep start from a random point)
would move its coordinate by the jump times the step; its move is clipped to
:data:`RATIO_MAX` steps, the bound RMSprop's usual order gives. Unclipped, the gallery's
regression net (raw inputs) overflowed in its first three steps and again when the first
sampling phase began. At equilibrium the clip rarely acts; the result's
``clipped_while_sampling`` says how often it did.

The cyclical schedule (Zhang, Li, Zhang, Chen and Wilson 2020, "Cyclical stochastic
gradient MCMC") restarts a cosine step size ``cycles`` times, explores each cycle's first
part with the noise off (a stochastic gradient ascent towards a mode) and samples in its
last ``sample_fraction``, so the chains visit several modes.

Written here rather than taken from blackjax: its SG-MCMC kernels have no preconditioner,
and plain SGLD's step had to be tuned per model (the step that suits moons diverged on the
gallery's regression net).
"""

from __future__ import annotations

import math
import time

import numpy as np

from .advi import Layout
from .advi_loop import constrained_draws, init_sds
from .jaxify import likelihood_weights, logp_graph, observed_shape
from .output import FitOutput
from .precision import narrow, precision_scope
from .progress import progress_bar

#: The share of each cycle that samples (the rest explores with the noise off).
SAMPLE_FRACTION = 0.25
#: SGHMC: the share of the momentum each step loses.
FRICTION = 0.1
#: RMSprop: decay of the mean squared gradient, and the floor added to its root.
RMS_DECAY = 0.99
RMS_FLOOR = 1e-5
#: The most a preconditioned gradient ``G g / n`` moves a coordinate, in units of the step:
#: RMSprop's bound when the statistics see the gradient first (see :func:`fit_sgmcmc`).
RATIO_MAX = 1.0 / math.sqrt(1.0 - RMS_DECAY)
#: How far (nats per coordinate) a chain's log density may end below its own best before it
#: counts as diverged. A Gaussian's typical set lies 0.5 per coordinate below its mode; the
#: gallery's scale mixture puts a weight the data leave to the prior 2.3 below the spike's
#: peak. Healthy chains fall well short of the bound, diverged ones far past it
#: (``tests/test_approximations.py`` checks both sides).
FALL_PER_COORDINATE = 5.0


def effective_size(model) -> float:
    """Observations as the log density counts them: rows times likelihood weight, summed."""
    weights = likelihood_weights(model)
    return float(sum(weights[rv.name] * observed_shape(model, rv)[0] for rv in model.observed_RVs))


def schedule(steps: int, cycles: int, draws: int, sample_fraction: float = SAMPLE_FRACTION):
    """The step-size multipliers (``steps``,), whether each step adds noise, and the
    thinning interval: draws are kept every ``thin`` steps of each cycle's sampling phase,
    ``ceil(draws / cycles)`` per cycle."""
    length = math.ceil(steps / cycles)
    r = (np.arange(steps) % length) / length
    scale = 0.5 * (np.cos(np.pi * r) + 1.0)
    sampling = r >= 1.0 - sample_fraction
    per_cycle = math.ceil(draws / cycles)
    thin = max(1, int(sample_fraction * length) // per_cycle)
    return scale, sampling, thin


def check_diverged(kind: str, z: np.ndarray, loss: np.ndarray, learning_rate: float) -> None:
    """Refuse draws from chains that blew up: non-finite draws, or a chain whose log density
    ends (mean of its last tenth) more than :data:`FALL_PER_COORDINATE` nats per coordinate
    below its best (the highest mean over a hundredth of its steps, which averages out the
    minibatch noise). Each cycle's exploration climbs towards a mode and its sampling phase
    settles in the typical set, a little below; a chain that keeps falling has steps too
    large to be stable, and its draws can be finite and still astronomically wrong.

    Not "below where it started": a start near a density peak (the scale mixture's spike)
    lies above the typical set, so healthy chains end below it (a digits net by SGHMC did)."""
    steps, dim = loss.shape[1], z.shape[-1]
    block = max(1, steps // 100)
    best = loss[:, : steps // block * block].reshape(loss.shape[0], -1, block).mean(axis=2).min(axis=1)
    end = loss[:, -max(1, steps // 10) :].mean(axis=1)
    fell = [c for c in range(loss.shape[0]) if not end[c] - best[c] <= FALL_PER_COORDINATE * dim]  # NaN: fell
    finite = bool(np.all(np.isfinite(z)))
    if not finite or fell:
        what = (
            "its draws hold NaN or inf"
            if not finite
            else (
                f"the log density of chain(s) {fell} ended more than {FALL_PER_COORDINATE:g} nats per "
                f"coordinate below its best ({', '.join(f'{(end[c] - best[c]) / dim:.3g}' for c in fell)})"
            )
        )
        raise FloatingPointError(
            f"{kind.upper()} diverged: {what}. The step size is too large for this model; "
            f"try a smaller learning_rate (now {learning_rate})."
        )


def fit_sgmcmc(
    model,
    *,
    kind: str,
    steps: int,
    learning_rate: float,
    chains: int,
    cycles: int,
    draws: int,
    init_sd,
    random_seed: int,
    progressbar: bool,
    precision: str,
) -> FitOutput:
    """``chains`` cyclical SG-MCMC chains (``kind`` "sgld" or "sghmc") of ``steps`` steps
    each, ``draws`` kept per chain."""
    import jax
    import jax.numpy as jnp

    t0 = time.perf_counter()
    with precision_scope(precision):
        graph = logp_graph(model)
        layout = Layout(graph.param_names, graph.param_shapes)
        B, N = graph.batch_size, graph.n_rows
        if B is None:
            raise ValueError(
                f"method={kind!r} needs a minibatch model: its preconditioner is the root mean square of "
                "stochastic gradients, and on full data the gradient vanishes at the mode, so the steps "
                "there would be unbounded. Build the model with batch_size=..., or sample the full-data "
                "model with method='nuts'."
            )
        real = np.float32 if precision == "float32" else np.float64
        data = [jnp.asarray(narrow(np.asarray(v), precision)) for v in graph.data_values]
        scale, sampling, thin = schedule(steps, cycles, draws)
        n = effective_size(model)
        scales = jnp.asarray(scale, dtype=real)
        samples = jnp.asarray(sampling)

        def gradient(position, key):
            idx = jax.random.randint(key, (B,), 0, N) if B is not None else None
            return jax.value_and_grad(graph.logp)(position, data, idx)

        def one_step(carry, t):
            position, momentum, ms, key = carry
            key, k_idx, k_noise = jax.random.split(key, 3)
            lp, grad = gradient(position, k_idx)
            sample = samples[t]
            eta = learning_rate * scales[t] / n  # with the preconditioner: about learning_rate per coordinate
            keys = jax.random.split(k_noise, len(position))
            new_position, new_momentum, clipped = [], [], 0
            for x, m, v, g, k in zip(position, momentum, ms, grad, keys, strict=True):
                G = 1.0 / (RMS_FLOOR + jnp.sqrt(v))
                ratio = G * g / n
                clipped = clipped + jnp.sum(jnp.abs(ratio) > RATIO_MAX)
                drift = eta * n * jnp.clip(ratio, -RATIO_MAX, RATIO_MAX)
                noise = jnp.where(sample, jax.random.normal(k, x.shape, dtype=x.dtype), 0.0)
                if kind == "sgld":  # Langevin: drift eta G g (clipped), variance 2 eta G
                    new_position.append(x + drift + jnp.sqrt(2 * eta * G) * noise)
                    new_momentum.append(m)
                else:  # SGHMC: friction FRICTION, noise variance 2 FRICTION eta G
                    m = (1 - FRICTION) * m + drift + jnp.sqrt(2 * FRICTION * eta * G) * noise
                    new_position.append(x + m)
                    new_momentum.append(m)
            # RMSprop's mean square of the per-observation gradient, updated after the step:
            # a preconditioner that saw this step's minibatch noise would shrink the steps
            # that noise lengthens, and bias the chain (on a correlated Gaussian, when it
            # came first)
            ms = [RMS_DECAY * v + (1 - RMS_DECAY) * (g / n) ** 2 for v, g in zip(ms, grad, strict=True)]
            return (new_position, new_momentum, ms, key), (-lp, clipped)

        @jax.jit
        def start_statistics(positions, keys):  # one gradient per chain: no huge first steps
            grads = jax.vmap(lambda p, k: gradient(p, k)[1])(positions, keys)
            return [(g / n) ** 2 for g in grads]

        @jax.jit
        def chunk(positions, momenta, ms, keys, t_start):
            def run_chain(position, momentum, m, key):
                return jax.lax.scan(one_step, (position, momentum, m, key), t_start + jnp.arange(thin))

            (positions, momenta, ms, keys), (losses, clips) = jax.vmap(run_chain)(positions, momenta, ms, keys)
            return positions, momenta, ms, keys, losses, clips

        rng = np.random.default_rng(random_seed)
        point = model.initial_point()
        sds = init_sds(init_sd, layout.names)
        positions = [
            jnp.asarray(np.asarray(point[n], dtype=np.float64) + sd * rng.standard_normal((chains, *s)), dtype=real)
            for n, s, sd in zip(layout.names, layout.shapes, sds, strict=True)
        ]
        momenta = [jnp.zeros_like(p) for p in positions]
        keys = jax.random.split(jax.random.PRNGKey(random_seed), chains)
        ms = start_statistics(
            positions, jax.random.split(jax.random.fold_in(jax.random.PRNGKey(random_seed), 1), chains)
        )
        n_chunks = steps // thin
        t_compile = time.perf_counter()
        compiled = chunk.lower(positions, momenta, ms, keys, 0).compile()
        compile_seconds = time.perf_counter() - t_compile + (t_compile - t0)
        kept, losses, clip_counts, interrupted = [], [], [], False
        bar = progress_bar(total=n_chunks * thin, desc=f"cyclical {kind.upper()}", disable=not progressbar, unit="step")
        t_run = time.perf_counter()
        try:
            for c in range(n_chunks):
                positions, momenta, ms, keys, loss, clip = compiled(positions, momenta, ms, keys, c * thin)
                losses.append(np.asarray(loss))
                clip_counts.append(np.asarray(clip))
                if sampling[(c + 1) * thin - 1]:
                    kept.append(np.concatenate([np.asarray(p).reshape(chains, -1) for p in positions], axis=1))
                bar.update(thin)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bar.close()
        run_seconds = time.perf_counter() - t_run
        if not kept:
            raise ValueError(
                f"cyclical {kind.upper()} kept no draws: {steps} steps in {cycles} cycles leave no sampling phase "
                "(or the fit was interrupted first); give it more steps."
            )
        z = np.stack(kept, axis=1)[:, -draws:]  # (chains, draws, dim): the latest draws
        loss = np.concatenate(losses, axis=1)  # (chains, steps): -log density (minibatch estimate)
        clipped = np.concatenate(clip_counts, axis=1)[:, sampling[: loss.shape[1]]]  # (chains, sampling steps)
        check_diverged(kind, z, loss, learning_rate)
        per_chain = [constrained_draws(model, layout, jnp.asarray(zc, dtype=real), precision) for zc in z]
    return FitOutput(
        draws={k: np.concatenate([d[k] for d in per_chain], axis=0) for k in per_chain[0]},
        loss=loss.mean(axis=0),
        member_loss=loss,
        objective="log density",
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
        steps_done=loss.shape[1],
        interrupted=interrupted,
        batch_size=B,
        device=str(jax.devices()[0]),
        extra={
            "thin": thin,
            "draws_kept": int(z.shape[1]),
            "clipped_while_sampling": float(clipped.sum() / max(clipped.size * layout.dim, 1)),
            **({"friction": FRICTION} if kind == "sghmc" else {}),
        },
    )
