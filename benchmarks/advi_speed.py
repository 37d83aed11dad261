"""Seconds per 1000 ADVI steps and final test accuracy: the gallery's JAX engine against its peers.

One run measures, on the same network, data and batch size:

- ``engine``: ``bnngallery.fit(model, "advi", backend="jax")`` (float64, PyMC's precision);
- ``engine[f32]``: the same with ``precision="float32"``;
- ``pm.fit``: stock PyMC ADVI on its default backend (Adam, step 0.01: the stock
  adagrad_window optimizer stops near 88 % on moons, BASELINE.md);
- ``pm.fit[JAX]``: the same with ``compile_kwargs={"mode": "JAX"}``;
- ``numpyro-svi``: NumPyro SVI with ``AutoNormal`` and a subsampling plate, Adam 0.01,
  driven the fastest way (``svi.update`` inside one compiled ``lax.scan``), in its own
  float32.

Every path starts from the builder's initial means and the same initial posterior sd.
Cases: ``moons`` (2x5 tanh, 500 train points, batch 50, 30k steps), ``wide`` (2x64 tanh,
20k train points, batch 128, 20k steps) and ``mnist-mlp`` (article A's hierarchical MLP,
2x256 tanh, 60k MNIST images, batch 256, 2000 steps; needs ``BNNGALLERY_DATA_DIR`` offline).
Writes ``benchmarks/results/advi_speed.json`` (a list of rows with ``case``, ``path``,
``s_per_1000_steps``, ``compile_seconds``, ``test_accuracy``) and prints a table.
``--smoke`` runs a few hundred steps of each.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

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
    },
}
PATHS = ("engine", "engine[f32]", "pm.fit", "pm.fit[JAX]", "numpyro-svi")
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
    from bnngallery.models import mnist_mlp, moons

    return moons.build_model if case["family"] == "moons" else mnist_mlp.build_model


def build(case, data, seed):
    return builder(case)(
        data.X_train,
        data.y_train,
        hidden=case["hidden"],
        **case.get("model", {}),
        batch_size=case["batch_size"],
        random_seed=seed,
    )


def _accuracy(case, result, data):
    from bnngallery import predict
    from bnngallery.diagnostics.metrics import accuracy

    draws = DRAWS if case["family"] == "moons" else 100
    return accuracy(predict(builder(case), result, data.X_test, draws=draws).mean(axis=0), data.y_test)


def run_engine(case, data, seed, precision="float64"):
    from bnngallery import fit

    r = fit(
        build(case, data, seed),
        "advi",
        steps=case["steps"],
        learning_rate=LR,
        init_sd=case["init_sd"],
        draws=DRAWS,
        random_seed=seed,
        progressbar=False,
        precision=precision,
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
    sample = approx.sample(DRAWS, random_seed=seed)
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
    widths = [X.shape[1], *case["hidden"]]
    mnist = case["family"] == "mnist-mlp"
    names = ["in", *[str(i) for i in range(1, len(case["hidden"]))], "out"]

    def model(X, y=None):
        h_layers = []
        if mnist:  # article A's hierarchical MLP: per-layer HalfNormal(1) scales, N(0, 0.1) biases
            sizes = [*widths, 10]
            for i, nm in enumerate(names):
                sd = numpyro.sample(f"sigma_{nm}", dist.HalfNormal(1.0))
                W = numpyro.sample(f"w_{nm}", dist.Normal(0, sd).expand([sizes[i], sizes[i + 1]]).to_event(2))
                b = numpyro.sample(f"b_{nm}", dist.Normal(0, 0.1).expand([sizes[i + 1]]).to_event(1))
                h_layers.append((W, b))
        else:
            for i in range(len(case["hidden"])):
                h_layers.append(
                    (
                        numpyro.sample(
                            f"w_{names[i]}", dist.Normal(0, 1).expand([widths[i], widths[i + 1]]).to_event(2)
                        ),
                        0.0,
                    )
                )
            h_layers.append((numpyro.sample("w_out", dist.Normal(0, 1).expand([widths[-1]]).to_event(1)), 0.0))
        with numpyro.plate("data", X.shape[0], subsample_size=case["batch_size"]) as idx:
            h = X[idx]
            for k, (W, b) in enumerate(h_layers):
                h = h @ W + b
                if k < len(h_layers) - 1:
                    h = jnp.tanh(h)
            obs = None if y is None else y[idx]
            if mnist:
                numpyro.sample("y", dist.Categorical(logits=h), obs=obs)
            else:
                numpyro.sample("y", dist.Bernoulli(logits=h), obs=obs)

    init = {k: np.asarray(v, np.float32) for k, v in start.items() if not k.endswith("_log__")}
    init.update(
        {k[: -len("_log__")]: np.exp(np.asarray(v, np.float32)) for k, v in start.items() if k.endswith("_log__")}
    )
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
    n_draws = DRAWS if not mnist else 100
    post = guide.sample_posterior(jax.random.PRNGKey(seed + 1), svi.get_params(state), sample_shape=(n_draws,))
    Xt = jnp.asarray(data.X_test, jnp.float32).reshape(len(data.y_test), -1)
    probs = 0.0
    for s in range(n_draws):  # one draw at a time: bounded memory for 10k images
        h = Xt
        for k, nm in enumerate(names):
            h = h @ post[f"w_{nm}"][s] + (post[f"b_{nm}"][s] if mnist else 0.0)
            if k < len(names) - 1:
                h = jnp.tanh(h)
        probs = probs + (jax.nn.softmax(h, axis=-1) if mnist else jax.nn.sigmoid(h))
    probs = np.asarray(probs) / n_draws
    pred = probs.argmax(-1) if mnist else (probs > 0.5).astype(int)
    return run_s, compile_s, float(np.mean(pred == data.y_test))


RUN = {
    "engine": run_engine,
    "engine[f32]": lambda c, d, s: run_engine(c, d, s, "float32"),
    "pm.fit": run_pm_fit,
    "pm.fit[JAX]": lambda c, d, s: run_pm_fit(c, d, s, "JAX"),
    "numpyro-svi": run_numpyro,
}


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--paths", nargs="*", default=list(PATHS), choices=list(PATHS))
    parser.add_argument("--smoke", action="store_true", help="few steps, to check the script runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "advi_speed.json")
    args = parser.parse_args(argv)

    from bnngallery.files import write_json

    rows = []
    for name in args.cases:
        case = dict(CASES[name])
        if args.smoke:
            case.update(steps=300, n_samples=min(case.get("n_samples", 2000), 2000), n_train=2000, n_test=500)
        data = load_case(case, args.seed)
        for path in args.paths:
            run_s, compile_s, acc = RUN[path](case, data, args.seed)
            row = {
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
            rows.append(row)
            if not args.smoke:  # after every row, so a run stopped part way keeps what it measured
                write_json(_with_machine(rows), args.out)
            print(
                f"{name:9s} {path:12s} {row['s_per_1000_steps']:8.3f} s/1000  compile {compile_s:6.1f} s  "
                f"acc {acc:.3f}",
                flush=True,
            )
    rows = _with_machine(rows)
    machine, load = rows[0]["machine"], rows[0]["load_average_1min_at_end"]
    print()
    print(f"{'case':9s} {'path':12s} {'s/1000 steps':>12s} {'compile s':>9s} {'test acc':>8s}  device")
    for r in rows:
        print(
            f"{r['case']:9s} {r['path']:12s} {r['s_per_1000_steps']:12.3f} {r['compile_seconds']:9.1f} "
            f"{r['test_accuracy']:8.3f}  {r['device']}"
        )
    print(f"machine: {machine}; 1-min load average at the end: {load:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
