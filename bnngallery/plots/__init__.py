"""Figures of the gallery, one module per kind of data; every function draws on the given
``ax`` (where it has one) or on a new figure, returns the ``Figure`` and never shows it.

=====================  =====================================================================
``fit``                :func:`plot_elbo`
``surfaces``           2-D inputs: :func:`grid_2d`, :func:`plot_surface`,
                       :func:`plot_probability_surfaces`, :func:`plot_method_comparison`,
                       :func:`plot_uncertainty_grid` (many fits), :func:`plot_prob_scatter`
``classification``     :func:`plot_reliability_diagram`, :func:`plot_referral_curves`,
                       :func:`plot_score_histograms`, :func:`plot_confusion`,
                       :func:`plot_image_grid`
``regression``         :func:`plot_regression_bands`, :func:`plot_band_grid` (many fits)
``parameters``         :func:`plot_parameters` (ArviZ intervals or densities, a panel per parameter),
                       :func:`plot_learned_scales` (a hierarchical prior's scales, pruned weights)
``checks``             :func:`plot_loo_compare`, :func:`plot_pareto_k`, :func:`plot_calibration`,
                       :func:`plot_pit`, :func:`plot_chains`, :func:`plot_ranks` (arviz-plots)
``ode``                :func:`plot_predictive_bands`, :func:`plot_path_density`,
                       :func:`plot_parameter_distributions`, :func:`plot_sbc_ranks`
=====================  =====================================================================
"""

from ._figure import figure_and_axes, save_figure
from .checks import plot_calibration, plot_chains, plot_loo_compare, plot_pareto_k, plot_pit, plot_ranks
from .classification import (
    plot_confusion,
    plot_image_grid,
    plot_referral_curves,
    plot_reliability_diagram,
    plot_score_histograms,
)
from .fit import plot_elbo
from .ode import plot_parameter_distributions, plot_path_density, plot_predictive_bands, plot_sbc_ranks
from .parameters import plot_learned_scales, plot_parameters
from .regression import plot_band_grid, plot_regression_bands
from .surfaces import (
    grid_2d,
    plot_method_comparison,
    plot_prob_scatter,
    plot_probability_surfaces,
    plot_surface,
    plot_uncertainty_grid,
)

__all__ = [
    "figure_and_axes",
    "plot_band_grid",
    "plot_calibration",
    "plot_chains",
    "grid_2d",
    "plot_confusion",
    "plot_elbo",
    "plot_image_grid",
    "plot_loo_compare",
    "plot_method_comparison",
    "plot_parameter_distributions",
    "plot_learned_scales",
    "plot_parameters",
    "plot_pareto_k",
    "plot_path_density",
    "plot_pit",
    "plot_predictive_bands",
    "plot_prob_scatter",
    "plot_probability_surfaces",
    "plot_ranks",
    "plot_referral_curves",
    "plot_regression_bands",
    "plot_reliability_diagram",
    "plot_sbc_ranks",
    "plot_score_histograms",
    "plot_surface",
    "plot_uncertainty_grid",
    "save_figure",
]
