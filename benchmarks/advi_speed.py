"""Seconds per 1000 ADVI steps and final test accuracy: the gallery's JAX engine against its peers.

One run measures, on the same network, data and batch size:

- ``engine``: ``bnngallery.fit(model, "advi", backend="jax")``;
- ``pm.fit``: stock PyMC ADVI on its default backend (Adam, step 0.01: the stock
  adagrad_window optimizer stops near 88 % on moons, BASELINE.md);
- ``pm.fit[JAX]``: the same with ``compile_kwargs={"mode": "JAX"}``;
- ``numpyro-svi``: NumPyro SVI with ``AutoNormal`` and a subsampling plate, Adam 0.01,
  driven the fastest way (``svi.update`` inside one compiled ``lax.scan``).

Cases: ``moons`` (2x5 tanh, 500 train points, batch 50, 30k steps) and ``wide`` (2x64 tanh,
20k train points, batch 128, 20k steps). Writes ``benchmarks/results/advi_speed.json``
(a list of rows with ``case``, ``path``, ``s_per_1000_steps``, ``compile_seconds``,
``test_accuracy``) and prints a table. ``--smoke`` runs a few hundred steps of each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

CASES = {
    "moons": {"n_samples": 1000, "hidden": (5, 5), "batch_size": 50, "steps": 30_000},
    "wide": {"n_samples": 40_000, "hidden": (64, 64), "batch_size": 128, "steps": 20_000},
}
PATHS = ("engine", "pm.fit", "pm.fit[JAX]", "numpyro-svi")
LR = 0.01
DRAWS = 500


def _accuracy(build, result, data):
    from bnngallery import predict
    from bnngallery.metrics import accuracy, binary_probs

    return accuracy(binary_probs(predict(build, result, data.X_test, draws=DRAWS)), data.y_test)


def run_engine(case, data, seed):
    from bnngallery import fit
    from bnngallery.models import moons

    model = moons.build_model(data.X_train, data.y_train, hidden=case["hidden"], batch_size=case["batch_size"],
                              random_seed=seed)
    # wide nets start narrow (BASELINE: wide initial noise saturates them)
    init_sd = None if case["hidden"] == (5, 5) else 0.1
    r = fit(model, "advi", steps=case["steps"], learning_rate=LR, init_sd=init_sd, draws=DRAWS,
            random_seed=seed, progressbar=False)
    return r.attrs["run_seconds"], r.attrs["compile_seconds"], _accuracy(moons.build_model, r, data)


def run_pm_fit(case, data, seed, mode=None):
    import pymc as pm

    from bnngallery.jaxify import posterior_var_names
    from bnngallery.models import moons
    from bnngallery.results import make_result, posterior_dataset

    model = moons.build_model(data.X_train, data.y_train, hidden=case["hidden"], batch_size=case["batch_size"],
                              random_seed=seed)
    first = []
    kwargs = {"compile_kwargs": {"mode": mode}} if mode else {}
    t0 = time.perf_counter()
    with model:
        approx = pm.fit(case["steps"], method="advi", obj_optimizer=pm.adam(learning_rate=LR), random_seed=seed,
                        progressbar=False, callbacks=[lambda *a: first.append(time.perf_counter()) if not first else None],
                        **kwargs)
    t1 = time.perf_counter()
    compile_s = first[0] - t0
    run_s = t1 - first[0]
    sample = approx.sample(DRAWS, random_seed=seed)
    names = posterior_var_names(model)
    result = make_result(posterior=posterior_dataset(model, {n: sample.posterior[n].values for n in names}),
                         method="advi", backend="pytensor", compile_seconds=compile_s, run_seconds=run_s,
                         settings={}, model_info=model.gallery_info)
    return run_s, compile_s, _accuracy(moons.build_model, result, data)


def run_numpyro(case, data, seed):
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    import optax
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoNormal

    X, y = jnp.asarray(data.X_train), jnp.asarray(data.y_train)
    widths = [X.shape[1], *case["hidden"]]

    def model(X, y=None):
        Ws = [numpyro.sample(f"w{i}", dist.Normal(0, 1).expand([widths[i], widths[i + 1]]).to_event(2))
              for i in range(len(case["hidden"]))]
        w_out = numpyro.sample("w_out", dist.Normal(0, 1).expand([widths[-1]]).to_event(1))
        with numpyro.plate("data", X.shape[0], subsample_size=case["batch_size"]) as idx:
            h = X[idx]
            for W in Ws:
                h = jnp.tanh(h @ W)
            numpyro.sample("y", dist.Bernoulli(logits=h @ w_out), obs=None if y is None else y[idx])

    guide = AutoNormal(model, init_scale=1.0 if case["hidden"] == (5, 5) else 0.1)
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
    post = guide.sample_posterior(jax.random.PRNGKey(seed + 1), svi.get_params(state), sample_shape=(DRAWS,))
    h = jnp.broadcast_to(jnp.asarray(data.X_test), (DRAWS, *data.X_test.shape))
    for i in range(len(case["hidden"])):
        h = jnp.tanh(jnp.einsum("snd,sdh->snh", h, post[f"w{i}"]))
    p = jax.nn.sigmoid(jnp.einsum("snh,sh->sn", h, post["w_out"]))
    acc = float(np.mean((np.asarray(p).mean(0) > 0.5) == data.y_test))
    return run_s, compile_s, acc


RUN = {"engine": run_engine, "pm.fit": run_pm_fit, "pm.fit[JAX]": lambda c, d, s: run_pm_fit(c, d, s, "JAX"),
       "numpyro-svi": run_numpyro}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--paths", nargs="*", default=list(PATHS), choices=list(PATHS))
    parser.add_argument("--smoke", action="store_true", help="few steps, to check the script runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "advi_speed.json")
    args = parser.parse_args(argv)

    from bnngallery.data import make_moons_data
    from bnngallery.workflows import write_json

    rows = []
    for name in args.cases:
        case = dict(CASES[name])
        if args.smoke:
            case["steps"] = 300
            case["n_samples"] = min(case["n_samples"], 2000)
        data = make_moons_data(case["n_samples"], random_state=args.seed)
        for path in args.paths:
            run_s, compile_s, acc = RUN[path](case, data, args.seed)
            row = {"case": name, "path": path, "s_per_1000_steps": 1000 * run_s / case["steps"],
                   "compile_seconds": compile_s, "test_accuracy": acc, "steps": case["steps"],
                   "batch_size": case["batch_size"], "hidden": list(case["hidden"]), "n_train": len(data.y_train)}
            rows.append(row)
            print(f"{name:6s} {path:12s} {row['s_per_1000_steps']:8.3f} s/1000  compile {compile_s:6.1f} s  "
                  f"acc {acc:.3f}", flush=True)
    machine = f"{platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} CPUs, {platform.system()}"
    load = os.getloadavg()[0]
    for row in rows:
        row["machine"] = machine
        row["load_average_1min_at_end"] = load
    if not args.smoke:  # smoke numbers are not results
        write_json(rows, args.out)
    print()
    print(f"{'case':6s} {'path':12s} {'s/1000 steps':>12s} {'compile s':>9s} {'test acc':>8s}")
    for r in rows:
        print(f"{r['case']:6s} {r['path']:12s} {r['s_per_1000_steps']:12.3f} {r['compile_seconds']:9.1f} "
              f"{r['test_accuracy']:8.3f}")
    print(f"machine: {machine}; 1-min load average at the end: {load:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
