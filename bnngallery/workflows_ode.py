"""``bnngallery run ode``: article E's decay model by NUTS, ADVI and the dropout network.

Data with known truth -> the RK4 model (:mod:`bnngallery.models.ode`) -> NUTS and mean-field
ADVI on the same graph, and the dropout baseline (:mod:`bnngallery.ode_dropout`) -> a table
of posterior means/sds/intervals against the truth, predictive bands by quantiles on a
dense grid, figures, saved results and ``metrics.json``::

    {"model": "ode", "runs": [{"method": "nuts", "backend": ..., "r_mean": ..., "r_sd": ...,
      "y0_mean": ..., "y0_sd": ..., "covered_90": {...}, "fit_seconds": ..., ...}, ...],
     "truth": {...}, "sbc": {...}, "settings": {...}}

The ``sbc`` entry is read from ``benchmarks/results/sbc_ode.json`` (written by
``benchmarks/sbc_ode.py``) when that file exists. The plotting functions here are the ODE
gallery's figures; each returns a figure or draws on given axes and never shows it.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np

#: Parameters reported for every method (sigma only where the method has it).
PARAMS = ("r", "y0", "sigma")

#: Sizes: "full" is the issue's run (NUTS 1000 + 1000, 2 chains), "smoke" checks the plumbing.
ODE_SETTINGS = {
    "full": {"draws": 1000, "tune": 1000, "chains": 2, "advi_steps": 20_000, "advi_draws": 2000,
             "dropout_hidden": 2048, "dropout_prime_steps": 1000, "dropout_fine_steps": 3000, "n_grid": 200,
             "predict_draws": 1000},
    "smoke": {"draws": 100, "tune": 100, "chains": 2, "advi_steps": 1000, "advi_draws": 200,
              "dropout_hidden": 128, "dropout_prime_steps": 100, "dropout_fine_steps": 100, "n_grid": 50,
              "predict_draws": 100},
}

#: Where the SBC benchmark writes its results.
SBC_RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "sbc_ode.json"

#: Quantile bands drawn around the median path (article E: quantiles, not mean +- sd).
BAND_QUANTILES = ((0.05, 0.95), (0.25, 0.75))


# ---------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------

def summarise_draws(draws: dict[str, np.ndarray], truth: dict[str, float] | None = None) -> dict:
    """Mean, sd and the central 90 % interval of each parameter, and whether it covers the truth.

    Parameters
    ----------
    draws : dict
        Parameter name -> 1-D array of draws (any of ``r``, ``y0``, ``sigma``).
    truth : dict, optional
        True values; adds ``covered_90`` (name -> bool).

    Returns
    -------
    dict
        ``{name}_mean``, ``{name}_sd``, ``{name}_q05``, ``{name}_q95`` per parameter, and
        ``covered_90`` when ``truth`` is given.
    """
    out: dict = {}
    covered = {}
    for name in PARAMS:
        if name not in draws:
            continue
        d = np.asarray(draws[name], dtype=np.float64).ravel()
        lo, hi = np.quantile(d, [0.05, 0.95])
        out.update({f"{name}_mean": float(d.mean()), f"{name}_sd": float(d.std(ddof=1)),
                    f"{name}_q05": float(lo), f"{name}_q95": float(hi)})
        if truth is not None and name in truth:
            covered[name] = bool(lo <= truth[name] <= hi)
    if truth is not None:
        out["covered_90"] = covered
    return out


def posterior_draws(result) -> dict[str, np.ndarray]:
    """Flattened posterior draws of ``r``, ``y0`` and ``sigma`` from a fit result."""
    post = result["posterior"]
    return {n: np.asarray(post[n].values).ravel() for n in PARAMS if n in post}


def predictive_paths(result, t_grid, *, draws: int | None = None, random_seed: int = 0,
                     noise: bool = False) -> np.ndarray:
    """``y(t)`` on ``t_grid`` for posterior draws of a fit: (n_draws, len(t_grid)).

    With ``noise=True`` each path also gets the observation noise of its draw (the
    posterior predictive of new data rather than of the ODE solution).
    """
    from bnngallery.models.ode import build_model

    from .predict import predict

    paths = np.asarray(predict(build_model, result, np.asarray(t_grid), draws=draws, random_seed=random_seed),
                       dtype=np.float64)
    if noise:
        post = result["posterior"]["sigma"].values.ravel()
        total = post.size
        sel = np.arange(total)
        if draws is not None:
            sel = np.sort(np.random.default_rng(random_seed).choice(total, size=draws, replace=False))
        rng = np.random.default_rng(random_seed + 1)
        paths = paths + rng.normal(size=paths.shape) * post[sel][:, None]
    return paths


def read_sbc(path: str | Path = SBC_RESULTS) -> dict | None:
    """The coverage part of the SBC benchmark's JSON, or None when it has not been run."""
    path = Path(path)
    if not path.exists():
        return None
    full = json.loads(path.read_text())
    out = {"source": str(path.name), "settings": full.get("settings", {})}
    for method in ("nuts", "advi"):
        if method not in full:
            continue
        m = full[method]
        out[method] = {
            "coverage_50": {p: m[p]["coverage_50"] for p in ("y0", "r", "sigma") if p in m},
            "coverage_90": {p: m[p]["coverage_90"] for p in ("y0", "r", "sigma") if p in m},
            "coverage_50_mean": m.get("coverage_50_mean"),
            "coverage_90_mean": m.get("coverage_90_mean"),
            "coverage_90_se": m.get("r", {}).get("coverage_90_se"),
            "rank_chi2_9df": {p: m[p]["rank_chi2_9df"] for p in ("y0", "r", "sigma") if p in m},
        }
        for k in ("divergences_total", "fits_with_divergences", "fits_with_rhat_above_1_01", "seconds"):
            if k in m:
                out[method][k] = m[k]
    return out


# ---------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------

def plot_predictive_bands(t_grid, paths, *, t=None, y=None, truth_path=None, ax=None, title: str = "",
                          n_paths: int = 20, color: str = "C0", random_seed: int = 0):
    """Median path, 50 % and 90 % quantile bands and a few single sample paths.

    Quantiles, not mean +- sd, so the band respects the horizontal asymptote (article E).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    fig = ax.figure
    paths = np.asarray(paths)
    for (lo, hi), alpha in zip(BAND_QUANTILES, (0.2, 0.35), strict=True):
        ql, qh = np.quantile(paths, [lo, hi], axis=0)
        ax.fill_between(t_grid, ql, qh, color=color, alpha=alpha, lw=0, label=f"{int(lo * 100)}-{int(hi * 100)} %")
    rng = np.random.default_rng(random_seed)
    for i in rng.choice(len(paths), size=min(n_paths, len(paths)), replace=False):
        ax.plot(t_grid, paths[i], color=color, lw=0.5, alpha=0.4)
    ax.plot(t_grid, np.median(paths, axis=0), color=color, lw=1.5, label="median")
    if truth_path is not None:
        ax.plot(t_grid, truth_path, "k--", lw=1, label="truth")
    if t is not None and y is not None:
        ax.scatter(t, y, s=14, color="k", zorder=3, label="data")
    ax.set(xlabel="t", ylabel="y(t)", title=title)
    ax.legend(loc="upper right", fontsize=8)
    return fig


def plot_path_density(t_grid, paths, *, ax=None, bins: int = 80, title: str = ""):
    """Density of sampled y(t) across t: a 2-D histogram of every path's values per time."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    fig = ax.figure
    paths = np.asarray(paths)
    lo, hi = np.quantile(paths, [0.001, 0.999])
    edges = np.linspace(lo, hi, bins + 1)
    dens = np.stack([np.histogram(paths[:, j], bins=edges, density=True)[0] for j in range(paths.shape[1])], axis=1)
    mesh = ax.pcolormesh(t_grid, 0.5 * (edges[1:] + edges[:-1]), np.log1p(dens), shading="auto", cmap="magma")
    fig.colorbar(mesh, ax=ax, label="log(1 + density)")
    ax.set(xlabel="t", ylabel="y(t)", title=title or "density of sampled y(t)")
    return fig


def plot_parameter_distributions(samples: dict[str, dict[str, np.ndarray]], *, truth: dict | None = None,
                                 params=("r", "y0")):
    """Distributions of the ODE parameters, one panel per parameter, one curve per method."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, axes = plt.subplots(1, len(params), figsize=(5 * len(params), 3.8), constrained_layout=True)
    axes = np.atleast_1d(axes)
    for ax, p in zip(axes, params, strict=True):
        for i, (method, draws) in enumerate(samples.items()):
            d = np.asarray(draws[p]).ravel()
            sns.histplot(d, ax=ax, stat="density", element="step", fill=False, color=f"C{i}", label=method, bins=40)
        if truth is not None and p in truth:
            ax.axvline(truth[p], color="k", ls="--", lw=1, label="truth")
        ax.set(xlabel=p, title=f"{p}: posterior / dropout distribution")
        ax.legend(fontsize=8)
    return fig


def plot_sbc_ranks(sbc: dict, *, params=("y0", "r", "sigma"), bins: int = 10):
    """SBC rank histograms, one row per method; the band is the 99 % range of a uniform histogram."""
    import matplotlib.pyplot as plt
    from scipy import stats

    methods = [m for m in ("nuts", "advi") if m in sbc]
    fig, axes = plt.subplots(len(methods), len(params), figsize=(4 * len(params), 3 * len(methods)),
                             constrained_layout=True, squeeze=False)
    n_rank = int(sbc["settings"]["n_rank"])
    for row, m in enumerate(methods):
        for col, p in enumerate(params):
            ax = axes[row, col]
            ranks = np.asarray(sbc[m][p]["ranks"])
            n = len(ranks)
            lo, hi = stats.binom.ppf([0.005, 0.995], n, 1 / bins)
            ax.axhspan(lo, hi, color="0.85")
            ax.hist(ranks, bins=bins, range=(0, n_rank + 1), color=f"C{row}", edgecolor="white")
            ax.axhline(n / bins, color="k", lw=0.8)
            ax.set(title=f"{m.upper()} {p}: 90 % cover {sbc[m][p]['coverage_90']:.2f}", xlabel="rank of truth")
    return fig


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------

def run_ode(
    *,
    methods=("advi", "nuts"),
    backend: str = "jax",
    smoke: bool = False,
    out_dir: str | Path = "out/ode",
    random_seed: int = 0,
    progressbar: bool = True,
    log=print,
    dropout: bool = True,
) -> dict:
    """The ODE gallery run: NUTS and/or ADVI on the RK4 model, the dropout baseline, metrics and figures.

    Parameters
    ----------
    methods : sequence of {"advi", "nuts"}
        Bayesian fits to run on the same model.
    backend : {"jax", "pytensor"}
        Engine backend for ``fit`` (NUTS by NumPyro or PyMC; ADVI in JAX or ``pm.fit``).
    smoke : bool
        Small sizes that check the plumbing in seconds.
    out_dir : path-like
        Folder for ``metrics.json``, figures (PNG) and fitted results (``.nc``).
    random_seed : int
        Seeds the data's noise and every fit.
    progressbar : bool
        Show progress bars.
    log : callable
        Receives progress lines.
    dropout : bool
        Also train article E's dropout network and report it as a third method.

    Returns
    -------
    dict
        The metrics written to ``metrics.json``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bnngallery.data.ode import decay_solution, make_decay_data
    from bnngallery.models.ode import build_model

    from .engine import fit
    from .ode_dropout import fit_dropout_ode
    from .plots import plot_elbo, save_figure
    from .results import final_elbo, save_result
    from .workflows import _cpu_count, max_rhat, write_json

    bad = [m for m in methods if m not in ("advi", "nuts")]
    if bad:
        raise ValueError(f"methods must be drawn from ('advi', 'nuts'); got {bad}.")
    size = ODE_SETTINGS["smoke" if smoke else "full"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = make_decay_data(random_state=random_seed)
    truth = dict(data.truth)
    t_grid = np.linspace(0.0, float(data.t.max()), size["n_grid"])
    truth_path = decay_solution(t_grid, y0=truth["y0"], r=truth["r"])
    model = build_model(data.t, data.y)
    runs, samples, paths = [], {}, {}
    for method in methods:
        t0 = time.perf_counter()
        if method == "nuts":
            log(f"[ode] NUTS ({'numpyro' if backend == 'jax' else 'pymc'}), {size['chains']} chains x "
                f"({size['tune']} tune + {size['draws']} draws)")
            result = fit(model, "nuts", backend=backend, draws=size["draws"], tune=size["tune"],
                         chains=size["chains"], random_seed=random_seed, progressbar=progressbar)
        else:
            log(f"[ode] ADVI ({backend}), mean-field, {size['advi_steps']} steps")
            result = fit(model, "advi", backend=backend, steps=size["advi_steps"], draws=size["advi_draws"],
                         random_seed=random_seed, progressbar=progressbar)
        wall = time.perf_counter() - t0
        save_result(result, out_dir / f"{method}.nc")
        draws = posterior_draws(result)
        samples[method.upper()] = draws
        paths[method] = predictive_paths(result, t_grid, draws=min(size["predict_draws"], draws["r"].size),
                                         random_seed=random_seed)
        row = {"method": method, "backend": result.attrs["backend"], **summarise_draws(draws, truth),
               "fit_seconds": float(result.attrs["fit_seconds"]),
               "compile_seconds": float(result.attrs["compile_seconds"]),
               "run_seconds": float(result.attrs["run_seconds"]), "wall_seconds": wall}
        if method == "nuts":
            row["divergences"] = int(result.attrs["divergences"])
            row["max_rhat"] = max_rhat(result)
            row["chain_method"] = json.loads(result.attrs["settings"]).get("chain_method", "")
        else:
            row["steps"] = int(result.attrs["steps_done"])
            row["final_elbo"] = final_elbo(result)
            save_figure(plot_elbo(result), out_dir / "elbo.png")
        runs.append(row)
        save_figure(plot_predictive_bands(t_grid, paths[method], t=data.t, y=data.y, truth_path=truth_path,
                                          title=f"{method.upper()}: y(t) with quantile bands"),
                    out_dir / f"bands_{method}.png")
    if dropout:
        log(f"[ode] dropout network (article E), {size['dropout_hidden']} Mish units, "
            f"{size['dropout_prime_steps']} + {size['dropout_fine_steps']} Adamax steps")
        t0 = time.perf_counter()
        dres = fit_dropout_ode(data.t, data.y, hidden=size["dropout_hidden"],
                               prime_steps=size["dropout_prime_steps"], fine_steps=size["dropout_fine_steps"],
                               t_grid=t_grid, random_seed=random_seed)
        draws = {"r": dres.r, "y0": dres.y0}
        samples["dropout"] = draws
        paths["dropout"] = dres.y_paths
        runs.append({"method": "dropout", "backend": "jax", **summarise_draws(draws, truth),
                     # JAX compiles inside the training call, so fit_seconds includes it
                     "fit_seconds": float(dres.fit_seconds), "compile_seconds": None,
                     "wall_seconds": time.perf_counter() - t0, "n_samples": int(len(dres.r)),
                     "final_huber_loss": float(dres.loss_fine[-100:].mean()) if len(dres.loss_fine) else None})
        save_figure(plot_predictive_bands(t_grid, dres.y_paths, t=data.t, y=data.y, truth_path=truth_path,
                                          color="C2", title="dropout network: y(t) with quantile bands"),
                    out_dir / "bands_dropout.png")
    if samples:
        save_figure(plot_parameter_distributions(samples, truth=truth), out_dir / "parameters.png")
        fig, axes = plt.subplots(1, len(paths), figsize=(5.5 * len(paths), 4), constrained_layout=True,
                                 squeeze=False)
        for ax, (name, p) in zip(axes[0], paths.items(), strict=True):
            plot_path_density(t_grid, p, ax=ax, title=f"{name}: density of y(t)")
        save_figure(fig, out_dir / "density.png")
    sbc = read_sbc()
    if sbc is not None:
        full = json.loads(SBC_RESULTS.read_text())
        save_figure(plot_sbc_ranks(full), out_dir / "sbc_ranks.png")
    metrics = {
        "model": "ode", "runs": runs, "truth": truth, "sbc": sbc,
        "settings": {**size, "smoke": smoke, "random_seed": random_seed, "backend": backend,
                     "n_points": int(data.n), "t_max": float(data.t.max()),
                     "model_settings": model.gallery_info["settings"]},
        "machine": f"{platform.machine()} {platform.system()}, {_cpu_count()} CPUs",
    }
    write_json(metrics, out_dir / "metrics.json")
    return metrics
