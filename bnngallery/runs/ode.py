"""``bnngallery run ode``: article E's decay model by NUTS, ADVI and the dropout network.

Data with known truth -> the RK4 model (:mod:`bnngallery.models.ode`) -> NUTS and mean-field
ADVI on the same graph, and the dropout baseline (:mod:`bnngallery.baselines.dropout_ode`) ->
a table of posterior means/sds/intervals against the truth, predictive bands by quantiles on
a dense grid, figures, saved results and ``metrics.json``::

    {"model": "ode", "runs": [{"method": "nuts", "backend": ..., "r_mean": ..., "r_sd": ...,
      "y0_mean": ..., "y0_sd": ..., "covered_90": {...}, "fit_seconds": ..., ...}, ...],
     "truth": {...}, "sbc": {...}, "settings": {...}}

Figures: ``bands_<method>.png``, ``elbo.png``, ``parameters.png`` (ArviZ), ``density.png``,
``trace_nuts.png`` and ``rank_nuts.png`` (the parameters' chains, ArviZ) and, with ``sbc=``,
``sbc_ranks.png``. The ``sbc`` entry is the coverage part of the SBC benchmark's JSON (``benchmarks/sbc_ode.py``)
when the run is given its path (``sbc=``, the CLI's ``--sbc``); null otherwise.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..files import write_json
from ..plots import (
    plot_chains,
    plot_elbo,
    plot_parameter_distributions,
    plot_path_density,
    plot_predictive_bands,
    plot_ranks,
    plot_sbc_ranks,
    save_figure,
)
from ..predict import predict
from ..provenance import machine_description, software_versions
from ..results import model_settings_of
from .common import fit_run, method_row, start_run
from .settings import get_model

#: Parameters reported for every method (sigma only where the method has it).
PARAMS = ("r", "y0", "sigma")
METHODS = get_model("ode").run_methods


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
        out.update(
            {
                f"{name}_mean": float(d.mean()),
                f"{name}_sd": float(d.std(ddof=1)),
                f"{name}_q05": float(lo),
                f"{name}_q95": float(hi),
            }
        )
        if truth is not None and name in truth:
            covered[name] = bool(lo <= truth[name] <= hi)
    if truth is not None:
        out["covered_90"] = covered
    return out


def posterior_draws(result) -> dict[str, np.ndarray]:
    """Flattened posterior draws of ``r``, ``y0`` and ``sigma`` from a fit result."""
    post = result["posterior"]
    return {n: np.asarray(post[n].values).ravel() for n in PARAMS if n in post}


def predictive_paths(
    result, t_grid, *, draws: int | None = None, random_seed: int = 0, noise: bool = False
) -> np.ndarray:
    """``y(t)`` on ``t_grid`` for posterior draws of a fit: (n_draws, len(t_grid)).

    With ``noise=True`` each path also gets the observation noise of its draw (the
    posterior predictive of new data rather than of the ODE solution).
    """
    from ..models.ode import build_model

    paths = np.asarray(
        predict(build_model, result, np.asarray(t_grid), draws=draws, random_seed=random_seed), dtype=np.float64
    )
    if noise:
        post = result["posterior"]["sigma"].values.ravel()
        total = post.size
        sel = np.arange(total)
        if draws is not None:
            sel = np.sort(np.random.default_rng(random_seed).choice(total, size=draws, replace=False))
        rng = np.random.default_rng(random_seed + 1)
        paths = paths + rng.normal(size=paths.shape) * post[sel][:, None]
    return paths


def read_sbc(path: str | Path) -> dict:
    """The coverage part of the SBC benchmark's JSON (``benchmarks/results/sbc_ode.json``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No SBC results at {path}; run benchmarks/sbc_ode.py first or drop --sbc.")
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


def run_ode(
    *,
    methods=METHODS,
    backend: str = "jax",
    smoke: bool = False,
    out_dir: str | Path = "out/ode",
    random_seed: int = 0,
    progressbar: bool = True,
    devices: int | None = None,
    log=print,
    dropout: bool = True,
    sbc: str | Path | None = None,
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
    devices : int, optional
        JAX devices for data-parallel ADVI.
    log : callable
        Receives progress lines.
    dropout : bool
        Also train article E's dropout network and report it as a third method.
    sbc : path-like, optional
        The SBC benchmark's JSON; its coverage goes into ``metrics.json`` and its rank ECDFs
        (ArviZ) into ``sbc_ranks.png``.

    Returns
    -------
    dict
        The metrics written to ``metrics.json``.
    """
    import matplotlib.pyplot as plt

    from ..baselines.dropout_ode import fit_dropout_ode
    from ..data.ode import decay_solution, make_decay_data

    sbc_summary = read_sbc(sbc) if sbc is not None else None
    methods, size, out_dir = start_run("ode", methods, smoke=smoke, out_dir=out_dir)
    data = make_decay_data(random_state=random_seed)
    truth = dict(data.truth)
    t_grid = np.linspace(0.0, float(data.t.max()), size["n_grid"])
    truth_path = decay_solution(t_grid, y0=truth["y0"], r=truth["r"])
    results, walls = fit_run(
        "ode",
        data.t,
        data.y,
        methods=methods,
        size=size,
        backend=backend,
        random_seed=random_seed,
        progressbar=progressbar,
        devices=devices,
        out_dir=out_dir,
        log=log,
    )
    runs, samples, paths = [], {}, {}
    for method, result in results.items():
        draws = posterior_draws(result)
        samples[method.upper()] = draws
        paths[method] = predictive_paths(
            result, t_grid, draws=min(size["predict_draws"], draws["r"].size), random_seed=random_seed
        )
        runs.append({**method_row(method, result, walls[method]), **summarise_draws(draws, truth)})
        if method != "nuts":
            save_figure(plot_elbo(result), out_dir / "elbo.png")
        elif result["posterior"].sizes["chain"] > 1:  # the chains of the identifiable parameters, by ArviZ
            save_figure(plot_chains(result, PARAMS, title="NUTS: chains"), out_dir / "trace_nuts.png")
            save_figure(plot_ranks(result, PARAMS, title="NUTS: rank plots"), out_dir / "rank_nuts.png")
        save_figure(
            plot_predictive_bands(
                t_grid,
                paths[method],
                t=data.t,
                y=data.y,
                truth_path=truth_path,
                title=f"{method.upper()}: y(t) with quantile bands",
            ),
            out_dir / f"bands_{method}.png",
        )
    if dropout:
        log(
            f"[ode] dropout network (article E), {size['dropout_hidden']} Mish units, "
            f"{size['dropout_prime_steps']} + {size['dropout_fine_steps']} Adamax steps"
        )
        t0 = time.perf_counter()
        dres = fit_dropout_ode(
            data.t,
            data.y,
            hidden=size["dropout_hidden"],
            prime_steps=size["dropout_prime_steps"],
            fine_steps=size["dropout_fine_steps"],
            t_grid=t_grid,
            random_seed=random_seed,
        )
        draws = {"r": dres.r, "y0": dres.y0}
        samples["dropout"] = draws
        paths["dropout"] = dres.y_paths
        runs.append(
            {
                "method": "dropout",
                "backend": "jax",
                **summarise_draws(draws, truth),
                # JAX compiles inside the training call, so fit_seconds includes it
                "fit_seconds": float(dres.fit_seconds),
                "compile_seconds": None,
                "wall_seconds": time.perf_counter() - t0,
                "n_samples": int(len(dres.r)),
                "final_huber_loss": float(dres.loss_fine[-100:].mean()) if len(dres.loss_fine) else None,
            }
        )
        save_figure(
            plot_predictive_bands(
                t_grid,
                dres.y_paths,
                t=data.t,
                y=data.y,
                truth_path=truth_path,
                color="C2",
                title="dropout network: y(t) with quantile bands",
            ),
            out_dir / "bands_dropout.png",
        )
    if samples:
        save_figure(plot_parameter_distributions(samples, truth=truth), out_dir / "parameters.png")
        fig, axes = plt.subplots(1, len(paths), figsize=(5.5 * len(paths), 4), constrained_layout=True, squeeze=False)
        for ax, (name, p) in zip(axes[0], paths.items(), strict=True):
            plot_path_density(t_grid, p, ax=ax, title=f"{name}: density of y(t)")
        save_figure(fig, out_dir / "density.png")
    if sbc is not None:
        save_figure(plot_sbc_ranks(json.loads(Path(sbc).read_text())), out_dir / "sbc_ranks.png")
    metrics = {
        "model": "ode",
        "runs": runs,
        "truth": truth,
        "sbc": sbc_summary,
        "settings": {
            **size,
            "smoke": smoke,
            "random_seed": random_seed,
            "backend": backend,
            "n_points": int(data.n),
            "t_max": float(data.t.max()),
            "model_settings": model_settings_of(next(iter(results.values()))),
        },
        "machine": machine_description(),
        "software": software_versions(),
    }
    write_json(metrics, out_dir / "metrics.json")
    return metrics


def compare_data(size: dict, random_seed: int) -> dict:
    """``bnngallery compare ode``: known truth, train and test two noisy draws on one grid."""
    from ..data.ode import make_decay_data

    train, test = make_decay_data(random_state=random_seed), make_decay_data(random_state=random_seed + 1000)
    return {"train": (train.t, train.y), "test": (test.t, test.y), "data": train}
