"""``bnngallery compare MODEL``: fit every feasible method of a gallery model and write one table.

The data and sizes are those of ``bnngallery run MODEL`` (:mod:`.settings`); the fits come
from the same loop (:func:`.common.fit_methods`) and the table from
:func:`bnngallery.diagnostics.compare.compare`.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import xarray as xr

from ..diagnostics.compare import compare, identifiable_vars, to_json, to_markdown
from ..diagnostics.elpd import has_log_likelihood
from ..diagnostics.khat import full_data_model
from ..files import write_json, write_text
from ..inference.methods import REGISTRY
from ..loglik import add_posterior_predictive
from ..plots import (
    plot_calibration,
    plot_loo_compare,
    plot_parameters,
    plot_pareto_k,
    plot_pit,
    save_figure,
)
from ..provenance import machine_description, software_versions
from ..results import fit_label
from .common import check_methods, fit_methods, use_agg
from .settings import all_compare_methods, compared_models, get_model, load, run_settings

#: Posterior draws per chain in the held-out predictive checks.
PPC_DRAWS = 500


def comparison_spec(name: str, *, smoke: bool, random_seed: int, methods=None) -> dict:
    """Data, builder and sizes of the comparison for a gallery model (its record in
    :data:`~.settings.MODELS`).

    Returns ``{"builder", "train": (X, y), "test": (X, y), "build_kwargs", "size", "methods",
    "data", "model"}``. ``methods``: the model's ``compare_methods`` (default), ``"all"``
    (:func:`~.settings.all_compare_methods`), or a sequence of method names.
    """
    if name not in compared_models():
        raise ValueError(
            f"bnngallery compare takes one of {sorted(compared_models())}; got {name!r}. "
            "(The MNIST nets have no NUTS reference; see their runs for ADVI's uncertainty.)"
        )
    model = get_model(name)
    size = run_settings(name, smoke=smoke)
    if methods is None:
        methods = model.compare_methods
    elif isinstance(methods, str) and methods == "all":
        methods = all_compare_methods(name)
    else:
        methods = check_methods(methods, tuple(REGISTRY))
    return {
        "size": size,
        "methods": tuple(methods),
        "build_kwargs": size.get("model", {}),
        "builder": model.builder(),
        "model": model,
        **load(model.compare_data)(size, random_seed),
    }


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
        if spec["model"].task == "classification":
            figures[f"calibration_{slug}.png"] = plot_calibration(checked, title=f"{key}: calibration on test data")
        else:
            figures[f"pit_{slug}.png"] = plot_pit(checked, title=f"{key}: PIT of test data")
    if identifiable_vars(next(iter(results.values()))):
        for kind in ("forest", "density"):
            figures[f"parameters_{kind}.png"] = plot_parameters(results, kind=kind)
    if spec["model"].compare_figures:
        figures.update(load(spec["model"].compare_figures)(spec, results, table, random_seed))
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
