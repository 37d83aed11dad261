"""Two-dimensional inputs (the moons model): probability surfaces on a grid, and how two
fits' predictions compare point by point. Drawn with matplotlib: ArviZ has no plot of a
function over a 2-D input grid, nor a point-by-point scatter of two fits' predictions."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from ._figure import figure_and_axes, panel_grid


def grid_2d(lim: float = 3.0, n: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An ``n x n`` grid over ``[-lim, lim]^2``: (xx, yy, points of shape (n*n, 2))."""
    g = np.linspace(-lim, lim, n)
    xx, yy = np.meshgrid(g, g)
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])


def plot_surface(xx, yy, values, *, X=None, y=None, ax=None, title="", cmap="RdBu_r", label="", vmin=None, vmax=None):
    """A filled contour of a function on a 2-D grid, with labelled points on top."""
    fig, ax = figure_and_axes(ax, figsize=(5.5, 4.5))
    cs = ax.contourf(xx, yy, values.reshape(xx.shape), levels=20, cmap=cmap, vmin=vmin, vmax=vmax)
    fig.colorbar(cs, ax=ax, label=label)
    if X is not None:
        colors = np.where(np.asarray(y) == 1, "C1", "C0") if y is not None else "k"
        ax.scatter(X[:, 0], X[:, 1], c=colors, s=10, edgecolors="white", linewidths=0.3)
    ax.set(xlabel="$x_1$", ylabel="$x_2$", title=title)
    ax.set_aspect("equal")
    return fig


def _mean_and_sd_panels(xx, yy, draws: np.ndarray, axes, *, X, y, titles: tuple[str, str], sd_label: str) -> None:
    """One fit's draws of P(y = 1) on the grid: their mean (on [0, 1]) on ``axes[0]`` and their
    sd on ``axes[1]``, titled ``titles``."""
    mean, sd = draws.mean(axis=0), draws.std(axis=0)
    plot_surface(xx, yy, mean, X=X, y=y, ax=axes[0], title=titles[0], label="P(y = 1)", vmin=0, vmax=1)
    plot_surface(xx, yy, sd, X=X, y=y, ax=axes[1], title=titles[1], cmap="viridis", label=sd_label)


def plot_probability_surfaces(xx, yy, p_grid_draws: np.ndarray, *, X=None, y=None, method: str = ""):
    """Posterior predictive mean P(y=1) and its standard deviation, side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
    titles = (f"{method} posterior predictive mean", f"{method} predictive uncertainty (sd)")
    _mean_and_sd_panels(xx, yy, p_grid_draws, axes, X=X, y=y, titles=titles, sd_label="sd of P(y = 1)")
    return fig


def plot_method_comparison(xx, yy, grids: dict[str, np.ndarray], *, X=None, y=None):
    """Mean and sd surfaces of several fits in rows, and their difference in mean."""
    names = list(grids)
    fig, axes = plt.subplots(len(names), 2, figsize=(11, 4.3 * len(names)), constrained_layout=True, squeeze=False)
    for row, name in enumerate(names):
        titles = (f"{name}: mean P(y = 1)", f"{name}: sd of P(y = 1)")
        _mean_and_sd_panels(xx, yy, grids[name], axes[row], X=X, y=y, titles=titles, sd_label="sd")
    return fig


def plot_uncertainty_grid(xx, yy, grids: dict[str, np.ndarray], *, X=None, y=None, ncols: int = 5):
    """Many fits at a glance: each panel one fit's predictive sd of P(y = 1) on one shared
    colour scale, with its decision boundary (mean P = 0.5) as a line and the points on top."""
    names = list(grids)
    fig, axes = panel_grid(len(names), ncols, (3.2, 3.0))
    vmax = max(float(g.std(0).max()) for g in grids.values())
    levels = np.linspace(0.0, vmax, 21)
    for ax, name in zip(axes, names, strict=True):
        g = grids[name]
        cs = ax.contourf(xx, yy, g.std(0).reshape(xx.shape), levels=levels, cmap="viridis")
        ax.contour(xx, yy, g.mean(0).reshape(xx.shape), levels=[0.5], colors="white", linewidths=1.2)
        if X is not None:
            colors = np.where(np.asarray(y) == 1, "C1", "C0") if y is not None else "k"
            ax.scatter(X[:, 0], X[:, 1], c=colors, s=4, edgecolors="none", alpha=0.7)
        ax.set_title(name, fontsize=10)
        ax.set_aspect("equal")
    fig.colorbar(cs, ax=axes, label="sd of P(y = 1)", shrink=0.8)
    fig.suptitle("Predictive uncertainty of each fit (white line: its decision boundary)")
    return fig


def plot_prob_scatter(p_a: np.ndarray, p_b: np.ndarray, *, names=("ADVI", "NUTS"), ax=None):
    """Predictive probability of one fit against another's, per test point."""
    fig, ax = figure_and_axes(ax, figsize=(4.5, 4.5))
    sns.scatterplot(x=p_b, y=p_a, s=12, ax=ax, alpha=0.6)
    ax.plot([0, 1], [0, 1], color="k", lw=0.8, ls="--")
    ax.set(xlabel=f"{names[1]} P(y = 1)", ylabel=f"{names[0]} P(y = 1)", title="Agreement on test points")
    ax.set_aspect("equal")
    return fig
