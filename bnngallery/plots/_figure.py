"""The one convention of every plot in the gallery: draw on the given axes or on a new
figure, return the ``Figure``, never call ``plt.show()``; :func:`save_figure` writes it."""

from __future__ import annotations

import matplotlib.pyplot as plt

from ..files import atomic_write


def figure_and_axes(ax=None, *, figsize=(6, 4)):
    """``(figure, axes)``: those of ``ax``, or a new figure with one axes of ``figsize``."""
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def save_figure(fig, path) -> None:
    """Save a figure as PNG atomically and close it."""
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png"))
    plt.close(fig)
