"""Seconds per 1000 ADVI steps, peak memory and final test accuracy: the gallery's JAX engine
against its peers and against the network's own deterministic floor.

One run measures, on the same network, data and batch size:

- ``floor``: the network's forward and backward pass at fixed weights on random
  minibatches, in one compiled ``lax.scan`` in float32 (plain JAX, no prior, no noise, no
  optimiser): the least a step can cost. Every other path is also reported as a multiple
  of it.
- ``engine``: ``bnngallery.fit(model, "advi", backend="jax")`` (float64, PyMC's precision);
- ``engine[f32]``: the same with ``precision="float32"``;
- ``pm.fit``: stock PyMC ADVI on its default backend (Adam, step 0.01: the stock
  adagrad_window optimizer stops near 88 % on moons, BASELINE.md);
- ``pm.fit[JAX]``: the same with ``compile_kwargs={"mode": "JAX"}``;
- ``numpyro-svi``: NumPyro SVI with ``AutoNormal`` and a subsampling plate, Adam 0.01, on
  the same network and prior written in NumPyro, driven the fastest way (``svi.update``
  inside one compiled ``lax.scan``), in its own float32.

Every path starts from the builder's initial means and the same initial posterior sd, and
runs in a process of its own, so its peak resident memory (``peak_rss_mb``, read from the
kernel when the process ends; on a GPU the device's own memory is not in it) is its own;
a path that outlives ``--path-timeout`` is stopped and recorded as unfinished.

Cases: ``moons`` (2x5 tanh, 500 train points, batch 50, 30k steps), ``wide`` (2x64 tanh,
20k train points, batch 128, 20k steps), ``mnist-mlp`` (article A's hierarchical MLP, 2x256
tanh, 60k MNIST images, batch 256), ``mnist-mlp-gallery`` (the gallery's MLP: 2x400 ReLU,
non-centred horseshoe prior, T = 0.125) and ``mnist-cnn`` (the gallery's CNN: two 5x5 convolutions of
32 filters, dense 256, ReLU, scale-mixture prior); the MNIST cases need
``BNNGALLERY_DATA_DIR`` offline. Per-step times of the MNIST cases come from fewer steps
than a full fit (the ``steps`` column); ``pm.fit`` runs fewer still where it is slow.

Writes ``benchmarks/results/advi_speed.json`` (rows with ``case``, ``path``,
``s_per_1000_steps``, ``x_floor``, ``compile_seconds``, ``test_accuracy``, ``peak_rss_mb``)
and prints a table. ``--grid`` instead measures how the engine's step and the floor grow
with batch size and width on the MLP (``advi_speed_grid.json`` and ``.png``). ``--smoke``
runs a few steps of each on small data.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bnngallery.runs.settings import MLP_MODEL, MLP_TEMPERATURE, MNIST_MODEL

RESULTS = Path(__file__).parent / "results"
#: The gallery's MNIST CNN prior and units (``bnngallery.runs.settings.MNIST_MODEL``), read from
#: the settings rather than copied, so the benchmark times the network the gallery runs.
GALLERY_MNIST = dict(MNIST_MODEL)
#: The gallery's MNIST MLP prior and units (``MLP_MODEL``) and its posterior temperature
#: (``MLP_TEMPERATURE``).
GALLERY_MLP = dict(MLP_MODEL)
GALLERY_MLP_TEMPERATURE = MLP_TEMPERATURE
CASES = {
    "moons": {
        "family": "moons",
        "n_samples": 1000,
        "hidden": (5, 5),
        "batch_size": 50,
        "steps": 30_000,
        "init_sd": 1.0,
    },
    "wide": {
        "family": "moons",
        "n_samples": 40_000,
        "hidden": (64, 64),
        "batch_size": 128,
        "steps": 20_000,
        "init_sd": 0.1,
    },
    # article A's hierarchical MLP (Normal prior, tanh, learned per-layer scales) on 60k images, 2x256
    "mnist-mlp": {
        "family": "mnist-mlp",
        "hidden": (256, 256),
        "model": {"hierarchical": True},
        "batch_size": 256,
        "steps": 2000,
        "init_sd": 1e-3,
        "skip": {"pm.fit[JAX]": "not run: 2000 steps had not finished after 16 min on 2026-11-26"},
    },
    "mnist-mlp-gallery": {
        "family": "mnist-mlp",
        "hidden": (400, 400),
        "model": {**GALLERY_MLP, "temperature": GALLERY_MLP_TEMPERATURE},
        "batch_size": 256,
        "steps": 1000,
        "pm_fit_steps": 300,
        "init_sd": 1e-3,
        "skip": {"pm.fit[JAX]": "not run: slower than pm.fit on the smaller mnist-mlp case, which it did not finish"},
    },
    "mnist-cnn": {
        "family": "mnist-cnn",
        "hidden": (32, 32, 256),
        "model": {**GALLERY_MNIST, "padding": "valid"},
        "batch_size": 128,
        "steps": 300,
        "pm_fit_steps": 30,
        "init_sd": 1e-3,
        # predicting 10k test images with 30 draws had not finished in 10 min (2026-12-04)
        "accuracy": False,
        "skip": {"pm.fit[JAX]": "not run: slower than pm.fit on the smaller mnist-mlp case, which it did not finish"},
    },
}
PATHS = ("floor", "engine", "engine[f32]", "pm.fit", "pm.fit[JAX]", "numpyro-svi")
LR = 0.01
DRAWS = 500


def load_case(case, seed):
    """Train/test arrays of a case (a SplitData-like object with X_train, y_train, X_test, y_test)."""
    from types import SimpleNamespace

    if case["family"] == "moons":
        from bnngallery.data import make_moons_data

        return make_moons_data(case["n_samples"], random_state=seed)
    from bnngallery.runs.mnist import load_mnist_splits

    X, y, Xt, yt = load_mnist_splits(n_train=case.get("n_train"), n_test=case.get("n_test"))
    return SimpleNamespace(X_train=X, y_train=y, X_test=Xt, y_test=yt)


def builder(case):
    from bnngallery.models import cnn, mnist_mlp, moons

    return {"moons": moons.build_model, "mnist-mlp": mnist_mlp.build_model, "mnist-cnn": cnn.build_model}[
        case["family"]
    ]


def build(case, data, seed):
    size = (
        {"filters": case["hidden"][:-1], "dense": case["hidden"][-1:]}
        if case["family"] == "mnist-cnn"
        else {"hidden": case["hidden"]}
    )
    return builder(case)(
        data.X_train,
        data.y_train,
        **size,
        **case.get("model", {}),
        batch_size=case["batch_size"],
        random_seed=seed,
    )


def _accuracy(case, result, data):
    if not case.get("accuracy", True):
        return None
    from bnngallery import predict
    from bnngallery.diagnostics.metrics import accuracy

    return accuracy(predict(builder(case), result, data.X_test, draws=n_draws(case)).mean(axis=0), data.y_test)


def n_draws(case) -> int:
    """Posterior draws kept and predicted with: the MNIST nets' draws are large (30, as the
    gallery's CNN predicts with)."""
    return DRAWS if case["family"] == "moons" else 30


def run_engine(case, data, seed, precision="float64"):
    from bnngallery import fit

    r = fit(
        build(case, data, seed),
        "advi",
        steps=case["steps"],
        learning_rate=LR,
        init_sd=case["init_sd"],
        draws=n_draws(case),
        random_seed=seed,
        progressbar=False,
        precision=precision,
        # untimed extras that cost minutes on the MNIST nets (60k-image passes per draw)
        log_likelihood=False,
        check_collapse=False,
    )
    return r.attrs["run_seconds"], r.attrs["compile_seconds"], _accuracy(case, r, data)


def run_pm_fit(case, data, seed, mode=None):
    import pymc as pm

    from bnngallery.inference.jaxify import posterior_var_names
    from bnngallery.models import model_info
    from bnngallery.results import make_result, posterior_dataset

    model = build(case, data, seed)
    first = []
    kwargs = {"compile_kwargs": {"mode": mode}} if mode else {}
    # the engine's initial posterior sd, so every path starts from the same Gaussian
    start_sigma = {name: np.full(np.size(v), case["init_sd"]) for name, v in model.initial_point().items()}
    t0 = time.perf_counter()
    with model:
        approx = pm.fit(
            case["steps"],
            method="advi",
            obj_optimizer=pm.adam(learning_rate=LR),
            random_seed=seed,
            progressbar=False,
            start_sigma=start_sigma,
            callbacks=[lambda *a: first.append(time.perf_counter()) if not first else None],
            **kwargs,
        )
    t1 = time.perf_counter()
    compile_s = first[0] - t0
    run_s = t1 - first[0]
    sample = approx.sample(n_draws(case), random_seed=seed)
    names = posterior_var_names(model)
    result = make_result(
        posterior=posterior_dataset(model, {n: sample.posterior[n].values for n in names}),
        method="advi",
        backend="pytensor",
        compile_seconds=compile_s,
        run_seconds=run_s,
        settings={},
        model_info=model_info(model),
    )
    return run_s, compile_s, _accuracy(case, result, data)


def run_numpyro(case, data, seed):
    """NumPyro SVI with AutoNormal, in NumPyro's own precision (float32: JAX's 64-bit mode off)."""
    from bnngallery.inference.precision import precision_scope

    start = build(case, data, seed).initial_point()  # the same initial means as the other paths
    with precision_scope("float32"):
        return _run_numpyro(case, data, seed, start)


def _unit(name: str) -> str:
    """The layer a weight or bias belongs to: ``w_conv_0`` -> ``conv_0``."""
    return name.split("_", 1)[1]


def jax_network(case, start):
    """``apply(params, X) -> logits`` in plain JAX: the builder's network, written the way a
    JAX user would, NCHW as the builder's. Convolutions are computed the way the builder
    computes them on this device (``models.cnn.resolve_conv_impl``): ``lax.conv_general_dilated``
    on a GPU, im2col (shifted slices and one ``tensordot``) on a CPU, where XLA runs a
    convolution inside a ``lax.scan`` several times slower (a 300-step floor of the gallery's
    CNN on the 2-core CPU: 929 s per 1000 passes with the convolution). The layers run in the
    order of the model's initial point ``start`` (a pytree of ``params`` is sorted by name,
    which is not the layer order)."""
    import jax
    import jax.numpy as jnp

    family = case["family"]
    act = jnp.tanh if case.get("model", {}).get("activation", "tanh") == "tanh" else jax.nn.relu

    def dense(params, h, names):
        for k, name in enumerate(names):
            h = h @ params[f"w_{name}"] + params.get(f"b_{name}", 0.0)
            if k < len(names) - 1:
                h = act(h)
        return h

    names = [_unit(n.removesuffix("_raw")) for n in start if n.startswith("w_")]
    from bnngallery.models.cnn import resolve_conv_impl

    def conv(h, w):
        if resolve_conv_impl("auto", "jax") == "op":
            return jax.lax.conv_general_dilated(h, w, (1, 1), "VALID")
        o, c, kh, kw = w.shape
        ho, wo = h.shape[2] - kh + 1, h.shape[3] - kw + 1
        patches = jnp.stack([h[:, :, a : a + ho, b : b + wo] for a in range(kh) for b in range(kw)], axis=2)
        return jnp.tensordot(patches, w.reshape(o, c, kh * kw), axes=[[1, 2], [1, 2]]).transpose(0, 3, 1, 2)

    def apply(params, X):
        if family != "mnist-cnn":
            return dense(params, X, names)
        h = X.reshape(X.shape[0], 1, 28, 28)
        convs = [n for n in names if n.startswith("conv_")]
        for name in convs:
            z = conv(h, params[f"w_{name}"])
            z = act(z + params[f"b_{name}"][None, :, None, None])
            n, c, hh, ww = z.shape
            h = z.reshape(n, c, hh // 2, 2, ww // 2, 2).max(axis=(3, 5))
        return dense(params, h.reshape(h.shape[0], -1), [n for n in names if n not in convs])

    return apply


def _start_params(start) -> dict:
    """The model's initial point as float32 arrays on the constrained scale, keyed by RV name."""
    out = {}
    for k, v in start.items():
        if k.endswith("_log__"):
            out[k[: -len("_log__")]] = np.exp(np.asarray(v, np.float32))
        else:
            out[k] = np.asarray(v, np.float32)
    return out


def network_params(values: dict) -> dict:
    """The network's weights and biases from the model's variables ``values`` (keyed by RV
    name): a non-centred horseshoe weight is ``w_<unit>_raw * sigma_<unit> * lambda_<unit>``
    (one lambda per input unit), as ``models.layers.layer_scale`` builds it."""
    out = {}
    for k, v in values.items():
        if k.startswith("w_") and k.endswith("_raw"):
            unit = _unit(k.removesuffix("_raw"))
            out[f"w_{unit}"] = v * values[f"sigma_{unit}"] * values[f"lambda_{unit}"][:, None]
        elif k.startswith(("w_", "b_")):
            out[k] = v
    return out


def _weight_prior(case, name, shape):
    """The builder's prior on weight ``name`` in NumPyro: article A's hierarchical Normal, the
    scale mixture (Blundell et al.) at the fixed scale, the non-centred horseshoe (the
    gallery's MLP; the sample site is ``name`` + ``_raw``), or Normal(0, 1) (moons)."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    model = case.get("model", {})
    if model.get("prior") == "horseshoe":
        unit = _unit(name)
        tau = numpyro.sample(f"sigma_{unit}", dist.HalfCauchy(model.get("scale_prior", 1.0)))
        lam = numpyro.sample(f"lambda_{unit}", dist.HalfCauchy(jnp.ones(shape[0])).to_event(1))
        raw = numpyro.sample(f"{name}_raw", dist.Normal(0.0, 1.0).expand(shape).to_event(len(shape)))
        return raw * tau * lam[:, None]
    if model.get("hierarchical"):
        scale = numpyro.sample(f"sigma_{_unit(name)}", dist.HalfNormal(1.0))
    else:
        scale = model.get("prior_sigma", 1.0)
    if model.get("prior") == "scale-mixture":
        sds = jnp.stack([scale, 0.0025 * scale])
        mix = dist.MixtureSameFamily(
            dist.Categorical(probs=jnp.broadcast_to(jnp.array([0.25, 0.75]), (*shape, 2))),
            dist.Normal(jnp.zeros((*shape, 2)), jnp.broadcast_to(sds, (*shape, 2))),
        )
        return numpyro.sample(name, mix.to_event(len(shape)))
    return numpyro.sample(name, dist.Normal(0.0, scale).expand(shape).to_event(len(shape)))


def _run_numpyro(case, data, seed, start):
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    import optax
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoNormal
    from numpyro.infer.initialization import init_to_value

    X, y = jnp.asarray(data.X_train, jnp.float32), jnp.asarray(data.y_train, jnp.int32)
    X = X.reshape(X.shape[0], -1)
    init = _start_params(start)
    shapes = {k.removesuffix("_raw"): v.shape for k, v in init.items() if k.startswith(("w_", "b_"))}
    apply = jax_network(case, start)
    binary = case["family"] == "moons"
    temperature = case.get("model", {}).get("temperature", 1.0)
    bias_sd = case.get("model", {}).get("prior_sigma", 1.0)

    def model(X, y=None):
        params = {}
        for name, shape in shapes.items():
            if name.startswith("w_"):
                params[name] = _weight_prior(case, name, shape)
            else:
                params[name] = numpyro.sample(name, dist.Normal(0.0, bias_sd).expand(shape).to_event(len(shape)))
        with (
            numpyro.plate("data", X.shape[0], subsample_size=case["batch_size"]) as idx,
            numpyro.handlers.scale(scale=1.0 / temperature),
        ):
            logits = apply(params, X[idx])
            obs = None if y is None else y[idx]
            likelihood = dist.Bernoulli(logits=logits) if binary else dist.Categorical(logits=logits)
            numpyro.sample("y", likelihood, obs=obs)

    guide = AutoNormal(model, init_loc_fn=init_to_value(values=init), init_scale=case["init_sd"])
    svi = SVI(model, guide, optax.adam(LR), Trace_ELBO())
    # The fastest way to drive NumPyro: svi.update inside one compiled lax.scan (svi.run
    # recompiles on every call). First call = compile + run, second call = run.
    state0 = svi.init(jax.random.PRNGKey(seed), X, y)
    loop = jax.jit(lambda st: jax.lax.scan(lambda s, _: svi.update(s, X, y), st, None, length=case["steps"]))
    t0 = time.perf_counter()
    jax.block_until_ready(loop(state0))
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    state, _ = loop(state0)
    jax.block_until_ready(state)
    run_s = time.perf_counter() - t0
    compile_s = max(t_first - run_s, 0.0)
    draws = n_draws(case)
    post = guide.sample_posterior(jax.random.PRNGKey(seed + 1), svi.get_params(state), sample_shape=(draws,))
    Xt = jnp.asarray(data.X_test, jnp.float32).reshape(len(data.y_test), -1)
    predict = jax.jit(lambda p: jax.nn.sigmoid(apply(p, Xt)) if binary else jax.nn.softmax(apply(p, Xt), axis=-1))
    probs = 0.0
    for s in range(draws):  # one draw at a time: bounded memory for 10k images
        probs = probs + predict(network_params({k: v[s] for k, v in post.items()}))
    probs = np.asarray(probs) / draws
    pred = (probs > 0.5).astype(int) if binary else probs.argmax(-1)
    return run_s, compile_s, float(np.mean(pred == data.y_test))


def run_floor(case, data, seed):
    """The deterministic floor: ``steps`` forward and backward passes of the same network at
    fixed weights (the initial means) on random minibatches, in one compiled ``lax.scan`` in
    float32: what a step costs before anything Bayesian is added."""
    from bnngallery.inference.precision import precision_scope

    start = build(case, data, seed).initial_point()
    with precision_scope("float32"):
        return _run_floor(case, data, seed, start)


def _run_floor(case, data, seed, start):
    import jax
    import jax.numpy as jnp

    X, y = jnp.asarray(data.X_train, jnp.float32), jnp.asarray(data.y_train, jnp.int32)
    X = X.reshape(X.shape[0], -1)
    params = {k: jnp.asarray(v) for k, v in network_params(_start_params(start)).items()}
    apply = jax_network(case, start)
    B, n = case["batch_size"], X.shape[0]

    def loss(p, idx):
        logits = apply(p, X[idx])
        if case["family"] == "moons":
            return -jnp.sum(jax.nn.log_sigmoid(jnp.where(y[idx] == 1, logits, -logits)))
        return -jnp.sum(jnp.take_along_axis(jax.nn.log_softmax(logits), y[idx][:, None], axis=1))

    def body(carry, _):
        key, total = carry
        key, sub = jax.random.split(key)
        g = jax.grad(loss)(params, jax.random.randint(sub, (B,), 0, n))
        return (key, total + sum(jnp.sum(v) for v in jax.tree_util.tree_leaves(g))), None

    loop = jax.jit(lambda k: jax.lax.scan(body, (k, 0.0), None, length=case["steps"])[0][1])
    t0 = time.perf_counter()
    jax.block_until_ready(loop(jax.random.PRNGKey(seed)))
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    jax.block_until_ready(loop(jax.random.PRNGKey(seed)))
    run_s = time.perf_counter() - t0
    return run_s, max(t_first - run_s, 0.0), None


RUN = {
    "floor": run_floor,
    "engine": run_engine,
    "engine[f32]": lambda c, d, s: run_engine(c, d, s, "float32"),
    "pm.fit": run_pm_fit,
    "pm.fit[JAX]": lambda c, d, s: run_pm_fit(c, d, s, "JAX"),
    "numpyro-svi": run_numpyro,
}


def case_settings(name: str, *, smoke: bool) -> dict:
    """A case's settings (a smoke run: 2000 rows, 500 test points, a few steps)."""
    case = dict(CASES[name])
    if smoke:
        case.update(
            steps=20, pm_fit_steps=10, n_samples=min(case.get("n_samples", 2000), 2000), n_train=2000, n_test=500
        )
    return case


def measure(name: str, path: str, *, seed: int, smoke: bool) -> dict:
    """One path on one case, in this process: the row without machine, memory or ratio."""
    case = case_settings(name, smoke=smoke)
    if path.startswith("pm.fit"):
        case["steps"] = case.get("pm_fit_steps", case["steps"])
    data = load_case(case, seed)
    run_s, compile_s, acc = RUN[path](case, data, seed)
    return {
        "case": name,
        "path": path,
        "s_per_1000_steps": 1000 * run_s / case["steps"],
        "compile_seconds": compile_s,
        "test_accuracy": acc,
        "steps": case["steps"],
        "batch_size": case["batch_size"],
        "hidden": list(case["hidden"]),
        "n_train": len(data.y_train),
        "device": _device(path),
    }


def measure_in_child(name: str, path: str, *, seed: int, smoke: bool, timeout: float) -> dict:
    """:func:`measure` in a fresh Python process, with that process's peak resident memory
    (``ru_maxrss`` from ``wait4``); a path past ``timeout`` seconds is stopped."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "row.json"
        cmd = [sys.executable, __file__, "--one", name, path, "--seed", str(seed), "--row-out", str(out)]
        child = subprocess.Popen([*cmd, *(["--smoke"] if smoke else [])])
        t0 = time.monotonic()
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > timeout:
                child.kill()
                _, status, usage = os.wait4(child.pid, 0)
                return _unfinished(name, path, f"stopped unfinished after {timeout:.0f} s")
            time.sleep(0.5)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0 or not out.exists():  # recorded, so one failing path does not end a long run
            return _unfinished(name, path, f"failed (exit {child.returncode}): run it alone with --one to see why")
        row = json.loads(out.read_text())
    return {**row, "peak_rss_mb": usage.ru_maxrss / 1024}


def _unfinished(name: str, path: str, note: str) -> dict:
    case = CASES[name]
    return {
        "case": name,
        "path": path,
        "s_per_1000_steps": None,
        "compile_seconds": None,
        "test_accuracy": None,
        "steps": case.get("pm_fit_steps", case["steps"]) if path.startswith("pm.fit") else case["steps"],
        "batch_size": case["batch_size"],
        "hidden": list(case["hidden"]),
        "note": note,
    }


def with_floor_ratio(rows: list[dict]) -> list[dict]:
    """Each row's step as a multiple of its case's floor (``x_floor``)."""
    floors = {r["case"]: r["s_per_1000_steps"] for r in rows if r["path"] == "floor" and r["s_per_1000_steps"]}
    return [
        {
            **r,
            "x_floor": r["s_per_1000_steps"] / floors[r["case"]]
            if r["s_per_1000_steps"] and r["case"] in floors
            else None,
        }
        for r in rows
    ]


def _with_machine(rows: list[dict]) -> list[dict]:
    """Rows stamped with the machine and its current 1-minute load average."""
    from bnngallery.provenance import machine_description, software_versions

    machine = f"{platform.processor() or platform.machine()}; {machine_description()}"
    load = os.getloadavg()[0]
    software = software_versions()
    return [{**row, "machine": machine, "software": software, "load_average_1min_at_end": load} for row in rows]


def _device(path: str) -> str:
    """Where a path runs: the JAX paths on JAX's default device, pm.fit's C/Numba backend on the CPU."""
    if path == "pm.fit":
        return "cpu"
    import jax

    return str(jax.devices()[0])


def _fmt(value, spec: str, width: int) -> str:
    return format(value, spec).rjust(width) if value is not None else "-".rjust(width)


def print_table(rows: list[dict]) -> None:
    columns = [  # header, key, format, width
        ("s/1000 steps", "s_per_1000_steps", ".3f", 12),
        ("x floor", "x_floor", ".2f", 7),
        ("compile s", "compile_seconds", ".1f", 9),
        ("test acc", "test_accuracy", ".3f", 8),
        ("peak MB", "peak_rss_mb", ".0f", 8),
    ]
    print(f"{'case':18s} {'path':12s} " + " ".join(h.rjust(w) for h, _, _, w in columns))
    for r in rows:
        cells = " ".join(_fmt(r.get(key), spec, w) for _, key, spec, w in columns)
        note = f"  ({r['note']})" if r.get("note") else ""
        print(f"{r['case']:18s} {r['path']:12s} {cells}{note}", flush=True)


#: The grid of ``--grid``: the engine's float32 step and the floor on article A's MLP.
GRID_WIDTHS = (128, 256, 512)
GRID_BATCHES = (64, 256, 1024)


def run_grid(seed: int, smoke: bool, out: Path) -> list[dict]:
    """Engine[f32] and floor per step over :data:`GRID_WIDTHS` x :data:`GRID_BATCHES`, in this process."""
    rows = []
    base = case_settings("mnist-mlp", smoke=smoke)
    data = load_case(base, seed)
    for width in GRID_WIDTHS[:1] if smoke else GRID_WIDTHS:
        for batch in GRID_BATCHES[:2] if smoke else GRID_BATCHES:
            case = {
                **base,
                "hidden": (width, width),
                "batch_size": batch,
                "steps": 20 if smoke else 500,
                "accuracy": False,
            }
            case.pop("skip", None)
            for path in ("floor", "engine[f32]"):
                run_s, compile_s, _ = RUN[path](case, data, seed)
                rows.append(
                    {
                        "width": width,
                        "batch_size": batch,
                        "path": path,
                        "steps": case["steps"],
                        "s_per_1000_steps": 1000 * run_s / case["steps"],
                        "compile_seconds": compile_s,
                    }
                )
                print(
                    f"width {width:4d} batch {batch:5d} {path:12s} {rows[-1]['s_per_1000_steps']:8.3f} s/1000",
                    flush=True,
                )
    if not smoke:
        from bnngallery.files import write_json

        write_json(_with_machine(rows), out.with_suffix(".json"))
    plot_grid(rows, out.with_suffix(".png"))
    return rows


def plot_grid(rows: list[dict], path: Path) -> None:
    """Milliseconds per step against batch size, one colour per width: the engine solid, the floor dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for k, width in enumerate(sorted({r["width"] for r in rows})):
        for kind, style in (("engine[f32]", "-o"), ("floor", "--s")):
            pts = sorted(
                (r["batch_size"], r["s_per_1000_steps"]) for r in rows if r["width"] == width and r["path"] == kind
            )
            ax.plot(
                *zip(*pts, strict=True),
                style,
                color=f"C{k}",
                label=f"{width} units, {'engine' if kind != 'floor' else 'floor'}",
            )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size")
    ax.set_ylabel("ms per step")
    ax.set_title("MNIST MLP (2 hidden layers), float32, per ADVI step")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--paths", nargs="*", default=list(PATHS), choices=list(PATHS))
    parser.add_argument("--smoke", action="store_true", help="few steps on small data, to check the script runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--path-timeout", type=float, default=1200.0, help="seconds before a path is stopped")
    parser.add_argument("--out", type=Path, default=RESULTS / "advi_speed.json")
    parser.add_argument("--grid", action="store_true", help="the batch-size x width grid instead of the cases")
    parser.add_argument("--one", nargs=2, metavar=("CASE", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--row-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from bnngallery.files import write_json

    if args.one:
        args.row_out.write_text(json.dumps(measure(*args.one, seed=args.seed, smoke=args.smoke)))
        return 0
    if args.grid:
        run_grid(
            args.seed,
            args.smoke,
            args.out.with_name("advi_speed_grid.json") if args.out == RESULTS / "advi_speed.json" else args.out,
        )
        return 0
    rows = []
    for name in args.cases:
        for path in args.paths:
            skip = CASES[name].get("skip", {}).get(path)
            row = (
                _unfinished(name, path, skip)
                if skip
                else measure_in_child(name, path, seed=args.seed, smoke=args.smoke, timeout=args.path_timeout)
            )
            rows.append(row)
            print_table([row])
            if not args.smoke:  # after every row, so a run stopped part way keeps what it measured
                write_json(_with_machine(with_floor_ratio(rows)), args.out)
    rows = _with_machine(with_floor_ratio(rows))
    print()
    print_table(rows)
    print(f"machine: {rows[0]['machine']}; 1-min load average at the end: {rows[0]['load_average_1min_at_end']:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
