"""``bnngallery run regression``: article D's regression BNN fitted by minibatch ADVI and NUTS.

Writes into ``out_dir`` the fitted results (``advi.nc``, ``nuts.nc``), the figures
(``bands.png``: predictive means and 90 % bands overlaid with the true function, the test
points and the extrapolation range; ``elbo.png``; ``sigma.png``; ``trace_nuts.png`` and
``rank_nuts.png``, the noise sd's chains by ArviZ) and ``metrics.json``::

    {"model": "regression",
     "runs": [{"method", "backend", "test_rmse", "test_log_likelihood", "coverage_90",
               "coverage_90_extrap", "epistemic_sd_in_range", "epistemic_sd_extrap",
               "sigma_mean", "sigma_sd", "fit_seconds", "compile_seconds", ...}, ...],
     "agreement": {"band_overlap", "band_width_ratio", "epistemic_sd_ratio", "sigma_sd_ratio"}
                  (ADVI against NUTS, when both ran),
     "settings": {...}}
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..diagnostics.compare import compare, parameter_table
from ..diagnostics.metrics import INTERVAL_PROB, interval_coverage, regression_predictive
from ..files import write_json
from ..plots import plot_chains, plot_elbo, plot_parameters, plot_ranks, plot_regression_bands, save_figure
from ..predict import predict
from ..provenance import machine_description, software_versions
from .common import fit_run, method_row, start_run
from .settings import get_model

METHODS = get_model("regression").run_methods


def predictive_bands(result, X, *, random_seed: int = 0, mu_draws=None) -> dict:
    """Predictive mean, 90 % band (with noise) and epistemic sd of a regression fit at ``X``.

    ``mu_draws`` (draws x rows), when given, are the already predicted means at ``X``.
    """
    from ..models import regression

    mu = predict(regression.build_model, result, X) if mu_draws is None else mu_draws
    sigma = result["posterior"][regression.NOISE].values.reshape(-1)
    return regression_predictive(mu, sigma, prob=INTERVAL_PROB, random_seed=random_seed)


def run_regression(
    *,
    methods=METHODS,
    backend: str = "jax",
    smoke: bool = False,
    out_dir: str | Path = "out/regression",
    random_seed: int = 0,
    progressbar: bool = True,
    devices: int | None = None,
    log=print,
) -> dict:
    """Article D's regression: minibatch ADVI and/or NUTS, metrics, figures, saved results."""
    from ..data.regression import make_regression_data, true_function
    from ..models import regression

    methods, size, out_dir = start_run("regression", methods, smoke=smoke, out_dir=out_dir)
    data = make_regression_data(size["n_train"], size["n_test"], random_state=random_seed)
    results, walls = fit_run(
        "regression",
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
    if "advi" in results:
        save_figure(plot_elbo(results["advi"]), out_dir / "elbo.png")
    if "nuts" in results and results["nuts"]["posterior"].sizes["chain"] > 1:  # the noise sd's chains, by ArviZ
        save_figure(plot_chains(results["nuts"], ["sigma"], title="NUTS: chains of sigma"), out_dir / "trace_nuts.png")
        save_figure(plot_ranks(results["nuts"], ["sigma"], title="NUTS: rank plot of sigma"), out_dir / "rank_nuts.png")

    x_grid = np.linspace(data.x_range[0] - 1.0, data.x_range[1] + 1.0, 400)[:, None]
    inside = (x_grid[:, 0] >= data.x_range[0]) & (x_grid[:, 0] <= data.x_range[1])
    # One prediction per fit on test, grid and extrapolation points together (one compile).
    cuts = np.cumsum([data.n_test, len(x_grid)])
    X_all = np.concatenate([data.X_test, x_grid, data.X_extrap])
    mu_all = {m: np.split(predict(regression.build_model, r, X_all), cuts, axis=1) for m, r in results.items()}
    table = compare(
        results,
        builder=regression.build_model,
        X_test=data.X_test,
        y_test=data.y_test,
        X_train=data.X_train,
        y_train=data.y_train,
        random_seed=random_seed,
        reference="nuts" if "nuts" in results else None,
        test_draws={m: v[0] for m, v in mu_all.items()},
    )
    bands = {
        m.upper(): predictive_bands(r, x_grid, random_seed=random_seed, mu_draws=mu_all[m][1])
        for m, r in results.items()
    }
    runs = []
    for (method, result), row in zip(results.items(), table["runs"], strict=True):
        ext = predictive_bands(result, data.X_extrap, random_seed=random_seed, mu_draws=mu_all[method][2])
        b = bands[method.upper()]
        out = {
            **method_row(method, result, walls[method]),
            "test_rmse": row["test_rmse"],
            "test_log_likelihood": row["test_log_likelihood"],
            "coverage_90": row["coverage_90"],
            "coverage_90_extrap": interval_coverage(ext["lo"], ext["hi"], data.y_extrap),
            "epistemic_sd_in_range": float(b["epistemic_sd"][inside].mean()),
            "epistemic_sd_extrap": float(b["epistemic_sd"][~inside].mean()),
            "sigma_mean": float(result["posterior"]["sigma"].mean()),
            "sigma_sd": float(result["posterior"]["sigma"].std()),
        }
        if method == "advi":
            out.update({k: row.get(k) for k in ("khat", "khat_verdict", "khat_ess")})
        out.update({k: v for k, v in row.items() if k.startswith("function_")})
        runs.append(out)
    agreement = None
    if {"advi", "nuts"} <= set(results):
        advi_row = next(r for r in table["runs"] if r["fit"] == "advi")
        sigma_row = next(r for r in parameter_table(results, ["sigma"], reference="nuts") if r["fit"] == "advi")
        agreement = {
            "band_overlap": advi_row["band_overlap"],
            "band_width_ratio": advi_row["band_width_ratio"],
            "epistemic_sd_ratio": advi_row["epistemic_sd_ratio"],
            "sigma_sd_ratio": sigma_row["sd_ratio"],
            "speedup": float(results["nuts"].attrs["fit_seconds"] / results["advi"].attrs["fit_seconds"]),
        }
        fig = plot_parameters({"ADVI": results["advi"], "NUTS": results["nuts"]}, ["sigma"], kind="density")
        save_figure(fig, out_dir / "sigma.png")
    fig = plot_regression_bands(
        x_grid,
        bands,
        X_test=data.X_test,
        y_test=data.y_test,
        truth=true_function,
        x_range=data.x_range,
        random_seed=random_seed,  # the bands' own seed: the figure draws the band the metrics measured
    )
    save_figure(fig, out_dir / "bands.png")
    metrics = {
        "model": "regression",
        "runs": runs,
        "agreement": agreement,
        "settings": {**size, "noise_sd": data.noise_sd, "smoke": smoke, "random_seed": random_seed, "backend": backend},
        "machine": machine_description(),
        "software": software_versions(),
    }
    write_json(metrics, out_dir / "metrics.json")
    return metrics


def compare_data(size: dict, random_seed: int) -> dict:
    """``bnngallery compare regression``: the run's training and test draws of article D's data."""
    from ..data.regression import make_regression_data

    data = make_regression_data(size["n_train"], size["n_test"], random_state=random_seed)
    return {"train": (data.X_train, data.y_train), "test": (data.X_test, data.y_test), "data": data}


def compare_figures(spec: dict, results: dict, table: dict, random_seed: int) -> dict:
    """The comparison's predictive bands of every fit against the true function (``bands.png``)."""
    from ..data.regression import true_function
    from ..plots import plot_band_grid

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
    return {"bands.png": fig}
