"""End-to-end runs behind ``bnngallery run MODEL``: data -> model -> fits -> metrics, figures, results.

Each run writes into its output folder the fitted results (``<method>.nc``), the figures
(PNG) and ``metrics.json`` of the shape::

    {"model": ..., "runs": [{"method": ..., "backend": ..., <metrics>, "fit_seconds": ...,
     "compile_seconds": ..., ...}, ...], "agreement": {...}, "settings": {...}}
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np

from .engine import fit
from .metrics import accuracy, agreement, binary_probs, log_predictive_density
from .predict import predict
from .results import atomic_write, final_elbo, save_result

#: ADVI and NUTS settings per size: "full" is the article-sized run, "smoke" checks the plumbing.
#: ``restarts``: independent full-rank ADVI fits, the best final ELBO kept (one seed in six
#: falls into a poor optimum, ELBO -175 against -102..-106 for the others).
MOONS_SETTINGS = {
    "full": {"steps": 30_000, "batch_size": 50, "draws": 1000, "tune": 1000, "chains": 2, "restarts": 3},
    "smoke": {"steps": 1500, "batch_size": 50, "draws": 100, "tune": 100, "chains": 2, "restarts": 2},
}
MOONS_METHODS = ("advi", "fullrank_advi", "nuts")


def write_json(obj, path) -> Path:
    """Write JSON atomically (write a temporary file, then rename)."""
    def write(tmp):
        with open(tmp, "w") as fh:
            json.dump(obj, fh, indent=2, sort_keys=False)
            fh.write("\n")
    return atomic_write(path, write)


def max_rhat(result) -> float:
    """Largest rank-normalised R-hat over every posterior scalar (needs 2+ chains)."""
    import arviz_stats

    r = arviz_stats.rhat(result)
    return float(max(float(v.max()) for v in r.data_vars.values()))


def run_moons(
    *,
    methods=("advi", "fullrank_advi", "nuts"),
    backend: str = "jax",
    smoke: bool = False,
    out_dir: str | Path = "out/moons",
    random_seed: int = 0,
    progressbar: bool = True,
    log=print,
) -> dict:
    """The two-moons gallery run: minibatch ADVI and/or NUTS, metrics, figures, saved results.

    ``methods`` is drawn from ``("advi", "fullrank_advi", "nuts")``: mean-field minibatch ADVI
    (the article's), full-rank minibatch ADVI (best of ``restarts`` fits by final ELBO), NUTS.
    """
    bad = [m for m in methods if m not in MOONS_METHODS]
    if bad or not methods:
        raise ValueError(f"methods must be drawn from {MOONS_METHODS}; got {list(methods)!r}.")
    import matplotlib

    matplotlib.use("Agg")
    from .plots import (grid_2d, plot_elbo, plot_method_comparison, plot_prob_scatter,
                        plot_probability_surfaces, save_figure)
    from bnngallery.data import make_moons_data
    from bnngallery.models import moons

    size = MOONS_SETTINGS["smoke" if smoke else "full"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = make_moons_data(random_state=random_seed)
    xx, yy, grid = grid_2d(3.0, 100)
    runs, test_probs, grids = [], {}, {}
    for method in methods:
        t0 = time.perf_counter()
        if method != "nuts":
            model = moons.build_model(data.X_train, data.y_train, batch_size=size["batch_size"], random_seed=random_seed)
            restarts = size["restarts"] if method == "fullrank_advi" else 1
            log(f"[moons] {'full-rank' if restarts > 1 else 'mean-field'} ADVI ({backend}), minibatch "
                f"{size['batch_size']}, {size['steps']} steps" + (f", best of {restarts} by ELBO" if restarts > 1 else ""))
            result = fit(model, method, backend=backend, steps=size["steps"], draws=size["draws"],
                         random_seed=random_seed, progressbar=progressbar, restarts=restarts)
        else:
            model = moons.build_model(data.X_train, data.y_train, random_seed=random_seed)
            log(f"[moons] NUTS ({'numpyro' if backend == 'jax' else 'pymc'}), {size['chains']} chains x "
                f"({size['tune']} tune + {size['draws']} draws)")
            result = fit(model, "nuts", backend=backend, draws=size["draws"], tune=size["tune"],
                         chains=size["chains"], random_seed=random_seed, progressbar=progressbar)
        wall = time.perf_counter() - t0
        if int(result.attrs.get("interrupted", 0)):
            # keep the state reached (marked interrupted) and stop the run there
            save_result(result, out_dir / f"{method}_interrupted.nc")
            log(f"[moons] {method} interrupted after {result.attrs.get('steps_done', '?')} steps; "
                f"saved {out_dir / f'{method}_interrupted.nc'}")
            raise KeyboardInterrupt
        save_result(result, out_dir / f"{method}.nc")
        p_test = predict(moons.build_model, result, data.X_test)
        p_grid = predict(moons.build_model, result, grid)
        test_probs[method] = binary_probs(p_test)
        grids[method] = p_grid
        row = {
            "method": method,
            "backend": result.attrs["backend"],
            "test_accuracy": accuracy(test_probs[method], data.y_test),
            "test_log_likelihood": log_predictive_density(p_test, data.y_test),
            "fit_seconds": float(result.attrs["fit_seconds"]),
            "compile_seconds": float(result.attrs["compile_seconds"]),
            "wall_seconds": wall,
        }
        if method != "nuts":
            row["steps"] = int(result.attrs["steps_done"])
            row["final_elbo"] = final_elbo(result)
            if "restart_elbos" in result.attrs:
                row["restart_elbos"] = json.loads(result.attrs["restart_elbos"])
            save_figure(plot_elbo(result), out_dir / ("elbo.png" if method == "advi" else f"elbo_{method}.png"))
        else:
            row["steps"] = size["tune"] + size["draws"]
            row["divergences"] = int(result.attrs["divergences"])
            row["max_rhat"] = max_rhat(result)
        save_figure(plot_probability_surfaces(xx, yy, p_grid, X=data.X_test, y=data.y_test, method=method.upper()),
                    out_dir / f"surfaces_{method}.png")
        runs.append(row)
    metrics = {"model": "moons", "runs": runs, "agreement": None,
               "settings": {**size, "smoke": smoke, "random_seed": random_seed, "backend": backend},
               "machine": f"{platform.machine()} {platform.system()}, {_cpu_count()} CPUs"}
    if {"advi", "nuts"} <= set(test_probs):
        metrics["agreement"] = agreement(test_probs["advi"], test_probs["nuts"])
    if {"fullrank_advi", "nuts"} <= set(test_probs):
        metrics["agreement_fullrank"] = agreement(test_probs["fullrank_advi"], test_probs["nuts"])
        labels = {"advi": "ADVI", "fullrank_advi": "ADVI full-rank", "nuts": "NUTS"}
        save_figure(plot_method_comparison(xx, yy, {labels[m]: g for m, g in grids.items()},
                                           X=data.X_test, y=data.y_test), out_dir / "advi_vs_nuts.png")
        save_figure(plot_prob_scatter(test_probs["advi"], test_probs["nuts"]), out_dir / "agreement.png")
    write_json(metrics, out_dir / "metrics.json")
    return metrics


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def summary_table(metrics: dict) -> str:
    """A plain-text table of a metrics dict: one row per fit, one column per scalar metric."""
    cols: list[str] = []
    for r in metrics["runs"]:
        cols += [k for k, v in r.items() if k not in cols and isinstance(v, (str, int, float)) and k != "wall_seconds"]
    rows = [[_fmt(r.get(c, "")) for c in cols] for r in metrics["runs"]]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    if metrics.get("agreement"):
        lines.append("agreement (ADVI vs NUTS): "
                     + ", ".join(f"{k} = {_fmt(v)}" for k, v in metrics["agreement"].items()))
    return "\n".join(lines)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"
    return str(v)


#: CLI model name -> "module:function" of its run; imported only when that model is run.
RUNNERS = {
    "moons": "bnngallery.workflows:run_moons",
    "regression": "bnngallery.workflows_regression:run_regression",
    "mnist-mlp": "bnngallery.workflows_mnist:run_mnist_mlp",
    "mnist-cnn": "bnngallery.workflows_mnist:run_mnist_cnn",
    "ode": "bnngallery.workflows_ode:run_ode",
}


def get_runner(name: str):
    """The run function registered under ``name``."""
    from importlib import import_module

    module, func = RUNNERS[name].split(":")
    return getattr(import_module(module), func)
