"""``bnngallery run moons``: the two-moons BNN by minibatch ADVI (mean-field, full-rank) and NUTS,
with metrics, figures and saved results (the layout of ``metrics.json``: :mod:`.common`)."""

from __future__ import annotations

from pathlib import Path

from ..diagnostics.mcmc import function_space_convergence
from ..diagnostics.metrics import accuracy, agreement, binary_probs, log_predictive_density
from ..files import write_json
from ..inference.methods import get_method
from ..plots import (
    grid_2d,
    plot_elbo,
    plot_method_comparison,
    plot_prob_scatter,
    plot_probability_surfaces,
    save_figure,
)
from ..predict import predict
from ..provenance import machine_description, software_versions
from .common import fit_run, method_row, start_run
from .settings import get_model

METHODS = get_model("moons").run_methods


def run_moons(
    *,
    methods=METHODS,
    backend: str = "jax",
    smoke: bool = False,
    out_dir: str | Path = "out/moons",
    random_seed: int = 0,
    progressbar: bool = True,
    devices: int | None = None,
    log=print,
) -> dict:
    """The two-moons gallery run: minibatch ADVI and/or NUTS, metrics, figures, saved results.

    ``methods`` is drawn from ``("advi", "fullrank_advi", "nuts")``: mean-field minibatch ADVI
    (the article's), full-rank minibatch ADVI (best of ``approximations["fullrank_advi"]["restarts"]`` fits by final
    ELBO), NUTS. Sizes: :data:`bnngallery.runs.settings.SETTINGS` ``["moons"]``.
    """
    from ..data import make_moons_data
    from ..models import moons

    methods, size, out_dir = start_run("moons", methods, smoke=smoke, out_dir=out_dir)
    data = make_moons_data(random_state=random_seed)
    results, walls = fit_run(
        "moons",
        data.X_train,
        data.y_train,
        methods=methods,
        size=size,
        backend=backend,
        random_seed=random_seed,
        progressbar=progressbar,
        devices=devices,
        out_dir=out_dir,
        log=log,
    )
    xx, yy, grid = grid_2d(3.0, 100)
    runs, test_probs, grids = [], {}, {}
    for method, result in results.items():
        p_test = predict(moons.build_model, result, data.X_test)
        grids[method] = predict(moons.build_model, result, grid)
        test_probs[method] = binary_probs(p_test)
        runs.append(
            {
                **method_row(method, result, walls[method]),
                "test_accuracy": accuracy(test_probs[method], data.y_test),
                "test_log_likelihood": log_predictive_density(p_test, data.y_test),
            }
        )
        if method == "nuts" and result["posterior"].sizes["chain"] > 1:
            runs[-1].update(function_space_convergence(p_test, result["posterior"].sizes["chain"]))
        if method != "nuts":
            save_figure(plot_elbo(result), out_dir / ("elbo.png" if method == "advi" else f"elbo_{method}.png"))
        save_figure(
            plot_probability_surfaces(xx, yy, grids[method], X=data.X_test, y=data.y_test, method=method.upper()),
            out_dir / f"surfaces_{method}.png",
        )
    metrics = {
        "model": "moons",
        "runs": runs,
        "agreement": None,
        "settings": {**size, "smoke": smoke, "random_seed": random_seed, "backend": backend},
        "machine": machine_description(),
        "software": software_versions(),
    }
    if {"advi", "nuts"} <= set(test_probs):
        metrics["agreement"] = agreement(test_probs["advi"], test_probs["nuts"])
    if {"fullrank_advi", "nuts"} <= set(test_probs):
        metrics["agreement_fullrank"] = agreement(test_probs["fullrank_advi"], test_probs["nuts"])
        save_figure(
            plot_method_comparison(
                xx, yy, {get_method(m).label: g for m, g in grids.items()}, X=data.X_test, y=data.y_test
            ),
            out_dir / "advi_vs_nuts.png",
        )
    if {"advi", "nuts"} <= set(test_probs):
        save_figure(plot_prob_scatter(test_probs["advi"], test_probs["nuts"]), out_dir / "agreement.png")
    write_json(metrics, out_dir / "metrics.json")
    return metrics


def compare_data(size: dict, random_seed: int) -> dict:
    """``bnngallery compare moons``: the run's data, trained on one half, tested on the other."""
    from ..data import make_moons_data

    data = make_moons_data(random_state=random_seed)
    return {"train": (data.X_train, data.y_train), "test": (data.X_test, data.y_test), "data": data}


def compare_figures(spec: dict, results: dict, table: dict, random_seed: int) -> dict:
    """The comparison's predictive surfaces of every fit (``surfaces.png``)."""
    from ..plots import plot_uncertainty_grid

    xx, yy, grid = grid_2d(3.0, 100)
    grids = {key: predict(spec["builder"], r, grid) for key, r in results.items()}
    draw = plot_uncertainty_grid if len(grids) > 3 else plot_method_comparison  # rows of two panels: for a few
    return {"surfaces.png": draw(xx, yy, grids, X=spec["test"][0], y=spec["test"][1])}
