"""Checks drawn by arviz-plots: the fits' ELPD-LOO ranking, each fit's Pareto k, posterior
predictive checks of held-out data (calibration of binary predictions, PIT of continuous
ones) and the MCMC chains of identifiable parameters (trace and rank plots). Each returns
the Figure."""

from __future__ import annotations

import xarray as xr

from ..diagnostics.elpd import elpd_loo


def _figure(pc, title: str | None, *, replaces_axes_title: bool = False):
    fig = pc.viz["figure"].item()
    if title:
        if replaces_axes_title:  # a one-panel check titled by the variable's name ("y_obs")
            for ax in fig.axes:
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

    pc = azp.plot_ppc_pava(result, data_type="binary", backend="matplotlib")
    return _figure(pc, title, replaces_axes_title=True)


def plot_pit(result: xr.DataTree, *, title: str | None = None):
    """``arviz_plots.plot_ppc_pit``: the PIT values of continuous observations under the
    posterior predictive, as the difference of their ECDF from the uniform one (calibrated:
    near zero, inside the band), from a result with ``posterior_predictive`` and
    ``observed_data``."""
    import arviz_plots as azp

    return _figure(azp.plot_ppc_pit(result, backend="matplotlib"), title, replaces_axes_title=True)


def plot_chains(result: xr.DataTree, var_names, *, title: str | None = None):
    """``arviz_plots.plot_trace_dist``: each chain's trace and marginal of identifiable
    parameters of an MCMC fit (noise scales, ODE parameters, hierarchical scales; not network
    weights, whose chains may sit in different, equivalent modes)."""
    import arviz_plots as azp

    return _figure(azp.plot_trace_dist(result, var_names=list(var_names), backend="matplotlib"), title)


def plot_ranks(result: xr.DataTree, var_names, *, title: str | None = None):
    """``arviz_plots.plot_rank``: the rank ECDF of each chain against the uniform, with its
    band; chains that mix well stay inside it."""
    import arviz_plots as azp

    return _figure(azp.plot_rank(result, var_names=list(var_names), backend="matplotlib"), title)
