"""ODE figures: quantile bands of the predictive paths (arviz-plots ``plot_lm``), the density of
sampled paths (matplotlib: ArviZ has no 2-D path density), the parameters' distributions per
method (``plot_dist``) and SBC (``plot_ecdf_pit``). Each returns the ``Figure``."""

from __future__ import annotations

import numpy as np

from ._figure import figure_and_axes, plot_bands

#: Quantile bands drawn around the median path (article E: quantiles, not mean +- sd).
BAND_QUANTILES = ((0.05, 0.95), (0.25, 0.75))


def plot_predictive_bands(t_grid, paths, *, t, y, truth_path=None, title: str = "", color: str = "C0"):
    """Median path with its 50 % and 90 % quantile bands, by ``arviz_plots.plot_lm``
    (equal-tailed intervals: quantiles, not mean +- sd, so a band respects the horizontal
    asymptote, article E's point), the data and, if given, the true path.

    ``paths`` are sampled ``y(t)`` on ``t_grid``, shape ``(samples, len(t_grid))`` (posterior
    paths or the dropout network's samples).
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    probs = sorted(round(hi - lo, 6) for lo, hi in BAND_QUANTILES)
    visuals = {"ci_band": {"color": color}, "pe_line": {"color": color}, "observed_scatter": {"color": "k"}}
    pc = plot_bands(t_grid, paths, t, y, ci_prob=probs, point_estimate="median", visuals=visuals, x_name="t")
    fig = pc.viz["figure"].item()
    fig.set_size_inches(6, 4)
    ax = fig.axes[0]
    handles = [Patch(color=color, alpha=0.4, label=f"{round(p * 100)} % band") for p in probs]
    handles += [Line2D([], [], color=color, label="median"), Line2D([], [], color="k", marker="o", ls="", label="data")]
    if truth_path is not None:
        (line,) = ax.plot(t_grid, truth_path, "k--", lw=1, label="truth")
        handles.append(line)
    ax.set(xlabel="t", ylabel="y(t)", title=title)
    ax.legend(handles=handles, loc="upper right", fontsize=8)
    return fig


def plot_path_density(t_grid, paths, *, ax=None, bins: int = 80, title: str = ""):
    """Density of sampled y(t) across t: a 2-D histogram of every path's values per time."""
    fig, ax = figure_and_axes(ax, figsize=(6, 4))
    paths = np.asarray(paths)
    lo, hi = np.quantile(paths, [0.001, 0.999])
    edges = np.linspace(lo, hi, bins + 1)
    dens = np.stack([np.histogram(paths[:, j], bins=edges, density=True)[0] for j in range(paths.shape[1])], axis=1)
    mesh = ax.pcolormesh(t_grid, 0.5 * (edges[1:] + edges[:-1]), np.log1p(dens), shading="auto", cmap="magma")
    fig.colorbar(mesh, ax=ax, label="log(1 + density)")
    ax.set(xlabel="t", ylabel="y(t)", title=title or "density of sampled y(t)")
    return fig


def plot_parameter_distributions(
    samples: dict[str, dict[str, np.ndarray]], *, truth: dict | None = None, params=("r", "y0")
):
    """Distributions of the ODE parameters (posterior draws, or the dropout baseline's
    samples), one panel per parameter, one KDE per method, the truth as a vertical line: drawn
    by ``arviz_plots.plot_dist`` and ``add_lines``. ``samples`` maps a method to
    ``{parameter: draws}``."""
    import arviz_plots as azp
    import xarray as xr

    # ArviZ overlays need one draw count: each method gives an equally large random subset
    n = min(np.asarray(d[p]).size for d in samples.values() for p in params)
    rng = np.random.default_rng(0)
    trees = {}
    for method, d in samples.items():
        pick = np.sort(rng.choice(np.asarray(d[params[0]]).size, size=n, replace=False))
        post = xr.Dataset({p: (("chain", "draw"), np.asarray(d[p]).ravel()[pick][None]) for p in params})
        trees[method] = xr.DataTree.from_dict({"posterior": post})
    pc = azp.plot_dist(
        trees, var_names=list(params), kind="kde", backend="matplotlib", visuals={"point_estimate_text": False}
    )
    if truth is not None:
        azp.add_lines(pc, values={p: truth[p] for p in params if p in truth})
    pc.add_legend("model")
    return pc.viz["figure"].item()


def plot_sbc_ranks(sbc: dict, *, params=("y0", "r", "sigma"), random_seed: int = 0):
    """Simulation-based calibration of each method (``benchmarks/sbc_ode.py``'s JSON), drawn by
    ``arviz_plots.plot_ecdf_pit``: per parameter, the ECDF of the truth's rank among the
    posterior draws minus the uniform one, with ArviZ's uniformity test (a calibrated method
    stays near zero; highlighted points fail the test). Ranks ``0 .. n_rank`` become PIT values
    ``(rank + u) / (n_rank + 1)``, ``u`` uniform (seeded), as for any discrete rank."""
    import arviz_plots as azp
    import xarray as xr

    n_rank = int(sbc["settings"]["n_rank"])
    rng = np.random.default_rng(random_seed)
    methods = [m for m in ("nuts", "advi") if m in sbc]
    per_method = []
    for m in methods:
        pit = {}
        for p in params:
            ranks = np.asarray(sbc[m][p]["ranks"], dtype=np.float64)
            pit[p] = (("chain", "draw"), ((ranks + rng.uniform(size=ranks.size)) / (n_rank + 1))[None])
        per_method.append(xr.Dataset(pit))
    both = xr.concat(per_method, dim=xr.DataArray([m.upper() for m in methods], dims="method", name="method"))
    pc = azp.plot_ecdf_pit(xr.DataTree.from_dict({"prior_sbc": both}), backend="matplotlib", col_wrap=len(methods))
    fig = pc.viz["figure"].item()
    fig.set_size_inches(5.5 * len(methods), 3.2 * len(params))
    fig.subplots_adjust(hspace=0.6)  # room for each panel's two-line title under the x label above
    fig.suptitle("SBC: ECDF of the truth's rank minus uniform")
    return fig
