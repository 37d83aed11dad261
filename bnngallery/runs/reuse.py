"""Bring your own data: the builders, with their defaults, on public data sets they were not
written for (:mod:`bnngallery.data.sklearn_sets`), checked against NUTS where NUTS is
practical and against scikit-learn's best non-Bayesian baseline.

``fit_reuse(name)`` fits one data set; ``run_reuse()`` fits them all and returns the table
that ``benchmarks/reuse.py`` writes and the "bring your own data" notebook shows. Only the
architecture is chosen per data set (a user picks a network's size; the builders' other
settings and ``fit``'s are the defaults); the sizes are in :data:`SETTINGS` ``["reuse"]``.
"""

from __future__ import annotations

import json
import time
import warnings

import numpy as np
import pandas as pd

from .. import fit, predict
from ..collapse import CollapseWarning
from ..data.sklearn_sets import REUSE_SETS, friedman_function, load_reuse_set
from ..diagnostics.metrics import (
    INTERVAL_PROB,
    accuracy,
    gaussian_log_predictive_density,
    interval_coverage,
    log_predictive_density,
    regression_predictive,
)
from ..models import cnn, mnist_mlp, moons, regression
from .settings import run_settings

#: data set -> (builder module, architecture keywords, NUTS practical on 2 CPU cores)
SPECS = {
    "circles": (moons, {}, True),
    "breast-cancer": (moons, {}, True),
    "imbalanced": (moons, {}, True),
    "wine": (mnist_mlp, {"hidden": (16,)}, True),
    "digits": (cnn, {"filters": (8, 16), "kernel": 3, "dense": (32,)}, False),
    "digits-rgb": (cnn, {"filters": (8, 16), "kernel": 3, "dense": (32,)}, False),
    "friedman": (regression, {"hidden": (16, 16)}, True),  # x1 x2 interact: one layer of 50 underfit
    "diabetes": (regression, {}, True),
}


def baselines(kind: str, data, *, smoke: bool = False) -> dict[str, float]:
    """scikit-learn's non-Bayesian baselines on the split: test accuracy (classifiers) or RMSE.

    ``smoke`` keeps the linear model alone (a plumbing check; the others take most of a smoke
    run's time)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, RidgeCV
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, SVR

    X_tr, X_te = data.X_train.reshape(len(data.X_train), -1), data.X_test.reshape(len(data.X_test), -1)
    if kind == "regression":
        models = {
            "ridge": RidgeCV(alphas=np.logspace(-3, 3, 13)),
            "gradient boosting": HistGradientBoostingRegressor(random_state=0),
            "SVR (RBF)": SVR(C=10.0),
            "MLP (sklearn)": MLPRegressor(hidden_layer_sizes=(50,), max_iter=3000, random_state=0),
        }
    else:
        models = {
            "logistic": LogisticRegression(max_iter=5000),
            "gradient boosting": HistGradientBoostingClassifier(random_state=0),
            "SVC (RBF)": SVC(),
            "MLP (sklearn)": MLPClassifier(hidden_layer_sizes=(50,), max_iter=3000, random_state=0),
        }
    if smoke:
        models = dict(list(models.items())[:1])
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, est in models.items():
            pipe = make_pipeline(StandardScaler(), est)
            if kind == "regression":
                y_mean, y_sd = data.y_train.mean(), data.y_train.std()
                pipe.fit(X_tr, (data.y_train - y_mean) / y_sd)
                pred = y_mean + y_sd * pipe.predict(X_te)
                out[label] = float(np.sqrt(np.mean((pred - data.y_test) ** 2)))
            else:
                pipe.fit(X_tr, data.y_train)
                out[label] = float(np.mean(pipe.predict(X_te) == data.y_test))
    return out


def score(kind: str, builder, result, data, name: str) -> dict:
    """Test-set scores of a fit: accuracy and log predictive density, or RMSE, lpd and the
    90 % band's coverage (of the observations, and of the known function where there is one)."""
    draws = predict(builder, result, data.X_test, draws=min(500, _n_draws(result)))
    if kind != "regression":
        p_draws = draws
        return {
            "accuracy": accuracy(p_draws.mean(0), data.y_test),
            "lpd": log_predictive_density(p_draws, data.y_test),
        }
    sel = np.sort(np.random.default_rng(0).choice(_n_draws(result), size=draws.shape[0], replace=False))
    sigma = np.asarray(result["posterior"]["sigma"].values).reshape(-1)[sel]
    band = regression_predictive(draws, sigma)
    out = {
        "rmse": float(np.sqrt(np.mean((draws.mean(0) - data.y_test) ** 2))),
        "lpd": gaussian_log_predictive_density(draws, sigma, data.y_test),
        "coverage": interval_coverage(band["lo"], band["hi"], data.y_test),
    }
    if name == "friedman":
        lo, hi = np.quantile(draws, [(1 - INTERVAL_PROB) / 2, (1 + INTERVAL_PROB) / 2], axis=0)
        out["function_coverage"] = interval_coverage(lo, hi, friedman_function(data.X_test))
    return out


def _n_draws(result) -> int:
    post = result["posterior"]
    return int(post.sizes["chain"] * post.sizes["draw"])


def fit_reuse(name: str, *, smoke: bool = False, nuts: bool = True, random_seed: int = 0, progressbar: bool = False):
    """Fit data set ``name`` by ADVI (builder and ``fit`` defaults) and, where practical, NUTS.

    Returns ``(row, results, data)``: the table row (scores per method, baselines, the
    collapse report, wall times), the fitted results and the split.
    """
    if name not in SPECS:
        raise ValueError(f"Unknown data set {name!r}; choose one of {sorted(SPECS)}.")
    size = run_settings("reuse", smoke=smoke)
    module, arch, nuts_ok = SPECS[name]
    kind = REUSE_SETS[name][0]
    data = load_reuse_set(name, random_state=random_seed)
    builder = module.build_model
    row: dict = {"data": name, "kind": kind, "about": REUSE_SETS[name][1], "builder": module.__name__, "model": arch}
    row["n_train"], row["n_test"] = len(data.y_train), len(data.y_test)
    results = {}
    t0 = time.perf_counter()
    batch = min(size["batch_size"], len(data.y_train))  # wine has 89 training rows
    model = builder(data.X_train, data.y_train, **arch, batch_size=batch, random_seed=random_seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CollapseWarning)
        results["advi"] = fit(
            model,
            "advi",
            steps=size["steps"],
            draws=size["advi_draws"],
            random_seed=random_seed,
            progressbar=progressbar,
        )
    row["advi_seconds"] = time.perf_counter() - t0
    row["collapse"] = json.loads(results["advi"].attrs["collapse"])
    row["collapse_warned"] = any(issubclass(w.category, CollapseWarning) for w in caught)
    if nuts and nuts_ok:
        t0 = time.perf_counter()
        full = builder(data.X_train, data.y_train, **arch, random_seed=random_seed)
        results["nuts"] = fit(
            full,
            "nuts",
            draws=size["draws"],
            tune=size["tune"],
            chains=size["chains"],
            random_seed=random_seed,
            progressbar=progressbar,
        )
        row["nuts_seconds"] = time.perf_counter() - t0
        row["nuts_divergences"] = int(results["nuts"].attrs.get("divergences", 0))
    for method, result in results.items():
        row[method] = score(kind, builder, result, data, name)
    row["baselines"] = baselines(kind, data, smoke=smoke)
    row.update(verdict(kind, row))
    return row, results, data


def verdict(kind: str, row: dict) -> dict:
    """ADVI against its reference: NUTS where it ran, else the best scikit-learn baseline.
    Classifiers: accuracy points behind (the target: within 2); regression: RMSE ratio."""
    if kind == "regression":
        ref_name, ref = ("nuts", row["nuts"]["rmse"]) if "nuts" in row else min(row["baselines"].items(), key=_second)
        return {"reference": ref_name, "rmse_ratio": row["advi"]["rmse"] / ref}
    if "nuts" in row:
        ref_name, ref = "nuts", row["nuts"]["accuracy"]
    else:
        ref_name, ref = max(row["baselines"].items(), key=_second)
    gap = 100 * (ref - row["advi"]["accuracy"])
    return {"reference": ref_name, "points_behind": gap, "within_2_points": bool(gap <= 2.0)}


def _second(item):
    return item[1]


def run_reuse(names=None, *, smoke: bool = False, nuts: bool = True, random_seed: int = 0, log=print) -> list[dict]:
    """Fit every data set (or ``names``); return the table rows."""
    rows = []
    for name in names or SPECS:
        log(f"[reuse] {name}: {REUSE_SETS[name][1]}")
        row, _, _ = fit_reuse(name, smoke=smoke, nuts=nuts, random_seed=random_seed)
        log(f"[reuse] {name}: {summary_line(row)}")
        rows.append(row)
    return rows


def table_frame(rows) -> pd.DataFrame:
    """The rows of :func:`run_reuse` as one table (a ``pandas.DataFrame``, rendered by Jupyter):
    per data set the metric (test accuracy, or RMSE for regression) of ADVI, NUTS and the best
    scikit-learn baseline, ADVI's gap to its reference, the band coverage (regression), the
    collapse verdict and the wall times."""
    records = []
    for row in rows:
        reg = row["kind"] == "regression"
        metric = "rmse" if reg else "accuracy"
        best = (min if reg else max)(row["baselines"].items(), key=_second)
        records.append(
            {
                "data set": row["data"],
                "builder": row["builder"].rsplit(".", 1)[-1],
                "train rows": row["n_train"],
                "metric": "RMSE" if reg else "accuracy",
                "ADVI": row["advi"][metric],
                "NUTS": row["nuts"][metric] if "nuts" in row else None,
                "best baseline": best[1],
                "baseline": best[0],
                "ADVI vs reference": (
                    f"{row['rmse_ratio']:.2f}x {row['reference']} RMSE"
                    if reg
                    else f"{row['points_behind']:+.1f} points behind {row['reference']}"
                ),
                "90 % coverage (ADVI)": row["advi"].get("coverage"),
                "collapsed": row["collapse"]["collapsed"],
                "ADVI s": row["advi_seconds"],
                "NUTS s": row.get("nuts_seconds"),
            }
        )
    return pd.DataFrame.from_records(records).set_index("data set").round(3)


def summary_line(row: dict) -> str:
    """One line per data set: ADVI, NUTS, the best baseline and the collapse flag."""
    if row["kind"] == "regression":
        parts = [f"ADVI RMSE {row['advi']['rmse']:.3f}"]
        if "nuts" in row:
            parts.append(f"NUTS {row['nuts']['rmse']:.3f}")
        best = min(row["baselines"].items(), key=_second)
        parts.append(f"best baseline {best[0]} {best[1]:.3f}")
    else:
        parts = [f"ADVI accuracy {row['advi']['accuracy']:.3f}"]
        if "nuts" in row:
            parts.append(f"NUTS {row['nuts']['accuracy']:.3f}")
        best = max(row["baselines"].items(), key=_second)
        parts.append(f"best baseline {best[0]} {best[1]:.3f}")
    parts.append("COLLAPSED (flagged)" if row["collapse"]["collapsed"] else "not collapsed")
    return ", ".join(parts)
