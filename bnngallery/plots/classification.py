"""Classifier figures: reliability diagram, referral curves, uncertainty histograms,
confusion matrix and image grids. Each returns the ``Figure``.

Drawn with matplotlib, as ArviZ has none of them: its calibration plot (``plot_ppc_pava``,
used for binary predictions in :mod:`.checks`) takes binary or ordinal data, not the
multiclass confidence of an MNIST net, and referral curves, histograms of uncertainty scores
split by correctness, confusion matrices and image grids are not posterior plots."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from ..diagnostics.uncertainty import confusion_matrix, expected_calibration_error, referral_curve, reliability_bins
from ._figure import figure_and_axes


def plot_reliability_diagram(probs, y, *, n_bins: int = 15, ax=None, label: str | None = None):
    """Accuracy against confidence per bin, the diagonal for perfect calibration, ECE in the title."""
    fig, ax = figure_and_axes(ax, figsize=(5, 4))
    b = reliability_bins(probs, y, n_bins=n_bins)
    centers = 0.5 * (b["edges"][1:] + b["edges"][:-1])
    width = b["edges"][1] - b["edges"][0]
    filled = b["count"] > 0
    ax.bar(centers[filled], b["accuracy"][filled], width=width * 0.9, alpha=0.7, label=label or "accuracy")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    ece = expected_calibration_error(probs, y, n_bins=n_bins)
    ax.set(
        xlabel="confidence (max predictive probability)",
        ylabel="accuracy",
        xlim=(0, 1),
        ylim=(0, 1),
        title=f"Reliability diagram (ECE = {ece:.4f})",
    )
    ax.legend(loc="upper left")
    return fig


def plot_referral_curves(correct, scores: Mapping[str, np.ndarray], *, ax=None, fractions=None):
    """Accuracy of the kept predictions against the fraction kept, one line per measure."""
    fig, ax = figure_and_axes(ax, figsize=(5, 4))
    for name, s in scores.items():
        f, acc = referral_curve(correct, s, fractions=fractions)
        ax.plot(f, acc, label=name)
    ax.axvline(0.95, color="grey", lw=0.8, ls=":")
    ax.set(xlabel="fraction of predictions kept", ylabel="accuracy on kept", title="Referral curve")
    ax.invert_xaxis()
    ax.legend()
    return fig


def plot_score_histograms(
    groups: Mapping[str, np.ndarray],
    *,
    ax=None,
    bins: int = 50,
    title: str = "",
    threshold: float | None = None,
    log: bool = True,
):
    """Overlaid density histograms of one uncertainty score for several groups of inputs."""
    fig, ax = figure_and_axes(ax, figsize=(5, 4))
    allv = np.concatenate([np.asarray(v, dtype=np.float64) for v in groups.values()])
    edges = np.histogram_bin_edges(allv, bins=bins)
    for name, v in groups.items():
        ax.hist(v, bins=edges, density=True, alpha=0.5, label=f"{name} (n={len(v)})", log=log)
    if threshold is not None:
        ax.axvline(threshold, color="k", ls="--", lw=1, label="99th pct in-distribution")
    ax.set(title=title, xlabel="uncertainty", ylabel="density")
    ax.legend()
    return fig


def plot_confusion(probs, y, *, ax=None, n_classes: int | None = None):
    """Confusion-matrix heatmap (true rows, predicted columns) of the predictive mean's labels."""
    fig, ax = figure_and_axes(ax, figsize=(6, 5))
    cm = confusion_matrix(probs, y, n_classes=n_classes)
    k = cm.shape[0]
    im = ax.imshow(np.log1p(cm), cmap="viridis")
    for i in range(k):
        for j in range(k):
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if cm[i, j] < cm.max() / 2 else "black",
            )
    ax.set(xlabel="predicted", ylabel="true", xticks=range(k), yticks=range(k), title="Confusion matrix")
    fig.colorbar(im, ax=ax, label="log(1 + count)")
    return fig


def plot_image_grid(images, *, titles=None, ncols: int = 8, fig=None, suptitle: str = ""):
    """A grid of images, (n, H, W) grey or (n, H, W, 3) colour in [0, 1] (or flattened square
    grey rows such as MNIST's 784), with optional per-image titles; returns the figure."""
    imgs = np.asarray(images)
    if imgs.ndim == 2:
        side = int(round(np.sqrt(imgs.shape[1])))
        imgs = imgs.reshape(len(imgs), side, side)
    n = len(imgs)
    nrows = max(1, int(np.ceil(n / ncols)))
    fig = fig or plt.figure(figsize=(1.4 * ncols, 1.6 * nrows))
    for i in range(n):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        ax.imshow(imgs[i], cmap="gray_r")
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(titles[i], fontsize=7)
    if suptitle:
        fig.suptitle(suptitle)
    return fig
