"""Minibatch ADVI compiled end to end in JAX: the loop around :mod:`bnngallery.inference.advi`.

The model stays a PyMC graph: its log density is jaxified with the data as inputs
(:mod:`bnngallery.inference.jaxify`), then optimised with optax. The data live on the
device, the minibatch indices are drawn on the device, and ``chunk_size`` steps run inside
one compiled ``lax.scan`` call, so Python is visited once per chunk (for the progress bar,
the ELBO history and the NaN guard) rather than once per step.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np

from ..validation import check_choice
from . import advi, noise
from .devices import make_mesh, put
from .jaxify import constrain_graph, jaxify, logp_graph
from .output import FitOutput
from .precision import check_precision, narrow, precision_scope
from .progress import progress_bar

LR_SCHEDULES = ("cosine", "constant")


class ADVIDivergenceError(FloatingPointError):
    """ADVI hit NaN or inf. ``.result`` holds the fit up to the last finite state."""

    def __init__(self, message: str, result=None):
        super().__init__(message)
        self.result = result


def make_optimizer(learning_rate: float, *, steps: int, lr_schedule: str = "cosine"):
    """Adam with a cosine decay of the step size to 1 % over ``steps`` (the end of the run
    averages out the minibatch noise instead of bouncing around the optimum), or constant."""
    import optax

    check_choice(lr_schedule, name="lr_schedule", allowed=LR_SCHEDULES)
    if lr_schedule == "cosine":
        return optax.adam(optax.cosine_decay_schedule(learning_rate, decay_steps=steps, alpha=0.01))
    return optax.adam(learning_rate)


#: The initial posterior sd of a variable nothing else sets.
DEFAULT_INIT_SD = 0.1


def init_sds(init_sd, names) -> list[float]:
    """One sd per variable of ``names`` from ``init_sd``: one number for all, or a mapping
    by name (absent names get :data:`DEFAULT_INIT_SD`)."""
    if isinstance(init_sd, Mapping):
        return [float(init_sd.get(n, DEFAULT_INIT_SD)) for n in names]
    return [float(init_sd)] * len(names)


def _show_sd(init_sd) -> str:
    if not isinstance(init_sd, Mapping):
        return f"{float(init_sd):g}"
    return f"{min(init_sd.values()):.3g} to {max(init_sd.values()):.3g} by variable"


def fit_advi_jax(
    model,
    *,
    steps: int,
    learning_rate: float,
    family: str = "meanfield",
    rank: int = 10,
    mc_samples: int = 1,
    init_sd: float | Mapping[str, float] = DEFAULT_INIT_SD,
    chunk_size: int = 1000,
    draws: int = 1000,
    random_seed: int = 0,
    progressbar: bool = True,
    start: dict | None = None,
    lr_schedule: str = "cosine",
    devices: int | None = None,
    precision: str = "float64",
    jitter_start: bool = False,
) -> FitOutput:
    """Fit a Gaussian approximation of ``family`` by stochastic ELBO ascent.

    Parameters
    ----------
    model : pm.Model
        Any PyMC model with observed data; a ``pm.Minibatch`` inside it sets the batch size.
    steps : int
        Optimiser steps.
    learning_rate : float
        Adam step size.
    family : {"meanfield", "fullrank", "lowrank"}
        Diagonal, dense Cholesky, or diagonal plus rank-``rank`` covariance in the
        unconstrained space (:data:`advi.FAMILIES`).
    rank : int
        The low-rank family's number of correlated directions.
    mc_samples : int
        Monte Carlo samples of the ELBO gradient per step.
    init_sd : float or mapping
        Initial posterior standard deviation: one for every coordinate, or one per value
        variable by name (absent ones: :data:`DEFAULT_INIT_SD`); the means start at the
        model's initial point. Small values keep wide nets out of saturation early on.
    chunk_size : int
        Steps per compiled call: larger is faster, smaller updates the progress bar more often;
        1 compiles a single step without a loop (faster on CPU for convolutional models).
    draws : int
        Posterior draws to return (in the constrained space).
    random_seed : int
        Seed of the ELBO noise, the minibatch indices and the draws.
    progressbar : bool
        Show a tqdm bar with the running ELBO.
    start : dict, optional
        Initial means keyed by value-variable name (defaults to ``model.initial_point()``).
    lr_schedule : {"cosine", "constant"}
        See :func:`make_optimizer`.
    devices : int, optional
        Data parallelism: split each minibatch (or, full-batch, the rows) across this many
        devices with JAX sharding; the variational parameters are replicated and XLA reduces
        the gradient across devices. Default: every visible accelerator, 1 on CPU.
    precision : {"float64", "float32"}
        Arithmetic of the whole loop. ``"float32"`` traces the model's log density with
        JAX's 64-bit mode off (NumPyro's default): faster on CPU and far faster on most
        GPUs; the returned draws and history are float64 either way.
    jitter_start : bool
        Start the means at the initial point plus ``init_sd`` times standard normals (seeded
        by ``random_seed``) instead of at the initial point: a MAP fit (``family="point"``)
        has no noise of its own to break the symmetry between a layer's hidden units, and
        each member of an ensemble needs its own start.
    """
    check_precision(precision)
    check_choice(family, name="family", allowed=tuple(advi.FAMILIES))
    with precision_scope(precision):
        return _run(
            model,
            steps=steps,
            learning_rate=learning_rate,
            family_name=family,
            rank=rank,
            mc_samples=mc_samples,
            init_sd=init_sd,
            chunk_size=chunk_size,
            draws=draws,
            random_seed=random_seed,
            progressbar=progressbar,
            start=start,
            lr_schedule=lr_schedule,
            devices=devices,
            precision=precision,
            jitter_start=jitter_start,
        )


class _Compiled:
    """The jitted chunk of steps, compiled once per chunk length.

    A call returns the new state, the chunk's losses and whether every variational parameter
    is still finite: that test runs in the compiled code, as one reduction, rather than as a
    dispatch per parameter array from Python (on a model as small as moons, a large share
    of the fit's time).
    """

    def __init__(self, step):
        import jax
        import jax.numpy as jnp

        self.step = step
        self.cache: dict[int, Any] = {}
        self.seconds = 0.0

        @partial(jax.jit, static_argnums=2)
        def run_chunk(state, data, length):
            if length == 1:
                # chunk_size=1: one plain compiled step. XLA's CPU backend runs some ops (the
                # convolutions of the CNN) far slower inside a scan loop than outside one.
                state, loss = step(state, data)
                loss = loss[None]
            else:
                state, loss = jax.lax.scan(lambda s, _: step(s, data), state, None, length=length)
            leaves = jax.tree_util.tree_leaves(state.params)
            finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))
            return state, loss, finite

        self._run_chunk = run_chunk

    def compile(self, state, data, length: int) -> None:
        """Compile the chunk of ``length`` steps (once), adding the time to :attr:`seconds`."""
        if length not in self.cache:
            t0 = time.perf_counter()
            self.cache[length] = self._run_chunk.lower(state, data, length).compile()
            self.seconds += time.perf_counter() - t0

    def __call__(self, state, data, length: int):
        self.compile(state, data, length)
        return self.cache[length](state, data)


def _run(
    model,
    *,
    steps,
    learning_rate,
    family_name,
    rank,
    mc_samples,
    init_sd,
    chunk_size,
    draws,
    random_seed,
    progressbar,
    start,
    lr_schedule,
    devices,
    precision,
    jitter_start,
):
    import jax
    import jax.numpy as jnp

    t_setup = time.perf_counter()
    graph = logp_graph(model)
    layout = advi.Layout(graph.param_names, graph.param_shapes)
    family = advi.FAMILIES[family_name](layout, *((rank,) if family_name == "lowrank" else ()))
    B, N = graph.batch_size, graph.n_rows
    mesh, _ = make_mesh(devices, B if B is not None else N)
    real = np.float32 if precision == "float32" else np.float64
    data = [put(narrow(np.asarray(v), precision), mesh, rows=B is None) for v in graph.data_values]

    point = dict(model.initial_point())
    if start:
        point.update(start)
    sds = init_sds(init_sd, layout.names)
    rng = np.random.default_rng(random_seed)
    mu0 = [
        jnp.asarray(
            (
                np.asarray(point[n], dtype=np.float64).reshape(s) + (sd * rng.standard_normal(s) if jitter_start else 0)
            ).astype(real)
        )
        for n, s, sd in zip(layout.names, layout.shapes, sds, strict=True)
    ]
    optimizer = make_optimizer(learning_rate, steps=steps, lr_schedule=lr_schedule)
    step = advi.make_step(family, graph.logp, optimizer, mc_samples=mc_samples, batch_size=B, n_rows=N, mesh=mesh)
    state = advi.init(family, mu0, init_sd=sds, optimizer=optimizer, random_seed=random_seed)
    if mesh is not None:
        state = jax.tree_util.tree_map(lambda a: put(a, mesh, rows=False), state)
    chunk_size = max(1, min(chunk_size, steps))
    compiled = _Compiled(step)
    setup_seconds = time.perf_counter() - t_setup
    compiled.compile(state, data, chunk_size)
    first_compile = compiled.seconds

    def finish(state, losses, done, run_seconds, interrupted):
        # a chunk compiled inside the loop (the last, shorter one) counts as compile time
        late = compiled.seconds - first_compile
        return _finish(
            model,
            family,
            state,
            np.concatenate(losses) if losses else np.zeros(0),
            setup_seconds + compiled.seconds,
            run_seconds - late,
            done,
            draws,
            random_seed,
            interrupted=interrupted,
            batch_size=B,
            precision=precision,
        )

    losses: list[np.ndarray] = []
    done, interrupted = 0, False
    bar = progress_bar(total=steps, desc="ADVI (jax)", disable=not progressbar, unit="step")
    t_run = time.perf_counter()
    try:
        while done < steps:
            length = min(chunk_size, steps - done)
            new_state, chunk_loss, finite = compiled(state, data, length)
            chunk_loss = np.asarray(chunk_loss)
            if not (bool(finite) and np.isfinite(chunk_loss).all()):
                bad_step, names, bad_state = _locate_divergence(state, data, step, family, len(chunk_loss))
                terms = _nonfinite_terms(model, family, bad_state, mc_samples=mc_samples, batch_size=B, n_rows=N)
                losses.append(chunk_loss[: max(bad_step, 0)])
                done += max(bad_step, 0)
                where = []
                if names:
                    where.append(f"the parameters of {', '.join(names)}")
                if terms:
                    where.append(f"the log density term(s) {', '.join(terms)}")
                raise ADVIDivergenceError(
                    f"ADVI diverged at step {done + 1}: the ELBO or its gradient became NaN/inf "
                    f"in {' and '.join(where) or 'the variational parameters'}. The state of the last "
                    f"finite step is kept in this error's .result. Try a smaller learning_rate "
                    f"(now {learning_rate}) or a smaller init_sd (now {_show_sd(init_sd)}).",
                    result=finish(bad_state, losses, done, time.perf_counter() - t_run, True),
                )
            state = new_state
            losses.append(chunk_loss)
            done += length
            bar.update(length)
            bar.set_postfix(elbo=f"{-float(chunk_loss[-min(100, length) :].mean()):.4g}")
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    return finish(state, losses, done, time.perf_counter() - t_run, interrupted)


def _locate_divergence(state, data, step, family, length: int):
    """Replay a diverged chunk step by step.

    Returns the first bad step, the variables whose parameters went non-finite and the
    state from which that step started.
    """
    import jax

    one = jax.jit(step)
    for i in range(length):
        new_state, loss = one(state, data)
        bad = family.layout.names_at(family.nonfinite(new_state.params))
        if not np.isfinite(loss) or bad:
            return i, bad, state
        state = new_state
    return length, [], state


def _nonfinite_terms(model, family, state, *, mc_samples, batch_size, n_rows) -> list[str]:
    """Names of the model's log density terms that are NaN/inf at the draws of the step
    that starts from ``state``."""
    layout = family.layout
    _, eps, idx = noise.step_noise(
        state.key,
        advi.params_dtype(state.params),
        dim=advi.noise_dim(family),
        mc_samples=mc_samples,
        batch_size=batch_size,
        n_rows=n_rows,
    )
    z_vars, _ = family.reparameterize(state.params, eps)
    z = np.concatenate([np.asarray(v).reshape(mc_samples, -1) for v in z_vars], axis=1)
    terms = [*model.free_RVs, *model.observed_RVs, *model.potentials]
    outputs = [model.logp(vars=[t]) for t in terms]
    fn, _, data_values, _, _ = jaxify(model, model.value_vars, outputs)
    extra = (np.asarray(idx),) if idx is not None else ()
    bad = set()
    for zi in np.atleast_2d(z):
        values = fn(*layout.unflatten(zi), *data_values, *extra)
        bad |= {t.name for t, v in zip(terms, values, strict=True) if not np.all(np.isfinite(np.asarray(v)))}
    return [t.name for t in terms if t.name in bad]


def constrained_draws(model, layout: advi.Layout, z, precision: str) -> dict[str, np.ndarray]:
    """Flat unconstrained draws ``z`` (draws, dim) as one chain of the model's variables and
    deterministics in the constrained space: ``{name: (1, draws, ...)}``."""
    import jax

    cgraph = constrain_graph(model)
    cdata = [jax.device_put(narrow(np.asarray(v), precision)) for v in cgraph.data_values]

    @jax.jit
    def constrained(z):
        return cgraph.fn(*layout.unflatten(z), *cdata)

    outs = jax.lax.map(constrained, z, batch_size=min(len(z), 256))
    return {n: np.asarray(o, dtype=np.float64)[None] for n, o in zip(cgraph.output_names, outs, strict=True)}


def _finish(
    model,
    family,
    state,
    loss,
    compile_seconds,
    run_seconds,
    done,
    draws,
    random_seed,
    *,
    interrupted,
    batch_size,
    precision,
) -> FitOutput:
    """Draw from the fitted approximation and map the draws to the constrained space."""
    import jax

    layout, params = family.layout, state.params
    moments = family.moments(params)
    # the draws' key is apart from every step's (fold_in of the seed), so they do not depend on the steps run
    z = advi.sample(family, params, jax.random.fold_in(jax.random.PRNGKey(random_seed), 1), draws=draws)
    return FitOutput(
        draws=constrained_draws(model, layout, z, precision),
        loss=np.asarray(loss, dtype=np.float64),
        mean=dict(zip(layout.names, layout.unflatten(moments.mean), strict=True)),
        std=dict(zip(layout.names, layout.unflatten(moments.sd), strict=True)),
        cholesky=moments.cholesky,
        factor=moments.factor,
        diag_sd=moments.diag_sd,
        order=None if moments.cholesky is None and moments.factor is None else list(layout.names),
        compile_seconds=compile_seconds,
        run_seconds=run_seconds,
        steps_done=done,
        interrupted=interrupted,
        batch_size=batch_size,
        device=", ".join(sorted(str(d) for d in jax.tree_util.tree_leaves(params)[0].sharding.device_set)),
    )
