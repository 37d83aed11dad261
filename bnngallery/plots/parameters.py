"""Posterior marginals of the identifiable parameters of several fits, overlaid with ArviZ."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from ..diagnostics.compare import identifiable_vars


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


#: Fits with fewer draws (an ensemble's members) are left out of the marginal plots: a
#: density or an interval of five numbers says nothing, and the overlay would cut every fit
#: down to the fewest draws.
MIN_PLOT_DRAWS = 50


def plot_parameters(results: Mapping[str, xr.DataTree], var_names=None, *, kind: str = "forest"):
    """Overlay the fits' marginals of the identifiable parameters with ArviZ (fits with fewer
    than :data:`MIN_PLOT_DRAWS` draws left out).

    Parameters
    ----------
    results : dict of {str: DataTree}
        Fits of one model, keyed by the names to show.
    var_names : list of str, optional
        Defaults to :func:`identifiable_vars` of the first fit.
    kind : {"forest", "density"}
        Intervals per fit (the 94 % credible interval and the mean) or KDEs overlaid, both by
        ``arviz_plots.plot_dist`` with one panel, and so one scale, per parameter (a shared
        axis shrinks a small parameter's intervals to dots beside a large one's).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        When there is nothing identifiable to plot (check :func:`identifiable_vars` first).
    """
    import arviz_plots as azp

    if kind not in ("forest", "density"):
        raise ValueError(f"kind must be 'forest' or 'density'; got {kind!r}.")
    var_names = var_names if var_names is not None else identifiable_vars(next(iter(results.values())))
    if not var_names:
        raise ValueError(
            "No identifiable parameters to plot (network weights are not compared one by one); "
            "pass var_names=[...] or check identifiable_vars(result) first."
        )
    results = {
        k: r
        for k, r in results.items()
        if r["posterior"].sizes["chain"] * r["posterior"].sizes["draw"] >= MIN_PLOT_DRAWS
    }
    if not results:
        raise ValueError(f"No fit has the {MIN_PLOT_DRAWS} draws a marginal plot needs.")
    data = _pooled(results, list(var_names))
    if kind == "forest":
        visuals = {"dist": False, "point_estimate_text": False}
        pc = azp.plot_dist(data, var_names=list(var_names), backend="matplotlib", visuals=visuals)
    else:
        visuals = {"point_estimate_text": False}
        pc = azp.plot_dist(data, var_names=list(var_names), kind="kde", backend="matplotlib", visuals=visuals)
    pc.add_legend("model")
    return pc.viz["figure"].item()


def plot_learned_scales(result):
    """What a hierarchical prior learned, per layer, in two panels.

    Left: each layer's learned scale ``sigma_<layer>`` (posterior mean and 94 % interval,
    log axis) and, for the horseshoe, the spread of its units' scales ``sigma * lambda_i``
    (one dot per unit, posterior means). Right: the share of each layer's weights the fit
    switched off (:func:`bnngallery.diagnostics.weights.pruned_fraction`). A network without
    learned scales shows the right panel alone.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from ..diagnostics.weights import pruned_fraction

    post = result["posterior"]
    layers = [n[len("sigma_") :] for n in post.data_vars if n.startswith("sigma_")]
    pruned = pruned_fraction(result)
    if layers:
        fig, (ax, ax_p) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [3, 2]})
        rng = np.random.default_rng(0)
        for i, layer in enumerate(layers):
            s = post[f"sigma_{layer}"].values.ravel()
            lo, hi = np.quantile(s, [0.03, 0.97])
            ax.errorbar(
                i,
                s.mean(),
                # a scale held at the MAP (last-layer Laplace) has equal draws: no negative rounding
                yerr=[[max(s.mean() - lo, 0.0)], [max(hi - s.mean(), 0.0)]],
                fmt="o",
                color="k",
                capsize=4,
                label="layer scale" if i == 0 else None,
            )
            if f"lambda_{layer}" in post:
                unit = (post[f"sigma_{layer}"] * post[f"lambda_{layer}"]).mean(("chain", "draw")).values.ravel()
                ax.scatter(
                    i + 0.15 + 0.2 * rng.random(unit.size),
                    unit,
                    s=4,
                    alpha=0.3,
                    color="C0",
                    label="unit scales" if i == 0 else None,
                )
        ax.set(
            xticks=range(len(layers)),
            xticklabels=layers,
            yscale="log",
            xlabel="layer",
            ylabel="prior scale of the weights",
            title="Learned scales",
        )
        ax.legend(loc="best")
    else:
        fig, ax_p = plt.subplots(figsize=(5, 3.8))
    names = list(pruned)
    ax_p.bar(names, [pruned[n] for n in names], color="C3")
    ax_p.set(
        ylim=(0, 1), xlabel="layer", ylabel="share of weights", title="Switched off: |posterior mean| < posterior sd"
    )
    fig.tight_layout()
    return fig
