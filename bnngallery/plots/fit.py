"""The fit's own history: the ELBO per step of an ADVI result (matplotlib: ArviZ has no
plot of an optimisation trace)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from ._figure import figure_and_axes


def plot_elbo(result: xr.DataTree, *, ax=None, smooth: int = 100, label: str | None = None):
    """ELBO per step (raw and a running mean) of an ADVI result."""
    fig, ax = figure_and_axes(ax)
    loss = result["fit_history"]["loss"].values
    elbo = -loss
    steps = np.arange(1, len(elbo) + 1)
    ax.plot(steps, elbo, alpha=0.25, lw=0.5, color="C0")
    if len(elbo) >= smooth:
        kernel = np.ones(smooth) / smooth
        ax.plot(
            steps[smooth - 1 :],
            np.convolve(elbo, kernel, mode="valid"),
            color="C0",
            label=label or f"running mean ({smooth} steps)",
        )
    lo = np.percentile(elbo[len(elbo) // 10 :], 1) if len(elbo) > 10 else elbo.min()
    ax.set_ylim(lo - 0.1 * abs(lo), elbo.max() + 0.05 * abs(elbo.max()) + 1e-9)
    objective = result["fit_history"].attrs.get("objective", "elbo")
    ax.set(
        xlabel="step",
        ylabel="ELBO" if objective == "elbo" else objective,
        title="ADVI convergence" if objective == "elbo" else "MAP convergence",
    )
    ax.legend(loc="lower right")
    return fig
