"""``bnngallery compare MODEL``: fit every feasible method of a gallery model and write one table.

The data and sizes are those of ``bnngallery run MODEL`` (:mod:`.settings`); the fits come
from the same loop (:func:`.common.fit_methods`) and the table from
:func:`bnngallery.diagnostics.compare.compare`.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import xarray as xr

from ..diagnostics.compare import compare, identifiable_vars, to_json, to_markdown
from ..diagnostics.elpd import has_log_likelihood
from ..diagnostics.khat import full_data_model
from ..diagnostics.metrics import regression_predictive
from ..files import write_json, write_text
from ..fitting import METHODS
from ..loglik import add_posterior_predictive
from ..plots import (
    grid_2d,
    plot_band_grid,
    plot_calibration,
    plot_loo_compare,
    plot_method_comparison,
    plot_parameters,
    plot_pareto_k,
    plot_pit,
    plot_regression_bands,
    plot_uncertainty_grid,
    save_figure,
)
from ..predict import predict
from ..provenance import machine_description, software_versions
from ..results import fit_label
from .common import check_methods, fit_methods, use_agg
from .settings import ALL_COMPARE_METHODS, COMPARE_METHODS, run_settings

#: Posterior draws per chain in the held-out predictive checks.
PPC_DRAWS = 500


def comparison_spec(name: str, *, smoke: bool, random_seed: int, methods=None) -> dict:
    """Data, builder and sizes of the comparison for a gallery model.

    Returns ``{"builder", "train": (X, y), "test": (X, y), "build_kwargs", "size", "methods",
    "data"}``. ``methods``: the model's :data:`~.settings.COMPARE_METHODS` (default), ``"all"``
    (:data:`~.settings.ALL_COMPARE_METHODS`), or a sequence of method names.
    """
    if name not in COMPARE_METHODS:
        raise ValueError(
            f"bnngallery compare takes one of {sorted(COMPARE_METHODS)}; got {name!r}. "
            "(The MNIST nets have no NUTS reference; see their runs for ADVI's uncertainty.)"
        )
    size = run_settings(name, smoke=smoke)
    if methods is None:
        methods = COMPARE_METHODS[name]
    elif isinstance(methods, str) and methods == "all":
        methods = ALL_COMPARE_METHODS[name]
    else:
        methods = check_methods(methods, METHODS)
    spec = {"size": size, "methods": tuple(methods), "build_kwargs": size.get("model", {})}
    if name == "moons":
        from ..data import make_moons_data
        from ..models import moons

        data = make_moons_data(random_state=random_seed)
        return {
            **spec,
            "builder": moons.build_model,
            "train": (data.X_train, data.y_train),
            "test": (data.X_test, data.y_test),
            "data": data,
        }
    if name == "regression":
        from ..data.regression import make_regression_data
        from ..models import regression

        data = make_regression_data(size["n_train"], size["n_test"], random_state=random_seed)
        return {
            **spec,
            "builder": regression.build_model,
            "train": (data.X_train, data.y_train),
            "test": (data.X_test, data.y_test),
            "data": data,
        }
    from ..data.ode import make_decay_data
    from ..models import ode

    # known truth: train and test are two noisy draws on one grid
    train, test = make_decay_data(random_state=random_seed), make_decay_data(random_state=random_seed + 1000)
    return {**spec, "builder": ode.build_model, "train": (train.t, train.y), "test": (test.t, test.y), "data": train}


def fit_spec(
    spec: dict, *, random_seed: int = 0, progressbar: bool = True, log=print, failures: dict | None = None
) -> dict[str, xr.DataTree]:
    """Fit every method of a comparison spec; keys are ``"<method> (<backend>)"``. With a
    ``failures`` dict, a method whose fit diverges is recorded there and left out."""
    builder, (X, y) = spec["builder"], spec["train"]
    results, _ = fit_methods(
        builder,
        X,
        y,
        methods=spec["methods"],
        size=spec["size"],
        random_seed=random_seed,
        progressbar=progressbar,
        build_kwargs=spec["build_kwargs"],
        log=log,
        tag="compare",
        failures=failures,
    )
    return {fit_label(r): r for r in results.values()}


def run_comparison(
    name: str,
    *,
    smoke: bool = False,
    out_dir: str | Path | None = None,
    random_seed: int = 0,
    progressbar: bool = True,
    log=print,
    methods=None,
) -> dict:
    """``bnngallery compare MODEL``: fit the feasible methods and write table and figures.

    ``methods`` as in :func:`comparison_spec` (``bnngallery compare MODEL --methods all``).

    Writes into ``out_dir`` (default ``out/compare/<model>``) ``comparison.md``,
    ``comparison.json`` and the figures: ``loo_compare.png`` (ArviZ's ELPD-LOO ranking),
    ``pareto_k_<fit>.png`` per fit, a predictive check of the test data per fit
    (``calibration_<fit>.png`` for moons, ``pit_<fit>.png`` otherwise; all four by ArviZ),
    ``parameters_forest.png`` and
    ``parameters_density.png`` (when the model has identifiable parameters), ``surfaces.png``
    (moons: every fit's predictive surfaces) and ``bands.png`` (regression). Returns the
    JSON-safe table, whose ``files`` lists every file written.
    """
    use_agg()
    out_dir = Path(out_dir) if out_dir is not None else Path("out") / "compare" / name
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = comparison_spec(name, smoke=smoke, random_seed=random_seed, methods=methods)
    t0 = time.perf_counter()
    failures: dict[str, str] = {}
    results = fit_spec(spec, random_seed=random_seed, progressbar=progressbar, log=log, failures=failures)
    table = compare(
        results,
        builder=spec["builder"],
        X_test=spec["test"][0],
        y_test=spec["test"][1],
        X_train=spec["train"][0],
        y_train=spec["train"][1],
        random_seed=random_seed,
    )
    table["failed"] = failures
    table["notes"] += [f"{m} failed and is not in the table: {msg}" for m, msg in failures.items()]
    figures = {}
    if table["loo_ranking"] is not None:
        figures["loo_compare.png"] = plot_loo_compare(table["loo_ranking"])
    for key, res in results.items():
        slug = re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_")
        row = next(r for r in table["runs"] if r["fit"] == key)
        if has_log_likelihood(res) and "elpd_loo_skipped" not in row:
            figures[f"pareto_k_{slug}.png"] = plot_pareto_k(res, title=f"{key}: Pareto k of PSIS-LOO")
        # posterior predictive check on the held-out data, drawn by ArviZ
        held_out = full_data_model(spec["builder"], res, *spec["test"])  # the fitted network on the test data
        checked = add_posterior_predictive(res, held_out, draws=PPC_DRAWS, random_seed=random_seed)
        if name == "moons":
            figures[f"calibration_{slug}.png"] = plot_calibration(checked, title=f"{key}: calibration on test data")
        else:
            figures[f"pit_{slug}.png"] = plot_pit(checked, title=f"{key}: PIT of test data")
    if identifiable_vars(next(iter(results.values()))):
        for kind in ("forest", "density"):
            figures[f"parameters_{kind}.png"] = plot_parameters(results, kind=kind)
    if name == "moons":
        xx, yy, grid = grid_2d(3.0, 100)
        grids = {key: predict(spec["builder"], r, grid) for key, r in results.items()}
        draw = plot_uncertainty_grid if len(grids) > 3 else plot_method_comparison  # rows of two panels: for a few
        figures["surfaces.png"] = draw(xx, yy, grids, X=spec["test"][0], y=spec["test"][1])
    if name == "regression":
        from ..data.regression import true_function

        lo = float(np.min(spec["train"][0])) - 1.0
        hi = float(np.max(spec["train"][0])) + 1.0
        grid = np.linspace(lo, hi, 300)[:, None]
        bands = {
            k: regression_predictive(
                predict(spec["builder"], r, grid), r["posterior"]["sigma"].values.reshape(-1), random_seed=random_seed
            )
            for k, r in results.items()
        }
        if len(bands) > 3:
            fig = plot_band_grid(
                grid, bands, reference=table["reference"], x_range=spec["data"].x_range, truth=true_function
            )
        else:
            fig = plot_regression_bands(
                grid,
                bands,
                X_test=spec["test"][0],
                y_test=spec["test"][1],
                truth=true_function,
                x_range=spec["data"].x_range,
                random_seed=random_seed,
            )
        figures["bands.png"] = fig
    for file, fig in figures.items():
        save_figure(fig, out_dir / file)
    out = to_json(table)
    out["settings"] = {**spec["size"], "smoke": smoke, "random_seed": random_seed}
    out["machine"] = machine_description()
    out["software"] = software_versions()
    out["wall_seconds"] = time.perf_counter() - t0
    out["files"] = ["comparison.md", "comparison.json", *figures]
    write_json(out, out_dir / "comparison.json")
    write_text(to_markdown(table), out_dir / "comparison.md")
    return out
