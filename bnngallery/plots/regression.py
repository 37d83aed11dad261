"""Regression figures: predictive means and bands of several fits on 1-D inputs."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..diagnostics.metrics import INTERVAL_PROB
from ._figure import figure_and_axes


def plot_regression_bands(
    X_plot,
    bands: Mapping[str, dict],
    *,
    X_test=None,
    y_test=None,
    truth=None,
    x_range=None,
    ax=None,
    prob: float = INTERVAL_PROB,
):
    """Predictive means and central bands of several fits overlaid on 1-D inputs.

    Parameters
    ----------
    X_plot : array (n, 1) or (n,)
        Sorted inputs the bands were computed at.
    bands : dict of {str: dict}
        Per fit, the output of :func:`regression_predictive` at ``X_plot``.
    X_test, y_test : arrays, optional
        Held-out points to scatter.
    truth : callable, optional
        The true function, drawn as a dashed line.
    x_range : (float, float), optional
        The training interval, shaded; outside it the model extrapolates.
    """
    fig, ax = figure_and_axes(ax, figsize=(8, 4.5))
    x = np.asarray(X_plot).reshape(-1)
    if x_range is not None:
        ax.axvspan(*x_range, color="0.93", zorder=0, label="training range")
    if X_test is not None:
        ax.scatter(np.asarray(X_test).reshape(-1), y_test, s=6, color="0.4", alpha=0.5, label="test points", zorder=1)
    for i, (name, b) in enumerate(bands.items()):
        color = f"C{i}"
        ax.fill_between(x, b["lo"], b["hi"], color=color, alpha=0.25, label=f"{name} {int(prob * 100)}% band")
        ax.plot(x, b["mean"], color=color, lw=1.5, label=f"{name} mean")
    if truth is not None:
        ax.plot(x, truth(x), color="k", ls="--", lw=1, label="true function")
    # Frame the bands and the data; the true function may run far off beyond them.
    lo = min(float(np.min(b["lo"])) for b in bands.values())
    hi = max(float(np.max(b["hi"])) for b in bands.values())
    if y_test is not None:
        lo, hi = min(lo, float(np.min(y_test))), max(hi, float(np.max(y_test)))
    pad = 0.1 * (hi - lo)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set(xlabel="x", ylabel="y", title="Posterior predictive: mean and band")
    ax.legend(loc="upper left", fontsize=8)
    return fig
