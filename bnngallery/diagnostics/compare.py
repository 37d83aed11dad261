"""Compare fits of one model: every approximation (:data:`bnngallery.METHODS`) against NUTS.

:func:`compare` takes a dict of results of the same model and returns one table: wall time
(compile and run), ELBO where defined, held-out log predictive density, ELPD-LOO with its
standard error and Pareto k (ArviZ; :mod:`bnngallery.diagnostics.elpd`), accuracy or RMSE,
calibration (ECE for classifiers, 90 % interval coverage for regression), agreement with
the reference fit (NUTS) in function space, and for every Gaussian fit (ADVI, Laplace) its
Pareto k-hat (:mod:`bnngallery.diagnostics.khat`; for Pathfinder the k of its own
importance weights); below it, ``arviz_stats.compare``'s ranking.

:func:`parameter_table` sets posterior means and sds of the identifiable parameters (noise
scales, hyperprior scales, ODE parameters; not BNN weights, whose posterior is symmetric
and multimodal) side by side with the ratio of each fit's sd to the reference's;
:func:`bnngallery.plots.plot_parameters` overlays them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import xarray as xr

from ..files import jsonable
from ..models import call_builder
from ..models.info import model_info
from ..predict import predict
from ..results import final_elbo, is_vi, model_settings_of
from .elpd import loo_ranking, loo_summary
from .khat import KHAT_GOOD, KHAT_USABLE, full_data_model, verdict, vi_khat
from .mcmc import function_space_convergence
from .metrics import (
    accuracy,
    agreement,
    band_overlap,
    gaussian_log_predictive_density,
    interval_coverage,
    log_predictive_density,
    regression_predictive,
)
from .uncertainty import expected_calibration_error

__all__ = ["compare", "format_number", "identifiable_vars", "parameter_table", "to_json", "to_markdown"]


def format_number(v, digits: int = 3) -> str:
    """A number for a table: ``digits`` significant digits, large values whole, None blank."""
    if v is None:
        return ""
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.{digits}g}" if abs(v) < 1e4 else f"{v:.0f}"
    return str(v)


def _pick_reference(results: Mapping[str, xr.DataTree], reference: str | None) -> str | None:
    if reference is not None:
        if reference not in results:
            raise ValueError(f"reference {reference!r} is not one of the results {sorted(results)}.")
        return reference
    return next((k for k, r in results.items() if r.attrs.get("method") == "nuts"), None)


def _flat_draws(result: xr.DataTree, name: str) -> np.ndarray:
    arr = result["posterior"][name].values
    return arr.reshape(-1, *arr.shape[2:])


def _predictions(builder, result, X, *, task, output, noise_var, random_seed, draws=None):
    out = predict(builder, result, X, output=output) if draws is None else np.asarray(draws)
    if task == "regression":
        if isinstance(noise_var, (int, float)) and not isinstance(noise_var, bool):
            sigma = np.full(out.shape[0], float(noise_var))  # a known, fixed noise sd
        elif noise_var in result["posterior"]:
            sigma = _flat_draws(result, noise_var)
        else:
            raise ValueError(
                f"A regression comparison needs the noise sd {noise_var!r} in the posterior; "
                f"pass noise_var=<its name> or a fixed number."
            )
        return regression_predictive(out, sigma, random_seed=random_seed)
    return {"draws": out, "mean": np.asarray(out, dtype=np.float64).mean(axis=0)}


def identifiable_vars(result: xr.DataTree, *, max_size: int = 10) -> list[str]:
    """Posterior variables worth comparing one by one: small, and not network weights/biases.

    BNN weights (``w_*``, ``b_*``) are not identifiable (hidden units can be permuted and
    signs flipped), so comparing them across fits says nothing; noise and hyperprior scales
    and ODE parameters are.
    """
    post = result["posterior"]
    return [
        n
        for n in post.data_vars
        if not n.startswith(("w_", "b_"))
        and int(np.prod([post.sizes[d] for d in post[n].dims if d not in ("chain", "draw")], dtype=int)) <= max_size
    ]


def parameter_table(results: Mapping[str, xr.DataTree], var_names=None, *, reference: str | None = None) -> list[dict]:
    """Posterior mean and sd of each identifiable scalar per fit, and sd / reference sd.

    Returns one row per (parameter element, fit): ``parameter``, ``fit``, ``mean``, ``sd``,
    ``sd_ratio`` (None for the reference itself or when there is no reference).
    """
    reference = _pick_reference(results, reference)
    if var_names is None:
        first = results[reference] if reference else next(iter(results.values()))
        var_names = identifiable_vars(first)
    rows = []
    for name in var_names:
        ref_draws = _flat_draws(results[reference], name) if reference else None
        for key, res in results.items():
            if name not in res["posterior"]:
                continue
            d = _flat_draws(res, name)
            flat = d.reshape(d.shape[0], -1)
            ref_flat = ref_draws.reshape(ref_draws.shape[0], -1) if ref_draws is not None else None
            for j in range(flat.shape[1]):
                label = name if flat.shape[1] == 1 else f"{name}[{j}]"
                sd = float(flat[:, j].std(ddof=1))
                ratio = None
                if ref_flat is not None and key != reference:
                    ratio = sd / float(ref_flat[:, j].std(ddof=1))
                rows.append(
                    {"parameter": label, "fit": key, "mean": float(flat[:, j].mean()), "sd": sd, "sd_ratio": ratio}
                )
    return rows


def compare(
    results: Mapping[str, xr.DataTree],
    *,
    builder: Callable,
    X_test,
    y_test,
    X_train=None,
    y_train=None,
    reference: str | None = None,
    task: str | None = None,
    output: str | None = None,
    noise_var: str | float = "sigma",
    var_names=None,
    khat_draws: int = 2000,
    random_seed: int = 0,
    test_draws: Mapping[str, np.ndarray] | None = None,
) -> dict:
    """Compare fits of one model in one table.

    Parameters
    ----------
    results : dict of {str: DataTree}
        Fits of the same model family (any methods and backends), keyed by row name.
    builder : callable
        The family's ``build_model``; used to predict on held-out data and, with
        ``X_train``/``y_train``, to rebuild the full-data model for k-hat.
    X_test, y_test : arrays
        Held-out data.
    X_train, y_train : arrays, optional
        The training data; needed for k-hat (skipped with a note without them).
    reference : str, optional
        Key of the reference fit; defaults to the first NUTS fit.
    task : {"binary", "multiclass", "regression"}, optional
        Defaults to the task the model declares.
    output : str, optional
        Output Deterministic; defaults to the model's declared output.
    noise_var : str or float
        Regression: name of the observation-noise sd in the posterior, or its fixed value.
    var_names : list of str, optional
        Identifiable parameters for the parameter table (default :func:`identifiable_vars`).
    khat_draws : int
        Draws from q for k-hat.
    random_seed : int
        Seed of the k-hat draws and the predictive noise.
    test_draws : dict of {str: array}, optional
        Output draws on ``X_test`` already computed with ``predict`` (same keys as
        ``results``), to save predicting again.

    Returns
    -------
    dict
        ``{"model", "task", "reference", "runs": [one row per fit], "parameters":
        [...parameter_table rows], "notes": [...]}``; a row holds ``fit``, ``method``,
        ``backend``, ``compile_seconds``, ``run_seconds``, ``fit_seconds``,
        ``speedup_vs_reference``, ``elbo``, ``test_log_likelihood``, ``test_accuracy`` and
        ``ece`` (classifiers) or ``test_rmse`` and ``coverage_90`` (regression), agreement
        with the reference (``label_agreement``, ``mean_abs_prob_diff`` or ``band_overlap``,
        ``band_width_ratio``, ``epistemic_sd_ratio``), ``khat`` etc. for ADVI fits,
        ``divergences``, ``function_rhat_max`` and ``function_ess_bulk_min`` for NUTS, and
        the ``elpd_loo*`` keys of :func:`~bnngallery.diagnostics.elpd.loo_summary`. The table
        also holds ``loo_ranking`` (``arviz_stats.compare``'s DataFrame, or None) and
        ``predictions`` (each fit's predictive draws and summaries on ``X_test``; left out
        by :func:`to_json`).
    """
    if not results:
        raise ValueError("compare needs at least one result.")
    reference = _pick_reference(results, reference)
    families = {r.attrs.get("model_family", "") for r in results.values()}
    if len(families) > 1:
        raise ValueError(f"All results must be fits of one model family; got {sorted(families)}.")
    probe = call_builder(
        builder,
        np.asarray(X_test)[:2],
        None,
        **{k: v for k, v in model_settings_of(next(iter(results.values()))).items() if k != "batch_size"},
    )
    info = model_info(probe)
    task = task or info.task
    if task not in ("binary", "multiclass", "regression"):
        raise ValueError(f"task must be 'binary', 'multiclass' or 'regression'; got {task!r}.")
    y_test = np.asarray(y_test)
    notes: list[str] = []
    test_draws = test_draws or {}
    preds = {
        k: _predictions(
            builder,
            r,
            X_test,
            task=task,
            output=output,
            noise_var=noise_var,
            random_seed=random_seed,
            draws=test_draws.get(k),
        )
        for k, r in results.items()
    }
    ref_time = float(results[reference].attrs["fit_seconds"]) if reference else None
    rows = []
    for key, res in results.items():
        p = preds[key]
        row = {
            "fit": key,
            "method": res.attrs["method"],
            "backend": res.attrs["backend"],
            "compile_seconds": float(res.attrs["compile_seconds"]),
            "run_seconds": float(res.attrs["run_seconds"]),
            "fit_seconds": float(res.attrs["fit_seconds"]),
            "speedup_vs_reference": (ref_time / float(res.attrs["fit_seconds"])) if ref_time else None,
            "elbo": final_elbo(res),
        }
        if task == "regression":
            row["test_rmse"] = float(np.sqrt(np.mean((p["mean"] - y_test) ** 2)))
            row["test_log_likelihood"] = gaussian_log_predictive_density(p["mu_draws"], p["sigma_draws"], y_test)
            row["coverage_90"] = interval_coverage(p["lo"], p["hi"], y_test)
            row["band_width"] = float(np.mean(p["hi"] - p["lo"]))
        else:
            row["test_accuracy"] = accuracy(p["mean"], y_test)
            row["test_log_likelihood"] = log_predictive_density(p["draws"], y_test)
            row["ece"] = expected_calibration_error(p["mean"], y_test, n_bins=10)
        if reference and key != reference:
            q = preds[reference]
            if task == "regression":
                row["band_overlap"] = band_overlap(p["lo"], p["hi"], q["lo"], q["hi"])
                row["band_width_ratio"] = float(np.mean(p["hi"] - p["lo"]) / np.mean(q["hi"] - q["lo"]))
                row["epistemic_sd_ratio"] = float(np.mean(p["epistemic_sd"]) / np.mean(q["epistemic_sd"]))
            else:
                row.update(agreement(p["mean"], q["mean"]))
        if is_vi(res):
            if X_train is not None and y_train is not None:
                model = full_data_model(builder, res, X_train, y_train)
                row.update(vi_khat(res, model, draws=khat_draws, random_seed=random_seed))
            else:
                notes.append(f"{key}: k-hat skipped (pass X_train and y_train to compute it).")
        elif "pathfinder_khat" in res.attrs:  # the Pareto k of Pathfinder's own importance weights
            row.update(
                khat=float(res.attrs["pathfinder_khat"]), khat_verdict=verdict(float(res.attrs["pathfinder_khat"]))
            )
            row["khat_q"] = "pathfinder"
        if res.attrs.get("method") == "nuts":
            row["divergences"] = int(res.attrs.get("divergences", 0))
            chains, per_chain = int(res["posterior"].sizes["chain"]), int(res["posterior"].sizes["draw"])
            fdraws = np.asarray(p.get("draws", p.get("mu_draws")))
            if chains > 1 and fdraws.shape[0] == chains * per_chain:  # every draw, chain by chain
                # chains agree in function space even where the weights' R-hat cannot
                row.update(function_space_convergence(fdraws, chains))
        row.update(loo_summary(res))
        rows.append(row)
    if any(r.get("khat_q") == "marginal" for r in rows):
        notes.append(
            "k-hat of full-rank fits saved without their Cholesky factor uses a diagonal Gaussian "
            "with the fit's marginal sds."
        )
    return {
        "model": next(iter(families)) or info.family,
        "task": task,
        "reference": reference,
        "runs": rows,
        "parameters": parameter_table(results, var_names, reference=reference),
        "notes": notes,
        "loo_ranking": loo_ranking(results),
        "predictions": preds,
    }


#: Columns of the markdown table, in order, with their headers.
TABLE_COLUMNS = {
    "fit": "fit",
    "compile_seconds": "compile s",
    "run_seconds": "run s",
    "fit_seconds": "total s",
    "speedup_vs_reference": "speed-up",
    "elbo": "ELBO",
    "test_log_likelihood": "test lpd",
    "elpd_loo": "ELPD-LOO",
    "elpd_loo_se": "ELPD se",
    "elpd_loo_khat_max": "LOO max k",
    "elpd_loo_vi": "ELPD-LOO, q-corrected",
    "elpd_loo_vi_khat_max": "corrected max k",
    "test_accuracy": "accuracy",
    "test_rmse": "RMSE",
    "ece": "ECE",
    "coverage_90": "90% coverage",
    "label_agreement": "label agreement",
    "mean_abs_prob_diff": "mean abs dP",
    "band_overlap": "band overlap",
    "band_width_ratio": "band width ratio",
    "epistemic_sd_ratio": "epistemic sd ratio",
    "khat": "k-hat",
    "khat_verdict": "k-hat verdict",
    "divergences": "divergences",
    "function_rhat_max": "R-hat of predictions",
}


def to_markdown(table: dict) -> str:
    """The comparison (and the parameter table, if any) as GitHub markdown."""
    cols = [c for c in TABLE_COLUMNS if any(r.get(c) is not None for r in table["runs"])]
    lines = [
        f"## {table['model']}: comparison (reference: {table['reference'] or 'none'})",
        "",
        "| " + " | ".join(TABLE_COLUMNS[c] for c in cols) + " |",
        "|" + "---|" * len(cols),
    ]
    lines += ["| " + " | ".join(format_number(r.get(c)) for c in cols) + " |" for r in table["runs"]]
    if table.get("parameters"):
        lines += [
            "",
            "### Identifiable parameters",
            "",
            "| parameter | fit | mean | sd | sd / reference sd |",
            "|---|---|---|---|---|",
        ]
        lines += [
            "| "
            + " | ".join([r["parameter"], r["fit"], *(format_number(r[k]) for k in ("mean", "sd", "sd_ratio"))])
            + " |"
            for r in table["parameters"]
        ]
    ranking = _ranking_records(table.get("loo_ranking"))
    if ranking:
        lines += [
            "",
            "### Ranking by ELPD-LOO (arviz_stats.compare)",
            "",
            "| fit | rank | ELPD | ELPD difference | se of difference | weight |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['fit']} | {int(r['rank'])} | "
            + " | ".join(format_number(r[c]) for c in ("elpd", "elpd_diff", "dse", "weight"))
            + " |"
            for r in ranking
        ]
    lines += [
        "",
        f"k-hat (Pareto-smoothed importance sampling, Yao et al. 2018): < {KHAT_GOOD} good, "
        f"< {KHAT_USABLE} usable, above: the approximation is not a reliable posterior. ELPD-LOO: "
        "PSIS-LOO on each fit's own draws; for ADVI also corrected by lp - log q (loo_approximate_posterior), "
        "trustworthy only where its max k is below about 0.7.",
    ]
    lines += [f"- {n}" for n in table.get("notes", [])]
    return "\n".join(lines) + "\n"


def to_json(table: dict) -> dict:
    """The JSON-safe part of a comparison (no prediction arrays; non-finite numbers as null)."""
    out = {k: v for k, v in table.items() if k not in ("predictions", "loo_ranking")}
    out["loo_ranking"] = _ranking_records(table.get("loo_ranking"))
    return jsonable(out)


def _ranking_records(ranking) -> list[dict] | None:
    """``arviz_stats.compare``'s DataFrame (or its JSON records) as records with a ``fit`` key."""
    if ranking is None or isinstance(ranking, list):
        return ranking
    return [{"fit": k, **r} for k, r in ranking.to_dict("index").items()]
