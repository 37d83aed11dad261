"""Compare fits of one model: ADVI (mean-field, full-rank, either backend) against NUTS.

:func:`compare` takes a dict of results of the same model and returns one table: wall time
(compile and run), ELBO where defined, held-out log predictive density, accuracy or RMSE,
calibration (ECE for classifiers, 90 % interval coverage for regression), agreement with
the reference fit (NUTS) in function space, and for every ADVI fit the Pareto-smoothed
importance-sampling diagnostic k-hat of its Gaussian against the model's full-data log
density (Yao, Vehtari, Simpson and Gelman 2018, "Yes, but did it work?"): below 0.5 the
approximation is good, below 0.7 usable (importance-weighted estimates are reliable),
above 0.7 it is too far from the posterior to be trusted as one.

:func:`parameter_table` sets posterior means and sds of the identifiable parameters (noise
scales, hyperprior scales, ODE parameters; not BNN weights, whose posterior is symmetric
and multimodal) side by side with the ratio of each fit's sd to the reference's, and
:func:`plot_parameters` overlays them with ArviZ (forest plot and marginal densities).

:func:`run_comparison` is ``bnngallery compare MODEL``: it fits the methods that are
feasible for the model and writes ``comparison.md``, ``comparison.json`` and the figures.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import xarray as xr

from .metrics import accuracy, agreement, log_predictive_density
from .predict import predict
from .results import final_elbo, model_settings_of, settings_of
from .uncertainty import expected_calibration_error
from .workflows import MOONS_SETTINGS

#: Yao et al. (2018): k-hat below this, the approximation is good.
KHAT_GOOD = 0.5
#: Above this the importance weights have too heavy a tail: the approximation is not usable.
KHAT_USABLE = 0.7
#: Central probability of the predictive interval used for coverage and band overlap.
INTERVAL_PROB = 0.9


# ----------------------------------------------------------------------------------------
# labels and small helpers


def fit_label(result: xr.DataTree) -> str:
    """``"<method> (<backend>)"``, e.g. ``"advi (jax)"``, the row name of a result."""
    return f"{result.attrs['method']} ({result.attrs['backend']})"


def is_vi(result: xr.DataTree) -> bool:
    """True for a variational fit (a result with an ``approximation`` group)."""
    return "approximation" in result.children


def _pick_reference(results: Mapping[str, xr.DataTree], reference: str | None) -> str | None:
    if reference is not None:
        if reference not in results:
            raise ValueError(f"reference {reference!r} is not one of the results {sorted(results)}.")
        return reference
    return next((k for k, r in results.items() if r.attrs.get("method") == "nuts"), None)


def _flat_draws(result: xr.DataTree, name: str) -> np.ndarray:
    arr = result["posterior"][name].values
    return arr.reshape(-1, *arr.shape[2:])


def _finite_or_none(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def verdict(khat: float) -> str:
    """Yao et al.'s reading of a k-hat value."""
    if np.isnan(khat):
        return "undetermined"
    if khat < KHAT_GOOD:
        return "good"
    if khat < KHAT_USABLE:
        return "usable"
    return "unreliable"


# ----------------------------------------------------------------------------------------
# k-hat of a variational approximation


def call_builder(builder: Callable, X, y, **kwargs):
    """Call ``builder(X, y, **kwargs)``, dropping keywords it does not take.

    Builders share ``(X, y=None, *, ...)`` but not every one has ``batch_size`` or
    ``random_seed`` (the ODE model has neither), so generic code passes them only where
    they mean something.
    """
    import inspect

    params = inspect.signature(builder).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params}
    return builder(X, y, **kwargs)


def full_data_model(builder: Callable, result: xr.DataTree, X, y):
    """Rebuild the model a result was fitted on, on full data (``batch_size=None``).

    A minibatch ELBO only estimates the full-data one; k-hat needs the exact log density.
    """
    settings = {k: v for k, v in model_settings_of(result).items() if k != "batch_size"}
    return call_builder(builder, X, y, **settings, batch_size=None)


def approximation_moments(result: xr.DataTree) -> tuple[list[str], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Value-variable names and the Gaussian's means and sds (unconstrained space)."""
    if not is_vi(result):
        raise ValueError(f"{fit_label(result)} has no 'approximation' group; k-hat applies to ADVI fits only.")
    approx = result["approximation"]
    names = [v[: -len("_mean")] for v in approx.data_vars if v.endswith("_mean")]
    means = {n: np.asarray(approx[f"{n}_mean"].values, dtype=np.float64) for n in names}
    sds = {n: np.asarray(approx[f"{n}_sd"].values, dtype=np.float64) for n in names}
    return names, means, sds


def vi_khat(result: xr.DataTree, model, *, draws: int = 2000, random_seed: int = 0) -> dict:
    """Pareto k-hat of an ADVI approximation q against the model's log density p.

    Draws ``z_s ~ q`` in the unconstrained space, computes the log importance ratios
    ``log p(z_s) - log q(z_s)`` (``p`` = joint density with Jacobians, on the data of
    ``model``, which should be the full-data model: see :func:`full_data_model`), and fits a
    generalised Pareto distribution to their upper tail (``arviz_stats`` PSIS).

    Parameters
    ----------
    result : xarray.DataTree
        An ADVI result (with an ``approximation`` group).
    model : pm.Model
        The model whose log density is the target, built without ``batch_size``.
    draws : int
        Number of draws from q (Yao et al. use thousands).
    random_seed : int
        Seed of the draws.

    Returns
    -------
    dict
        ``khat``, ``khat_verdict`` ("good" < 0.5 <= "usable" < 0.7 <= "unreliable"),
        ``khat_ess`` (relative effective sample size of the smoothed weights),
        ``khat_draws`` and ``khat_q``: "mean-field", "full-rank" (the fit's stored Cholesky
        factor) or, for a full-rank result saved without one, "marginal" (the diagonal
        Gaussian with the fit's marginal sds).
    """
    import jax
    import jax.numpy as jnp
    from arviz_stats.base import array_stats

    from .jaxify import logp_graph

    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 100:
        raise ValueError(f"draws must be an integer >= 100 for a stable Pareto fit; got {draws!r}.")
    names, means, sds = approximation_moments(result)
    graph = logp_graph(model)
    if graph.batch_size is not None:
        raise ValueError("k-hat needs the full-data log density; build the model with batch_size=None "
                         "(full_data_model does this).")
    missing = sorted(set(graph.param_names) - set(names))
    if missing:
        raise ValueError(f"The approximation lacks {missing}; was it fitted on this model family?")
    mu = np.concatenate([means[n].ravel() for n in graph.param_names])
    sd = np.concatenate([sds[n].ravel() for n in graph.param_names])
    shapes, sizes = graph.param_shapes, [int(np.prod(s, dtype=int)) for s in graph.param_shapes]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    data = [jnp.asarray(v) for v in graph.data_values]

    def logp(z):
        parts = [z[a:b].reshape(s) for a, b, s in zip(offsets[:-1], offsets[1:], shapes, strict=True)]
        return graph.fn(*parts, *data)[0]

    approx = result["approximation"]
    full_rank = ("cholesky" in approx.data_vars
                 and json.loads(approx.attrs.get("flat_order", "[]")) == list(graph.param_names))
    rng = np.random.default_rng(random_seed)
    eps = rng.standard_normal((int(draws), mu.size))
    if full_rank:  # q = N(mu, L L^T): the fit's own covariance
        L = np.asarray(approx["cholesky"].values, dtype=np.float64)
        z = mu + eps @ L.T
        log_det = np.sum(np.log(np.abs(np.diag(L))))
    else:
        z = mu + eps * sd
        log_det = np.sum(np.log(sd))
    log_q = -0.5 * np.sum(eps**2, axis=1) - log_det - 0.5 * mu.size * np.log(2 * np.pi)
    log_p = np.asarray(jax.jit(lambda zz: jax.lax.map(logp, zz, batch_size=256))(jnp.asarray(z)))
    log_ratio = log_p - log_q
    if not np.all(np.isfinite(log_ratio)):
        khat, ess = float("inf"), 0.0
    elif np.ptp(log_ratio) < 1e-8 * max(1.0, float(np.abs(log_ratio).max())):
        khat, ess = float("-inf"), 1.0  # equal weights up to rounding: q is the posterior
    else:
        try:
            # arviz_stats' PSIS takes negated log ratios (its input is a log-likelihood,
            # whose negative is the LOO log ratio).
            lw, khat = array_stats.psislw(-log_ratio, r_eff=1.0)
            w = np.exp(lw - lw.max())
            w /= w.sum()
            ess = float(1.0 / np.sum(w**2) / len(w))
        except ValueError:  # all ratios equal: q is the posterior
            khat, ess = float("-inf"), 1.0
    kind = settings_of(result).get("approximation", "meanfield")
    q = "mean-field" if kind == "meanfield" else ("full-rank" if full_rank else "marginal")
    return {"khat": float(khat), "khat_verdict": verdict(float(khat)), "khat_ess": ess,
            "khat_draws": int(draws), "khat_q": q}


# ----------------------------------------------------------------------------------------
# predictive scores


def regression_predictive(mu_draws, sigma_draws, *, prob: float = INTERVAL_PROB, random_seed: int = 0) -> dict:
    """Predictive mean, central ``prob`` band (with observation noise) and epistemic sd.

    ``mu_draws`` (S, n) are the per-draw means, ``sigma_draws`` (S,) the noise sds of the
    same draws; the band is the quantile interval of ``mu + sigma * eps``.
    """
    mu = np.asarray(mu_draws, dtype=np.float64)
    sigma = np.asarray(sigma_draws, dtype=np.float64).reshape(-1)
    if sigma.shape[0] != mu.shape[0]:
        raise ValueError(f"sigma has {sigma.shape[0]} draws but mu has {mu.shape[0]}; they must pair up.")
    y_rep = mu + sigma[:, None] * np.random.default_rng(random_seed).standard_normal(mu.shape)
    a = (1.0 - prob) / 2.0
    lo, hi = np.quantile(y_rep, [a, 1.0 - a], axis=0)
    return {"mean": mu.mean(axis=0), "lo": lo, "hi": hi, "epistemic_sd": mu.std(axis=0),
            "mu_draws": mu, "sigma_draws": sigma}


def gaussian_log_predictive_density(mu_draws, sigma_draws, y) -> float:
    """Mean over rows of ``log mean_s N(y_i | mu_si, sigma_s)``."""
    mu = np.asarray(mu_draws, dtype=np.float64)
    sigma = np.asarray(sigma_draws, dtype=np.float64).reshape(-1, 1)
    logs = -0.5 * ((np.asarray(y)[None, :] - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)
    m = logs.max(axis=0)
    return float(np.mean(m + np.log(np.mean(np.exp(logs - m), axis=0))))


def interval_coverage(lo, hi, y) -> float:
    """Share of ``y`` inside ``[lo, hi]``."""
    y = np.asarray(y)
    return float(np.mean((y >= lo) & (y <= hi)))


def band_overlap(lo_a, hi_a, lo_b, hi_b) -> float:
    """Mean over points of |A and B| / |A or B| for intervals A = [lo_a, hi_a], B = [lo_b, hi_b]."""
    inter = np.clip(np.minimum(hi_a, hi_b) - np.maximum(lo_a, lo_b), 0.0, None)
    union = np.maximum(hi_a, hi_b) - np.minimum(lo_a, lo_b)
    return float(np.mean(np.where(union > 0, inter / np.where(union > 0, union, 1.0), 1.0)))


def _predictions(builder, result, X, *, task, output, noise_var, random_seed, draws=None):
    out = predict(builder, result, X, output=output) if draws is None else np.asarray(draws)
    if task == "regression":
        if isinstance(noise_var, (int, float)) and not isinstance(noise_var, bool):
            sigma = np.full(out.shape[0], float(noise_var))  # a known, fixed noise sd
        elif noise_var in result["posterior"]:
            sigma = _flat_draws(result, noise_var)
        else:
            raise ValueError(f"A regression comparison needs the noise sd {noise_var!r} in the posterior; "
                             f"pass noise_var=<its name> or a fixed number.")
        return regression_predictive(out, sigma, random_seed=random_seed)
    return {"draws": out, "mean": np.asarray(out, dtype=np.float64).mean(axis=0)}


# ----------------------------------------------------------------------------------------
# identifiable parameters


def identifiable_vars(result: xr.DataTree, *, max_size: int = 10) -> list[str]:
    """Posterior variables worth comparing one by one: small, and not network weights/biases.

    BNN weights (``w_*``, ``b_*``) are not identifiable (hidden units can be permuted and
    signs flipped), so comparing them across fits says nothing; noise and hyperprior scales
    and ODE parameters are.
    """
    post = result["posterior"]
    return [n for n in post.data_vars
            if not n.startswith(("w_", "b_")) and int(np.prod([post.sizes[d] for d in post[n].dims
                                                               if d not in ("chain", "draw")], dtype=int)) <= max_size]


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
                rows.append({"parameter": label, "fit": key, "mean": float(flat[:, j].mean()), "sd": sd,
                             "sd_ratio": ratio})
    return rows


def _pooled(results: Mapping[str, xr.DataTree], var_names: list[str], random_seed: int = 0) -> dict[str, xr.DataTree]:
    """One chain of equally many draws per fit: ArviZ overlays need aligned sample dims."""
    n = min(r["posterior"].sizes["chain"] * r["posterior"].sizes["draw"] for r in results.values())
    rng = np.random.default_rng(random_seed)
    out = {}
    for key, res in results.items():
        post = res["posterior"].to_dataset()[var_names]
        stacked = post.stack(sample=("chain", "draw"))
        sel = np.sort(rng.choice(stacked.sizes["sample"], size=n, replace=False))
        ds = stacked.isel(sample=sel).drop_vars(["sample", "chain", "draw"])
        ds = ds.rename({"sample": "draw"}).expand_dims(chain=[0]).assign_coords(draw=np.arange(n))
        ds = ds.transpose("chain", "draw", ...)
        out[key] = xr.DataTree.from_dict({"posterior": ds})
    return out


def plot_parameters(results: Mapping[str, xr.DataTree], var_names=None, *, kind: str = "forest"):
    """Overlay the fits' marginals of the identifiable parameters with ArviZ.

    Parameters
    ----------
    results : dict of {str: DataTree}
        Fits of one model, keyed by the names to show.
    var_names : list of str, optional
        Defaults to :func:`identifiable_vars` of the first fit.
    kind : {"forest", "density"}
        ``arviz_plots.plot_forest`` (intervals per fit) or ``plot_dist`` (KDEs overlaid).

    Returns
    -------
    matplotlib.figure.Figure or None
        None when there is nothing identifiable to plot.
    """
    import arviz_plots as azp

    if kind not in ("forest", "density"):
        raise ValueError(f"kind must be 'forest' or 'density'; got {kind!r}.")
    var_names = var_names if var_names is not None else identifiable_vars(next(iter(results.values())))
    if not var_names:
        return None
    data = _pooled(results, list(var_names))
    if kind == "forest":
        pc = azp.plot_forest(data, var_names=list(var_names), combined=True, backend="matplotlib")
    else:
        pc = azp.plot_dist(data, var_names=list(var_names), kind="kde", backend="matplotlib")
    pc.add_legend("model")
    return pc.viz["figure"].item()


# ----------------------------------------------------------------------------------------
# the comparison table


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
        ``band_width_ratio``, ``epistemic_sd_ratio``), ``khat`` etc. for ADVI fits, and
        ``divergences`` for NUTS.
    """
    if not results:
        raise ValueError("compare needs at least one result.")
    reference = _pick_reference(results, reference)
    families = {r.attrs.get("model_family", "") for r in results.values()}
    if len(families) > 1:
        raise ValueError(f"All results must be fits of one model family; got {sorted(families)}.")
    probe = call_builder(builder, np.asarray(X_test)[:2], None,
                         **{k: v for k, v in model_settings_of(next(iter(results.values()))).items()
                            if k != "batch_size"})
    info = getattr(probe, "gallery_info", {})
    task = task or info.get("task")
    if task not in ("binary", "multiclass", "regression"):
        raise ValueError(f"task must be 'binary', 'multiclass' or 'regression'; got {task!r}.")
    y_test = np.asarray(y_test)
    notes: list[str] = []
    test_draws = test_draws or {}
    preds = {k: _predictions(builder, r, X_test, task=task, output=output, noise_var=noise_var,
                             random_seed=random_seed, draws=test_draws.get(k)) for k, r in results.items()}
    ref_time = float(results[reference].attrs["fit_seconds"]) if reference else None
    rows = []
    for key, res in results.items():
        p = preds[key]
        row = {"fit": key, "method": res.attrs["method"], "backend": res.attrs["backend"],
               "compile_seconds": float(res.attrs["compile_seconds"]),
               "run_seconds": float(res.attrs["run_seconds"]),
               "fit_seconds": float(res.attrs["fit_seconds"]),
               "speedup_vs_reference": (ref_time / float(res.attrs["fit_seconds"])) if ref_time else None,
               "elbo": final_elbo(res)}
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
        if res.attrs.get("method") == "nuts":
            row["divergences"] = int(res.attrs.get("divergences", 0))
        rows.append(row)
    if any(r.get("khat_q") == "marginal" for r in rows):
        notes.append("k-hat of full-rank fits saved without their Cholesky factor uses a diagonal Gaussian "
                     "with the fit's marginal sds.")
    return {"model": next(iter(families)) or info.get("family", ""), "task": task, "reference": reference,
            "runs": rows, "parameters": parameter_table(results, var_names, reference=reference), "notes": notes,
            "predictions": preds}


# ----------------------------------------------------------------------------------------
# output


#: Columns of the markdown table, in order, with their headers.
TABLE_COLUMNS = {
    "fit": "fit", "compile_seconds": "compile s", "run_seconds": "run s", "fit_seconds": "total s",
    "speedup_vs_reference": "speed-up", "elbo": "ELBO", "test_log_likelihood": "test lpd",
    "test_accuracy": "accuracy", "test_rmse": "RMSE", "ece": "ECE", "coverage_90": "90% coverage",
    "label_agreement": "label agreement", "mean_abs_prob_diff": "mean abs dP", "band_overlap": "band overlap",
    "band_width_ratio": "band width ratio", "epistemic_sd_ratio": "epistemic sd ratio", "khat": "k-hat",
    "khat_verdict": "k-hat verdict", "divergences": "divergences",
}


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.0f}"
    return str(v)


def to_markdown(table: dict) -> str:
    """The comparison (and the parameter table, if any) as GitHub markdown."""
    cols = [c for c in TABLE_COLUMNS if any(r.get(c) is not None for r in table["runs"])]
    lines = [f"## {table['model']}: comparison (reference: {table['reference'] or 'none'})", "",
             "| " + " | ".join(TABLE_COLUMNS[c] for c in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in cols) + " |" for r in table["runs"]]
    if table.get("parameters"):
        lines += ["", "### Identifiable parameters", "", "| parameter | fit | mean | sd | sd / reference sd |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['parameter']} | {r['fit']} | {_cell(r['mean'])} | {_cell(r['sd'])} | {_cell(r['sd_ratio'])} |"
                  for r in table["parameters"]]
    lines += ["", f"k-hat (Pareto-smoothed importance sampling, Yao et al. 2018): < {KHAT_GOOD} good, "
              f"< {KHAT_USABLE} usable, above: the approximation is not a reliable posterior."]
    lines += [f"- {n}" for n in table.get("notes", [])]
    return "\n".join(lines) + "\n"


def to_json(table: dict) -> dict:
    """The JSON-safe part of a comparison (no prediction arrays; non-finite numbers as null)."""
    def clean(obj):
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [clean(v) for v in obj]
        if isinstance(obj, (np.floating, float)):
            return _finite_or_none(float(obj))
        if isinstance(obj, np.integer):
            return int(obj)
        return obj
    return clean({k: v for k, v in table.items() if k != "predictions"})


def plot_regression_bands(X_plot, bands: Mapping[str, dict], *, X_test=None, y_test=None, truth=None,
                          x_range=None, ax=None, prob: float = INTERVAL_PROB):
    """Predictive means and central bands of several fits overlaid on 1-D inputs.

    Parameters
    ----------
    X_plot : array (n, 1) or (n,)
        Sorted inputs the bands were computed at.
    bands : dict of {str: dict}
        Per fit, the output of :func:`regression_predictive` at ``X_plot``.
    X_test, y_test : arrays, optional
        Held-out points to scatter.
    truth : callable, optional
        The true function, drawn as a dashed line.
    x_range : (float, float), optional
        The training interval, shaded; outside it the model extrapolates.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 4.5))
    else:
        fig = ax.figure
    x = np.asarray(X_plot).reshape(-1)
    if x_range is not None:
        ax.axvspan(*x_range, color="0.93", zorder=0, label="training range")
    if X_test is not None:
        ax.scatter(np.asarray(X_test).reshape(-1), y_test, s=6, color="0.4", alpha=0.5, label="test points", zorder=1)
    for i, (name, b) in enumerate(bands.items()):
        color = f"C{i}"
        ax.fill_between(x, b["lo"], b["hi"], color=color, alpha=0.25, label=f"{name} {int(prob * 100)}% band")
        ax.plot(x, b["mean"], color=color, lw=1.5, label=f"{name} mean")
    if truth is not None:
        ax.plot(x, truth(x), color="k", ls="--", lw=1, label="true function")
    # Frame the bands and the data; the true function may run far off beyond them.
    lo = min(float(np.min(b["lo"])) for b in bands.values())
    hi = max(float(np.max(b["hi"])) for b in bands.values())
    if y_test is not None:
        lo, hi = min(lo, float(np.min(y_test))), max(hi, float(np.max(y_test)))
    pad = 0.1 * (hi - lo)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set(xlabel="x", ylabel="y", title="Posterior predictive: mean and band")
    ax.legend(loc="upper left", fontsize=8)
    return fig


# ----------------------------------------------------------------------------------------
# `bnngallery compare MODEL`


#: Fit settings per size for the comparison runs.
COMPARE_SETTINGS = {
    "moons": MOONS_SETTINGS,
    "regression": {"full": {"steps": 30_000, "batch_size": 100, "draws": 500, "tune": 500, "chains": 2,
                            "hidden": (50,)},
                   "smoke": {"steps": 1500, "batch_size": 50, "draws": 100, "tune": 100, "chains": 2,
                             "hidden": (10,), "n_train": 200, "n_test": 200}},
}


def comparison_spec(name: str, *, smoke: bool, random_seed: int) -> dict:
    """Data, builder and fit settings of the comparison for a gallery model.

    Returns ``{"builder", "train": (X, y), "test": (X, y), "build_kwargs", "size", "methods"}``;
    ``methods`` lists ``(method, backend)`` or ``(method, backend, {fit options})``.
    A model family can take part by defining ``comparison_spec(*, smoke, random_seed)``
    in its module (``bnngallery.models.<family>``) that returns the same keys.
    """
    from importlib import import_module

    if name == "moons":
        from bnngallery.data import make_moons_data
        from bnngallery.models import moons

        size = COMPARE_SETTINGS["moons"]["smoke" if smoke else "full"]
        data = make_moons_data(random_state=random_seed)
        return {"builder": moons.build_model, "train": (data.X_train, data.y_train),
                "test": (data.X_test, data.y_test), "build_kwargs": {}, "size": size,
                "methods": [("advi", "jax"), ("fullrank_advi", "jax", {"restarts": size["restarts"]}), ("nuts", "jax")],
                "data": data}
    if name == "regression":
        from bnngallery.data.regression import make_regression_data
        from bnngallery.models import regression

        size = COMPARE_SETTINGS["regression"]["smoke" if smoke else "full"]
        data = make_regression_data(size.get("n_train", 500), size.get("n_test", 500), random_state=random_seed)
        kwargs = {"hidden": size["hidden"]} if "hidden" in size else {}
        # No full-rank ADVI here: on the 50-unit net (152 parameters, 11.5k covariance
        # entries) it blew up at the default step size (ELBO -1e16 after 30k steps) and
        # stayed far below mean-field at 0.001 (-1113 against -940).
        return {"builder": regression.build_model, "train": (data.X_train, data.y_train),
                "test": (data.X_test, data.y_test), "build_kwargs": kwargs, "size": size,
                "methods": [("advi", "jax"), ("nuts", "jax")], "data": data}
    from .models import BUILDERS

    if name == "ode":
        return _ode_spec(smoke=smoke, random_seed=random_seed)
    if name not in BUILDERS:
        raise ValueError(f"Unknown model {name!r}; choose one of {sorted(BUILDERS)}.")
    try:
        module = import_module(f"bnngallery.models.{BUILDERS[name][0]}")
    except ImportError as err:
        raise ValueError(f"Model {name!r} is not available ({err}).") from err
    spec = getattr(module, "comparison_spec", None)
    if spec is None:
        raise ValueError(f"Model {name!r} defines no comparison_spec(*, smoke, random_seed); "
                         "add one to its module to take part in `bnngallery compare`.")
    return spec(smoke=smoke, random_seed=random_seed)


def _ode_spec(*, smoke: bool, random_seed: int) -> dict:
    """The decay ODE (article E) with known truth: train and test are two noisy draws on one grid."""
    from importlib import import_module

    try:
        module = import_module("bnngallery.models.ode")
    except ImportError as err:
        raise ValueError(f"The ODE model is not available ({err}).") from err
    if hasattr(module, "comparison_spec"):
        return module.comparison_spec(smoke=smoke, random_seed=random_seed)
    try:
        from bnngallery.data.ode import make_decay_data
    except ImportError as err:
        raise ValueError(f"The ODE data generator is not available ({err}).") from err
    train = make_decay_data(random_state=random_seed)
    test = make_decay_data(random_state=random_seed + 1000)
    size = ({"steps": 2000, "draws": 100, "tune": 100, "chains": 2} if smoke
            else {"steps": 20_000, "draws": 1000, "tune": 1000, "chains": 2})
    return {"builder": module.build_model, "train": (train.t, train.y), "test": (test.t, test.y),
            "build_kwargs": {}, "size": size, "data": train,
            "methods": [("advi", "jax"), ("fullrank_advi", "jax"), ("nuts", "jax")]}


def fit_methods(spec: dict, *, random_seed: int = 0, progressbar: bool = True, log=print) -> dict[str, xr.DataTree]:
    """Fit every method of a comparison spec; keys are ``"<method> (<backend>)"``."""
    from .engine import fit

    builder, (X, y), size = spec["builder"], spec["train"], spec["size"]
    kwargs = dict(spec.get("build_kwargs", {}))
    results = {}
    for entry in spec["methods"]:
        method, backend = entry[0], entry[1]
        extra = dict(entry[2]) if len(entry) > 2 else {}  # per-method fit options
        if method == "nuts":
            model = call_builder(builder, X, y, **kwargs, random_seed=random_seed)
            log(f"[compare] {method} ({backend}): {size['chains']} chains x ({size['tune']} + {size['draws']})")
            res = fit(model, "nuts", backend=backend, draws=size["draws"], tune=size["tune"],
                      chains=size["chains"], random_seed=random_seed, progressbar=progressbar, **extra)
        else:
            model = call_builder(builder, X, y, **kwargs, batch_size=size.get("batch_size"), random_seed=random_seed)
            log(f"[compare] {method} ({backend}): {size['steps']} steps, minibatch {size.get('batch_size')}")
            res = fit(model, method, backend=backend, steps=size["steps"], draws=size["draws"] * size["chains"],
                      random_seed=random_seed, progressbar=progressbar, **extra)
        results[fit_label(res)] = res
    return results


def run_comparison(
    name: str,
    *,
    smoke: bool = False,
    out_dir: str | Path | None = None,
    random_seed: int = 0,
    progressbar: bool = True,
    log=print,
) -> dict:
    """``bnngallery compare MODEL``: fit the feasible methods and write table and figures.

    Writes ``comparison.md``, ``comparison.json``, ``parameters_forest.png`` and
    ``parameters_density.png`` (when the model has identifiable parameters) and, for a 1-D
    regression, ``bands.png`` into ``out_dir`` (default ``out/compare/<model>``).
    Returns the JSON-safe table.
    """
    import matplotlib

    matplotlib.use("Agg")
    from .plots import save_figure
    from .workflows import write_json

    out_dir = Path(out_dir) if out_dir is not None else Path("out") / "compare" / name
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = comparison_spec(name, smoke=smoke, random_seed=random_seed)
    t0 = time.perf_counter()
    results = fit_methods(spec, random_seed=random_seed, progressbar=progressbar, log=log)
    table = compare(results, builder=spec["builder"], X_test=spec["test"][0], y_test=spec["test"][1],
                    X_train=spec["train"][0], y_train=spec["train"][1], random_seed=random_seed)
    for kind in ("forest", "density"):
        fig = plot_parameters(results, kind=kind)
        if fig is not None:
            save_figure(fig, out_dir / f"parameters_{kind}.png")
    if name == "regression":
        data = spec.get("data")
        lo = float(np.min(spec["train"][0])) - 1.0
        hi = float(np.max(spec["train"][0])) + 1.0
        grid = np.linspace(lo, hi, 300)[:, None]
        bands = {k: _predictions(spec["builder"], r, grid, task="regression", output=None, noise_var="sigma",
                                 random_seed=random_seed) for k, r in results.items()}
        from bnngallery.data.regression import true_function
        fig = plot_regression_bands(grid, bands, X_test=spec["test"][0], y_test=spec["test"][1],
                                    truth=true_function, x_range=data.x_range)
        save_figure(fig, out_dir / "bands.png")
    out = to_json(table)
    out["settings"] = {**{k: (list(v) if isinstance(v, tuple) else v) for k, v in spec["size"].items()},
                       "smoke": smoke, "random_seed": random_seed}
    out["wall_seconds"] = time.perf_counter() - t0
    write_json(out, out_dir / "comparison.json")
    from .results import atomic_write

    md = to_markdown(table)
    atomic_write(out_dir / "comparison.md", lambda tmp: Path(tmp).write_text(md))
    return out


def _json_dumps(obj) -> str:  # pragma: no cover - convenience for notebooks
    return json.dumps(to_json(obj), indent=2)
