"""Leave-one-out figures, drawn by arviz-plots: the fits' ELPD ranking and each fit's Pareto k."""

from __future__ import annotations

import xarray as xr

from ..diagnostics.elpd import elpd_loo


def plot_loo_compare(ranking):
    """``arviz_plots.plot_compare`` of the DataFrame of
    :func:`bnngallery.diagnostics.elpd.loo_ranking`: each fit's ELPD-LOO with its standard
    error, relative to the best. Returns the Figure."""
    import arviz_plots as azp

    return azp.plot_compare(ranking, backend="matplotlib").viz["figure"].item()


def plot_pareto_k(result: xr.DataTree, *, approximate: bool = False):
    """``arviz_plots.plot_khat``: the Pareto k of every observation in a fit's PSIS-LOO (with
    ``approximate``, of an ADVI fit's approximation-corrected LOO). Returns the Figure."""
    import arviz_plots as azp

    return azp.plot_khat(elpd_loo(result, approximate=approximate), backend="matplotlib").viz["figure"].item()
