"""Scores computed from posterior predictive draws: accuracy, log predictive density, agreement."""

from __future__ import annotations

import numpy as np


def binary_probs(p_draws: np.ndarray) -> np.ndarray:
    """Predictive P(y = 1): the mean over draws of per-draw probabilities, shape (n,)."""
    return np.asarray(p_draws, dtype=np.float64).mean(axis=0)


def accuracy(p_mean: np.ndarray, y: np.ndarray) -> float:
    """Share of rows whose most probable class is the label (binary: P(y=1) > 0.5)."""
    p_mean, y = np.asarray(p_mean), np.asarray(y)
    if y.shape != p_mean.shape[:1]:
        raise ValueError(f"y must have shape ({len(p_mean)},) to match the predictions; got {y.shape}.")
    pred = p_mean.argmax(axis=-1) if p_mean.ndim == 2 else (p_mean > 0.5).astype(int)
    return float(np.mean(pred == y))


def log_predictive_density(p_draws: np.ndarray, y: np.ndarray) -> float:
    """Mean over rows of log p(y_i | data) = log mean_s p(y_i | theta_s) (binary or categorical)."""
    p = np.asarray(p_draws, dtype=np.float64)
    y = np.asarray(y)
    if p.ndim == 2:  # binary: P(y=1) per draw
        lik = np.where(y[None, :] == 1, p, 1.0 - p)
    else:
        lik = np.take_along_axis(p, y[None, :, None], axis=2)[..., 0]
    lik = np.clip(lik, 1e-300, None)
    # log-mean-exp over draws, stable
    logs = np.log(lik)
    m = logs.max(axis=0)
    return float(np.mean(m + np.log(np.mean(np.exp(logs - m), axis=0))))


def agreement(p_a: np.ndarray, p_b: np.ndarray) -> dict[str, float]:
    """How closely two fits agree in function space, from their predictive means."""
    p_a, p_b = np.asarray(p_a), np.asarray(p_b)
    if p_a.ndim == 2:
        labels_a, labels_b = p_a.argmax(-1), p_b.argmax(-1)
    else:
        labels_a, labels_b = p_a > 0.5, p_b > 0.5
    return {
        "label_agreement": float(np.mean(labels_a == labels_b)),
        "mean_abs_prob_diff": float(np.mean(np.abs(p_a - p_b))),
    }
