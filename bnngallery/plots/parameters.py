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


def plot_parameters(results: Mapping[str, xr.DataTree], var_names=None, *, kind: str = "forest"):
    """Overlay the fits' marginals of the identifiable parameters with ArviZ.

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
    data = _pooled(results, list(var_names))
    if kind == "forest":
        visuals = {"dist": False, "point_estimate_text": False}
        pc = azp.plot_dist(data, var_names=list(var_names), backend="matplotlib", visuals=visuals)
    else:
        visuals = {"point_estimate_text": False}
        pc = azp.plot_dist(data, var_names=list(var_names), kind="kde", backend="matplotlib", visuals=visuals)
    pc.add_legend("model")
    return pc.viz["figure"].item()
