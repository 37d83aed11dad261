"""Minibatch ADVI compiled end to end in JAX.

The model stays a PyMC graph: its log density is jaxified with the data as inputs
(:mod:`bnngallery.jaxify`), then optimised with optax. The data live on the device, the
minibatch indices are drawn on the device, and ``chunk_size`` steps run inside one
compiled ``lax.scan`` call, so Python is visited once per chunk (for the progress bar,
the ELBO history and the NaN guard) rather than once per step.
"""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from .jaxify import JaxGraph, constrain_graph, logp_graph

_LOG_2PI_E = float(np.log(2 * np.pi) + 1.0)


class ADVIDivergenceError(FloatingPointError):
    """ADVI hit NaN or inf. ``.result`` holds the fit up to the last finite state."""

    def __init__(self, message: str, result=None):
        super().__init__(message)
        self.result = result


@dataclass
class ADVIOutput:
    """What the JAX ADVI loop hands back to the engine."""

    draws: dict[str, np.ndarray]
    loss: np.ndarray
    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]
    compile_seconds: float
    run_seconds: float
    steps_done: int
    interrupted: bool = False
    batch_size: int | None = None
    device: str = ""
    extra: dict = field(default_factory=dict)


def _softplus_inv(x: float) -> float:
    return float(np.log(np.expm1(x)))


class _Layout:
    """Flatten/unflatten between one parameter vector and the model's value variables."""

    def __init__(self, graph: JaxGraph):
        self.names = graph.param_names
        self.shapes = graph.param_shapes
        self.sizes = [int(np.prod(s, dtype=int)) for s in self.shapes]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.dim = int(self.offsets[-1])

    def unflatten(self, z):
        """Split the last axis of ``z`` into one array per variable (leading axes kept)."""
        lead = z.shape[:-1]
        return [z[..., a:b].reshape((*lead, *s))
                for a, b, s in zip(self.offsets[:-1], self.offsets[1:], self.shapes, strict=True)]

    def names_at(self, mask: np.ndarray) -> list[str]:
        return [n for n, a, b in zip(self.names, self.offsets[:-1], self.offsets[1:], strict=True) if mask[a:b].any()]


def fit_advi_jax(
    model,
    *,
    steps: int,
    learning_rate: float,
    method: str = "meanfield",
    mc_samples: int = 1,
    init_sd: float = 0.1,
    chunk_size: int = 1000,
    draws: int = 1000,
    random_seed: int = 0,
    progressbar: bool = True,
    start: dict | None = None,
    lr_schedule: str = "cosine",
    devices: int | None = None,
    precision: str = "float64",
) -> ADVIOutput:
    """Fit a mean-field (or full-rank) Gaussian approximation by stochastic ELBO ascent.

    Parameters
    ----------
    model : pm.Model
        Any gallery model; a ``pm.Minibatch`` inside it sets the batch size.
    steps : int
        Optimiser steps.
    learning_rate : float
        Adam step size.
    method : {"meanfield", "fullrank"}
        Diagonal or dense Cholesky covariance in the unconstrained space.
    mc_samples : int
        Monte Carlo samples of the ELBO gradient per step.
    init_sd : float
        Initial posterior standard deviation of every coordinate; the means start at the
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
        Cosine decay of the step size to 1 % over the run, or a constant step size.
    devices : int, optional
        Data parallelism: split each minibatch (or, full-batch, the rows) across this many
        devices with JAX sharding; the variational parameters are replicated and XLA reduces
        the gradient across devices. Default: every visible accelerator, 1 on CPU (where
        XLA already spreads one device over all cores).
    precision : {"float64", "float32"}
        Arithmetic of the whole loop. ``"float32"`` traces the model's log density with
        JAX's 64-bit mode off (NumPyro's default): about twice as fast on CPU and far
        faster on most GPUs; the returned draws and history are float64 either way.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}.")
    with precision_scope(precision):
        return _fit(model, steps=steps, learning_rate=learning_rate, method=method, mc_samples=mc_samples,
                    init_sd=init_sd, chunk_size=chunk_size, draws=draws, random_seed=random_seed,
                    progressbar=progressbar, start=start, lr_schedule=lr_schedule, devices=devices,
                    precision=precision)


PRECISIONS = ("float64", "float32")


@contextmanager
def precision_scope(precision: str):
    """Trace and run JAX code in ``precision``: float32 switches JAX's 64-bit mode off
    for the duration (the PyTensor graph still asks for float64 constants; JAX narrows
    them, and the warning it gives for each is silenced here)."""
    import jax

    if precision == "float64":
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Explicitly requested dtype", category=UserWarning)
        with jax.enable_x64(False):
            yield


def _fit(model, *, steps, learning_rate, method, mc_samples, init_sd, chunk_size, draws, random_seed,
         progressbar, start, lr_schedule, devices, precision):
    import jax
    import jax.numpy as jnp
    import optax
    from tqdm.auto import tqdm

    t_setup = time.perf_counter()
    graph = logp_graph(model)
    layout = _Layout(graph)
    D = layout.dim
    B, N = graph.batch_size, graph.n_rows
    mesh, n_dev = _mesh(devices, B if B is not None else N)
    real = np.float32 if precision == "float32" else np.float64
    data = [_put(_narrow(np.asarray(v), precision), mesh, rows=B is None) for v in graph.data_values]
    logp_fn = graph.fn
    meanfield = method == "meanfield"

    def logp_of(values, data, idx):
        extra = (idx,) if B is not None else ()
        return logp_fn(*values, *data, *extra)[0]

    point = dict(model.initial_point())
    if start:
        point.update(start)
    mu0 = [jnp.asarray(np.asarray(point[n], dtype=real).reshape(s)) for n, s in zip(layout.names, layout.shapes)]
    rho0 = _softplus_inv(init_sd)
    if meanfield:
        # One array per model variable, never one flat vector: slicing a flat vector and
        # gathering its gradient back cost half of every step on the MNIST MLP (measured on
        # CPU: 19.6 against 9.0 s per 1000 steps for 270k parameters).
        vparams = {"mu": mu0, "rho": [jnp.full(s, rho0, dtype=real) for s in layout.shapes]}
    else:
        vparams = {
            "mu": jnp.concatenate([m.ravel() for m in mu0]),
            "L_off": jnp.zeros((D, D), dtype=real),
            "L_diag": jnp.full(D, rho0, dtype=real),
        }

    def scale_and_entropy(vp):
        if meanfield:
            sd = [jax.nn.softplus(r) for r in vp["rho"]]
            return sd, sum(jnp.sum(jnp.log(s)) for s in sd)
        diag = jax.nn.softplus(vp["L_diag"])
        L = jnp.tril(vp["L_off"], -1) + jnp.diag(diag)
        return L, jnp.sum(jnp.log(diag))

    def step_randomness(key):
        """The keys of one step: the next carry key, the ELBO noise and the batch rows."""
        key, k_eps, k_idx = jax.random.split(key, 3)
        # float32 normals (used in float64 at that precision): threefry costs half as much and
        # the noise needs no more than 24 bits (measured: 0.09 vs 0.22 s per 1000 draws of 4288).
        # One draw for every variable (one generator call per step: cheaper for small models
        # than one per variable), handed to mean-field in per-variable pieces.
        eps = jax.random.normal(k_eps, (mc_samples, D), dtype=jnp.float32).astype(real)
        if meanfield:
            eps = layout.unflatten(eps)
        idx = jax.random.randint(k_idx, (B,), 0, N) if B is not None else None
        return key, eps, idx

    def draws_of(vp, eps):
        """The ELBO's draws, one array per variable with a leading Monte Carlo axis, and the entropy."""
        scale, entropy = scale_and_entropy(vp)
        if meanfield:
            return [m + e * s for m, e, s in zip(vp["mu"], eps, scale, strict=True)], entropy
        return layout.unflatten(vp["mu"] + eps @ scale.T), entropy

    def negative_elbo(vp, eps, data, idx):
        z, entropy = draws_of(vp, eps)
        if mc_samples == 1:  # vmap would turn every matmul into a batched one: slower on CPU
            lp = logp_of([v[0] for v in z], data, idx)
        else:
            lp = jnp.mean(jax.vmap(lambda *zz: logp_of(zz, data, idx))(*z))
        return -(lp + entropy + 0.5 * D * _LOG_2PI_E)

    def nonfinite_names(vp) -> list[str]:
        """Variables whose variational parameters hold NaN or inf."""
        if meanfield:
            return [n for n, m, r in zip(layout.names, vp["mu"], vp["rho"], strict=True)
                    if not (np.isfinite(np.asarray(m)).all() and np.isfinite(np.asarray(r)).all())]
        bad = np.zeros(D, dtype=bool)
        for value in vp.values():
            finite = np.isfinite(np.asarray(value))
            bad |= ~(finite if finite.ndim == 1 else finite.all(axis=1))
        return layout.names_at(bad)

    if lr_schedule == "cosine":
        # Cosine decay to 1 % of the step size: the end of the run averages out the
        # minibatch noise instead of bouncing around the optimum.
        schedule = optax.cosine_decay_schedule(learning_rate, decay_steps=steps, alpha=0.01)
        optimizer = optax.adam(schedule)
    else:
        optimizer = optax.adam(learning_rate)

    def one_step(carry, data):
        vp, opt_state, key = carry
        key, eps, idx = step_randomness(key)
        if mesh is not None and idx is not None:
            from jax.sharding import NamedSharding, PartitionSpec

            # each device takes its share of the batch rows; XLA sums the gradient across devices
            idx = jax.lax.with_sharding_constraint(idx, NamedSharding(mesh, PartitionSpec("data")))
        loss, grads = jax.value_and_grad(negative_elbo)(vp, eps, data, idx)
        updates, opt_state = optimizer.update(grads, opt_state, vp)
        return (optax.apply_updates(vp, updates), opt_state, key), loss

    @partial(jax.jit, static_argnums=2)
    def run_chunk(carry, data, length):
        if length == 1:
            # chunk_size=1: one plain compiled step. XLA's CPU backend runs some ops (the
            # convolutions of the CNN) far slower inside a scan loop than outside one.
            carry, loss = one_step(carry, data)
            return carry, loss[None]
        return jax.lax.scan(lambda c, _: one_step(c, data), carry, None, length=length)

    carry = (vparams, optimizer.init(vparams), jax.random.PRNGKey(random_seed))
    if mesh is not None:
        carry = jax.tree_util.tree_map(lambda a: _put(a, mesh, rows=False), carry)
    chunk_size = max(1, min(chunk_size, steps))
    t0 = time.perf_counter()
    compiled = {chunk_size: run_chunk.lower(carry, data, chunk_size).compile()}
    compile_seconds = time.perf_counter() - t0 + (t0 - t_setup)

    losses: list[np.ndarray] = []
    done, interrupted = 0, False
    bar = tqdm(total=steps, desc="ADVI (jax)", disable=not progressbar, unit="step")
    t_run = time.perf_counter()
    try:
        while done < steps:
            length = min(chunk_size, steps - done)
            if length not in compiled:
                t0 = time.perf_counter()
                compiled[length] = run_chunk.lower(carry, data, length).compile()
                compile_seconds += time.perf_counter() - t0
                t_run += time.perf_counter() - t0
            new_carry, chunk_loss = compiled[length](carry, data)
            chunk_loss = np.asarray(chunk_loss)
            finite = np.isfinite(chunk_loss).all() and all(
                bool(jnp.all(jnp.isfinite(v))) for v in jax.tree_util.tree_leaves(new_carry[0])
            )
            if not finite:
                bad_step, names, bad_carry = _locate_divergence(carry, data, one_step, chunk_loss, nonfinite_names)
                _, eps, idx = step_randomness(bad_carry[2])
                z_bad = np.concatenate([np.asarray(v).reshape(mc_samples, -1) for v in draws_of(bad_carry[0], eps)[0]],
                                       axis=1)
                terms = _nonfinite_terms(model, layout, z_bad, None if idx is None else np.asarray(idx))
                losses.append(chunk_loss[: max(bad_step, 0)])
                done += max(bad_step, 0)
                output = _finish(model, layout, carry, np.concatenate(losses) if losses else np.zeros(0),
                                 compile_seconds, time.perf_counter() - t_run, done, draws, random_seed,
                                 scale_and_entropy, interrupted=True, batch_size=B, precision=precision)
                where = []
                if names:
                    where.append(f"the parameters of {', '.join(names)}")
                if terms:
                    where.append(f"the log density term(s) {', '.join(terms)}")
                raise ADVIDivergenceError(
                    f"ADVI diverged at step {done + 1}: the ELBO or its gradient became NaN/inf "
                    f"in {' and '.join(where) or 'the variational parameters'}. The state of the last "
                    f"finite step is kept in this error's .result. Try a smaller learning_rate "
                    f"(now {learning_rate}) or a smaller init_sd (now {init_sd}).",
                    result=output,
                )
            carry = new_carry
            losses.append(chunk_loss)
            done += length
            bar.update(length)
            bar.set_postfix(elbo=f"{-float(chunk_loss[-min(100, length):].mean()):.4g}")
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    run_seconds = time.perf_counter() - t_run
    return _finish(model, layout, carry, np.concatenate(losses) if losses else np.zeros(0),
                   compile_seconds, run_seconds, done, draws, random_seed, scale_and_entropy,
                   interrupted=interrupted, batch_size=B, precision=precision)


def _narrow(array: np.ndarray, precision: str) -> np.ndarray:
    """Data at the loop's precision: float64 -> float32 and int64 -> int32 for ``"float32"``."""
    if precision != "float32":
        return array
    if array.dtype == np.float64:
        return array.astype(np.float32)
    if array.dtype == np.int64:
        return array.astype(np.int32)
    return array


def _mesh(devices: int | None, rows: int | None):
    """A one-axis device mesh for data parallelism, or None for a single device."""
    import jax
    from jax.sharding import Mesh

    available = jax.devices()
    if devices is None:
        devices = 1 if available[0].platform == "cpu" else len(available)
    if isinstance(devices, bool) or not isinstance(devices, (int, np.integer)) or devices < 1:
        raise ValueError(f"devices must be a positive integer; got {devices!r}.")
    if devices > len(available):
        raise ValueError(
            f"devices={devices} but JAX sees {len(available)} device(s) ({available[0].platform}). On CPU, set "
            f"XLA_FLAGS=--xla_force_host_platform_device_count={devices} before JAX starts."
        )
    if devices == 1:
        return None, 1
    if rows is not None and rows % devices:
        raise ValueError(
            f"The batch of {rows} rows does not split evenly over {devices} devices; choose a batch_size "
            f"that is a multiple of {devices}."
        )
    return Mesh(np.array(available[:devices]), ("data",)), devices


def _put(array, mesh, *, rows: bool):
    """Place ``array`` on the mesh: split by rows (full-batch data) or replicated."""
    import jax
    from jax.sharding import NamedSharding, PartitionSpec

    if mesh is None:
        return jax.device_put(array)
    spec = PartitionSpec("data") if rows and np.ndim(array) >= 1 else PartitionSpec()
    return jax.device_put(array, NamedSharding(mesh, spec))


def _locate_divergence(carry, data, one_step, chunk_loss, nonfinite_names):
    """Replay a diverged chunk step by step.

    Returns the first bad step, the variables whose parameters went non-finite and the
    carry (state and key) from which that step started.
    """
    import jax

    step = jax.jit(one_step)
    for i in range(len(chunk_loss)):
        new_carry, loss = step(carry, data)
        bad = nonfinite_names(new_carry[0])
        if not np.isfinite(loss) or bad:
            return i, bad, carry
        carry = new_carry
    return len(chunk_loss), [], carry


def _nonfinite_terms(model, layout, z: np.ndarray, idx: np.ndarray | None) -> list[str]:
    """Names of the model's log density terms that are NaN/inf at the draws ``z`` (one per row)."""
    from .jaxify import jaxify

    terms = [*model.free_RVs, *model.observed_RVs, *model.potentials]
    outputs = [model.logp(vars=[t]) for t in terms]
    fn, _, data_values, _, _ = jaxify(model, model.value_vars, outputs)
    extra = (idx,) if idx is not None else ()
    bad = set()
    for zi in np.atleast_2d(z):
        values = fn(*layout.unflatten(zi), *data_values, *extra)
        bad |= {t.name for t, v in zip(terms, values, strict=True) if not np.all(np.isfinite(np.asarray(v)))}
    return [t.name for t in terms if t.name in bad]


def _finish(model, layout, carry, loss, compile_seconds, run_seconds, done, draws, random_seed,
            scale_and_entropy, *, interrupted, batch_size, precision="float64"):
    """Draw from the fitted approximation and map the draws to the constrained space."""
    import jax
    import jax.numpy as jnp

    vp = carry[0]
    scale, _ = scale_and_entropy(vp)
    meanfield = isinstance(scale, list)
    if meanfield:
        scale = np.concatenate([np.asarray(s, dtype=np.float64).ravel() for s in scale])
        sd_flat = scale
        mu_flat = np.concatenate([np.asarray(m, dtype=np.float64).ravel() for m in vp["mu"]])
    else:
        scale = np.asarray(scale, dtype=np.float64)
        sd_flat = np.sqrt(np.sum(scale**2, axis=1))
        mu_flat = np.asarray(vp["mu"], dtype=np.float64)
    cgraph = constrain_graph(model)
    cdata = [jax.device_put(_narrow(np.asarray(v), precision)) for v in cgraph.data_values]

    @jax.jit
    def constrained(z):
        return cgraph.fn(*layout.unflatten(z), *cdata)

    key = jax.random.fold_in(jax.random.PRNGKey(random_seed), 1)
    eps = jax.random.normal(key, (draws, layout.dim))
    mu_j, scale_j = jnp.asarray(_narrow(mu_flat, precision)), jnp.asarray(_narrow(scale, precision))
    z = mu_j + (eps * scale_j if meanfield else eps @ scale_j.T)
    outs = jax.lax.map(constrained, z, batch_size=min(draws, 256))
    out_draws = {n: np.asarray(o, dtype=np.float64)[None] for n, o in zip(cgraph.output_names, outs, strict=True)}
    mean = dict(zip(layout.names, layout.unflatten(mu_flat), strict=True))
    std = dict(zip(layout.names, layout.unflatten(sd_flat), strict=True))
    return ADVIOutput(
        extra={} if meanfield else {"cholesky": scale, "order": list(layout.names)},
        draws=out_draws, loss=np.asarray(loss, dtype=np.float64), mean=mean, std=std,
        compile_seconds=compile_seconds, run_seconds=run_seconds, steps_done=done,
        interrupted=interrupted, batch_size=batch_size,
        device=", ".join(sorted(str(d) for d in jax.tree_util.tree_leaves(vp)[0].sharding.device_set)),
    )
