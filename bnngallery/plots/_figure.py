"""The one convention of every plot in the gallery: draw on the given axes or on a new
figure, return the ``Figure``, never call ``plt.show()``; :func:`save_figure` writes it."""

from __future__ import annotations

import matplotlib.pyplot as plt

from ..files import atomic_write


def plot_bands(x, y_draws, x_obs, y_obs, *, ci_prob, point_estimate: str, visuals: dict, x_name="x", pc=None):
    """``arviz_plots.plot_lm`` of draws of y at sorted inputs ``x`` (``(draws, len(x))``) as
    equal-tailed ``ci_prob`` bands around the ``point_estimate`` line, with the observed points
    (``x_obs``, ``y_obs``); on the PlotCollection ``pc`` when given (to overlay fits). Returns
    the PlotCollection."""
    import arviz_plots as azp
    import numpy as np
    import xarray as xr

    def arr(v):
        return np.asarray(v, dtype=np.float64)

    tree = xr.DataTree.from_dict(
        {
            "predictions": xr.Dataset({"y": (("chain", "draw", "grid"), arr(y_draws)[None])}),
            "predictions_constant_data": xr.Dataset({x_name: (("grid",), arr(x).reshape(-1))}),
            "observed_data": xr.Dataset({"y": (("obs_id",), arr(y_obs).reshape(-1))}),
            "constant_data": xr.Dataset({x_name: (("obs_id",), arr(x_obs).reshape(-1))}),
        }
    )
    return azp.plot_lm(
        tree,
        x=x_name,
        y="y",
        group="predictions",
        ci_prob=ci_prob,
        ci_kind="eti",
        point_estimate=point_estimate,
        smooth=False,
        backend="matplotlib",
        plot_collection=pc,
        visuals=visuals,
    )


def figure_and_axes(ax=None, *, figsize=(6, 4)):
    """``(figure, axes)``: those of ``ax``, or a new figure with one axes of ``figsize``."""
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def panel_grid(n: int, ncols: int, panel: tuple[float, float]):
    """A figure of ``n`` panels on shared axes, ``ncols`` a row, each ``panel`` inches; the
    unused cells of the last row are hidden. Returns ``(fig, axes)`` with ``axes`` flat, ``n`` long."""
    import matplotlib.pyplot as plt

    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(panel[0] * ncols, panel[1] * nrows),
        constrained_layout=True,
        squeeze=False,
        sharex=True,
        sharey=True,
    )
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, list(axes.flat[:n])


def save_figure(fig, path) -> None:
    """Save a figure as PNG atomically and close it."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png"))
    plt.close(fig)
