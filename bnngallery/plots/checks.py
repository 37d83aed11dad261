"""Model checks drawn by arviz-plots: the fits' ELPD-LOO ranking, each fit's Pareto k, and
posterior predictive checks of held-out data (calibration of binary predictions, PIT of
continuous ones). Each returns the Figure."""

from __future__ import annotations

import xarray as xr

from ..diagnostics.elpd import elpd_loo


def _figure(pc, title: str | None):
    fig = pc.viz["figure"].item()
    if title:
        for ax in fig.axes:  # the variable's name ("y_obs"), which the title replaces
            ax.set_title("")
        fig.suptitle(title)
    return fig


def plot_loo_compare(ranking):
    """``arviz_plots.plot_compare`` of the DataFrame of
    :func:`bnngallery.diagnostics.elpd.loo_ranking`: each fit's ELPD-LOO with its standard
    error, relative to the best."""
    import arviz_plots as azp

    return _figure(azp.plot_compare(ranking, backend="matplotlib"), None)


def plot_pareto_k(result: xr.DataTree, *, approximate: bool = False, title: str | None = None):
    """``arviz_plots.plot_khat``: the Pareto k of every observation in a fit's PSIS-LOO (with
    ``approximate``, of an ADVI fit's approximation-corrected LOO)."""
    import arviz_plots as azp

    return _figure(azp.plot_khat(elpd_loo(result, approximate=approximate), backend="matplotlib"), title)


def plot_calibration(result: xr.DataTree, *, title: str | None = None):
    """``arviz_plots.plot_ppc_pava``: calibration of binary predictions (the PAV-adjusted
    conditional event probability against the predicted probability, with its consistency
    band), from a result with ``posterior_predictive`` and ``observed_data``
    (:func:`bnngallery.loglik.add_posterior_predictive`)."""
    import arviz_plots as azp

    return _figure(azp.plot_ppc_pava(result, data_type="binary", backend="matplotlib"), title)


def plot_pit(result: xr.DataTree, *, title: str | None = None):
    """``arviz_plots.plot_ppc_pit``: the PIT values of continuous observations under the
    posterior predictive, as the difference of their ECDF from the uniform one (calibrated:
    near zero, inside the band), from a result with ``posterior_predictive`` and
    ``observed_data``."""
    import arviz_plots as azp

    return _figure(azp.plot_ppc_pit(result, backend="matplotlib"), title)
