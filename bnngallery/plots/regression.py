"""Regression figures: the posterior predictive bands of several fits on 1-D inputs, drawn by
``arviz_plots.plot_lm`` (one call per fit on a shared PlotCollection); the training range and
the true function are drawn on the same axes."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..diagnostics.metrics import INTERVAL_PROB, replicated_data
from ._figure import panel_grid, plot_bands


def plot_regression_bands(
    X_plot,
    bands: Mapping[str, dict],
    *,
    X_test=None,
    y_test=None,
    truth=None,
    x_range=None,
    prob: float = INTERVAL_PROB,
    random_seed: int = 0,
):
    """Posterior predictive means and central ``prob`` bands of several fits overlaid on 1-D
    inputs: ``arviz_plots.plot_lm`` per fit, the held-out points scattered by the first.

    Parameters
    ----------
    X_plot : array (n, 1) or (n,)
        Sorted inputs the bands were computed at.
    bands : dict of {str: dict}
        Per fit, the output of :func:`regression_predictive` at ``X_plot`` (its ``mu_draws``
        and ``sigma_draws`` give the replicated data; the same ``random_seed`` gives the same
        band as its ``lo`` / ``hi``).
    X_test, y_test : arrays, optional
        Held-out points to scatter.
    truth : callable, optional
        The true function, drawn as a dashed line.
    x_range : (float, float), optional
        The training interval, shaded; outside it the model extrapolates.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    x = np.asarray(X_plot, dtype=np.float64).reshape(-1)
    pc = None
    handles = []
    have_points = X_test is not None and y_test is not None
    for i, (name, b) in enumerate(bands.items()):
        first = i == 0 and have_points
        # plot_lm reads the observed group in every call; without held-out points it gets the
        # band's own mean, never drawn
        X_obs, y_obs = (X_test, y_test) if have_points else (x, b["mean"])
        mu = np.asarray(b["mu_draws"], dtype=np.float64)
        sigma = np.asarray(b["sigma_draws"], dtype=np.float64).reshape(-1, 1)
        y_rep = replicated_data(mu, sigma, random_seed=random_seed)  # as regression_predictive

        color = f"C{i}"
        visuals = {"ci_band": {"color": color, "alpha": 0.25}, "pe_line": {"color": color}}
        if first:
            visuals["observed_scatter"] = {"color": "0.4", "alpha": 0.5}
        else:
            visuals["observed_scatter"] = False
        pc = plot_bands(x, y_rep, X_obs, y_obs, ci_prob=prob, point_estimate="mean", visuals=visuals, pc=pc)
        handles += [
            Patch(color=color, alpha=0.25, label=f"{name} {int(prob * 100)}% band"),
            Line2D([], [], color=color, label=f"{name} mean"),
        ]
    fig = pc.viz["figure"].item()
    fig.set_size_inches(8, 4.5)
    ax = fig.axes[0]
    if x_range is not None:
        ax.axvspan(*x_range, color="0.93", zorder=0)
        handles.append(Patch(color="0.93", label="training range"))
    if truth is not None:
        (line,) = ax.plot(x, truth(x), color="k", ls="--", lw=1, label="true function")
        handles.append(line)
    # Frame the bands and the data; the true function may run far off beyond them.
    lo = min(float(np.min(b["lo"])) for b in bands.values())
    hi = max(float(np.max(b["hi"])) for b in bands.values())
    if y_test is not None:
        lo, hi = min(lo, float(np.min(y_test))), max(hi, float(np.max(y_test)))
    pad = 0.1 * (hi - lo)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set(xlabel="x", ylabel="y", title="Posterior predictive: mean and band")
    ax.legend(handles=handles, loc="upper left", fontsize=8)
    return fig


def plot_band_grid(X_plot, bands: Mapping[str, dict], *, reference: str, x_range=None, truth=None, ncols: int = 4):
    """Many fits at a glance: one panel per fit, its band and mean over the ``reference``
    fit's band (grey), on shared axes; overlaying nine bands on one axis hides them all.
    ``bands`` as for :func:`plot_regression_bands` (their ``lo``, ``hi`` and ``mean``)."""
    x = np.asarray(X_plot, dtype=np.float64).reshape(-1)
    names = [n for n in bands if n != reference]
    fig, axes = panel_grid(len(names), ncols, (3.4, 2.6))
    ref = bands[reference]
    lo = min(float(np.min(b["lo"])) for b in bands.values())
    hi = max(float(np.max(b["hi"])) for b in bands.values())
    for i, (ax, name) in enumerate(zip(axes, names, strict=True)):
        if x_range is not None:
            ax.axvspan(*x_range, color="0.95", zorder=0)
        ax.fill_between(x, ref["lo"], ref["hi"], color="0.6", alpha=0.35, lw=0, label=reference)
        ax.fill_between(x, bands[name]["lo"], bands[name]["hi"], color=f"C{i}", alpha=0.35, lw=0, label=name)
        ax.plot(x, bands[name]["mean"], color=f"C{i}", lw=1)
        if truth is not None:
            ax.plot(x, truth(x), color="k", ls="--", lw=0.8)
        ax.set_title(name, fontsize=10)
        ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    fig.suptitle(f"{int(INTERVAL_PROB * 100)} % predictive band of each fit over {reference}'s (grey)")
    return fig
