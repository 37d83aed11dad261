"""Figures of the gallery. Every function draws on given axes or returns a new figure,
and never calls ``plt.show()``.
"""

from __future__ import annotations

import matplotlib

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import xarray as xr

from .results import atomic_write

_ = matplotlib  # the backend is the caller's choice (tests and the CLI use Agg)


def _axes(ax, figsize=(6, 4)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def plot_elbo(result: xr.DataTree, *, ax=None, smooth: int = 100, label: str | None = None):
    """ELBO per step (raw and a running mean) of an ADVI result."""
    fig, ax = _axes(ax)
    loss = result["fit_history"]["loss"].values
    elbo = -loss
    steps = np.arange(1, len(elbo) + 1)
    ax.plot(steps, elbo, alpha=0.25, lw=0.5, color="C0")
    if len(elbo) >= smooth:
        kernel = np.ones(smooth) / smooth
        ax.plot(steps[smooth - 1:], np.convolve(elbo, kernel, mode="valid"), color="C0",
                label=label or f"running mean ({smooth} steps)")
    lo = np.percentile(elbo[len(elbo) // 10:], 1) if len(elbo) > 10 else elbo.min()
    ax.set_ylim(lo - 0.1 * abs(lo), elbo.max() + 0.05 * abs(elbo.max()) + 1e-9)
    ax.set(xlabel="step", ylabel="ELBO", title="ADVI convergence")
    ax.legend(loc="lower right")
    return fig


def grid_2d(lim: float = 3.0, n: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An ``n x n`` grid over ``[-lim, lim]^2``: (xx, yy, points of shape (n*n, 2))."""
    g = np.linspace(-lim, lim, n)
    xx, yy = np.meshgrid(g, g)
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])


def plot_surface(xx, yy, values, *, X=None, y=None, ax=None, title="", cmap="RdBu_r", label="", vmin=None, vmax=None):
    """A filled contour of a function on a 2-D grid, with labelled points on top."""
    fig, ax = _axes(ax, figsize=(5.5, 4.5))
    cs = ax.contourf(xx, yy, values.reshape(xx.shape), levels=20, cmap=cmap, vmin=vmin, vmax=vmax)
    fig.colorbar(cs, ax=ax, label=label)
    if X is not None:
        colors = np.where(np.asarray(y) == 1, "C1", "C0") if y is not None else "k"
        ax.scatter(X[:, 0], X[:, 1], c=colors, s=10, edgecolors="white", linewidths=0.3)
    ax.set(xlabel="$x_1$", ylabel="$x_2$", title=title)
    ax.set_aspect("equal")
    return fig


def plot_probability_surfaces(xx, yy, p_grid_draws: np.ndarray, *, X=None, y=None, method: str = ""):
    """Posterior predictive mean P(y=1) and its standard deviation, side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
    mean, sd = p_grid_draws.mean(axis=0), p_grid_draws.std(axis=0)
    plot_surface(xx, yy, mean, X=X, y=y, ax=axes[0], title=f"{method} posterior predictive mean",
                 label="P(y = 1)", vmin=0, vmax=1)
    plot_surface(xx, yy, sd, X=X, y=y, ax=axes[1], title=f"{method} predictive uncertainty (sd)",
                 cmap="viridis", label="sd of P(y = 1)")
    return fig


def plot_method_comparison(xx, yy, grids: dict[str, np.ndarray], *, X=None, y=None):
    """Mean and sd surfaces of several fits in rows, and their difference in mean."""
    names = list(grids)
    fig, axes = plt.subplots(len(names), 2, figsize=(11, 4.3 * len(names)), constrained_layout=True, squeeze=False)
    for row, name in enumerate(names):
        g = grids[name]
        plot_surface(xx, yy, g.mean(0), X=X, y=y, ax=axes[row, 0], title=f"{name}: mean P(y = 1)",
                     label="P(y = 1)", vmin=0, vmax=1)
        plot_surface(xx, yy, g.std(0), X=X, y=y, ax=axes[row, 1], title=f"{name}: sd of P(y = 1)",
                     cmap="viridis", label="sd")
    return fig


def plot_prob_scatter(p_a: np.ndarray, p_b: np.ndarray, *, names=("ADVI", "NUTS"), ax=None):
    """Predictive probability of one fit against another's, per test point."""
    fig, ax = _axes(ax, figsize=(4.5, 4.5))
    sns.scatterplot(x=p_b, y=p_a, s=12, ax=ax, alpha=0.6)
    ax.plot([0, 1], [0, 1], color="k", lw=0.8, ls="--")
    ax.set(xlabel=f"{names[1]} P(y = 1)", ylabel=f"{names[0]} P(y = 1)", title="Agreement on test points")
    ax.set_aspect("equal")
    return fig


def save_figure(fig, path) -> None:
    """Save a figure as PNG atomically and close it."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png"))
    plt.close(fig)
