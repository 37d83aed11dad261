"""Scores computed from posterior predictive draws: accuracy, log predictive density,
agreement between fits, and the predictive bands, coverage and overlap of regressions."""

from __future__ import annotations

import numpy as np

#: Central probability of the predictive interval used for coverage and band overlap.
INTERVAL_PROB = 0.9


def log_mean_exp(logs: np.ndarray, axis: int = 0) -> np.ndarray:
    """``log(mean(exp(logs), axis))``, computed stably."""
    m = logs.max(axis=axis)
    return m + np.log(np.mean(np.exp(logs - np.expand_dims(m, axis)), axis=axis))


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
    return float(np.mean(log_mean_exp(np.log(np.clip(lik, 1e-300, None)))))


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


#: Replicated observations a predictive band is read from, at least: a fit with few draws
#: (an ensemble's five members) replicates each draw's noise several times, or the band's
#: quantiles would be those of five numbers.
MIN_REPLICATES = 2000


def replicated_data(mu_draws, sigma_draws, *, random_seed: int = 0) -> np.ndarray:
    """Replicated observations ``mu + sigma * eps``, ``ceil(MIN_REPLICATES / S)`` per draw
    (S, n) -> (S * reps, n)."""
    mu = np.asarray(mu_draws, dtype=np.float64)
    sigma = np.asarray(sigma_draws, dtype=np.float64).reshape(-1)
    if sigma.shape[0] != mu.shape[0]:
        raise ValueError(f"sigma has {sigma.shape[0]} draws but mu has {mu.shape[0]}; they must pair up.")
    reps = -(-MIN_REPLICATES // mu.shape[0])
    eps = np.random.default_rng(random_seed).standard_normal((reps, *mu.shape))
    return (mu + sigma[:, None] * eps).reshape(-1, mu.shape[1])


def regression_predictive(mu_draws, sigma_draws, *, prob: float = INTERVAL_PROB, random_seed: int = 0) -> dict:
    """Predictive mean, central ``prob`` band (with observation noise) and epistemic sd.

    ``mu_draws`` (S, n) are the per-draw means, ``sigma_draws`` (S,) the noise sds of the
    same draws; the band is the quantile interval of :func:`replicated_data`.
    """
    mu = np.asarray(mu_draws, dtype=np.float64)
    sigma = np.asarray(sigma_draws, dtype=np.float64).reshape(-1)
    y_rep = replicated_data(mu, sigma, random_seed=random_seed)
    a = (1.0 - prob) / 2.0
    lo, hi = np.quantile(y_rep, [a, 1.0 - a], axis=0)
    return {
        "mean": mu.mean(axis=0),
        "lo": lo,
        "hi": hi,
        "epistemic_sd": mu.std(axis=0),
        "mu_draws": mu,
        "sigma_draws": sigma,
    }


def gaussian_log_predictive_density(mu_draws, sigma_draws, y) -> float:
    """Mean over rows of ``log mean_s N(y_i | mu_si, sigma_s)``."""
    mu = np.asarray(mu_draws, dtype=np.float64)
    sigma = np.asarray(sigma_draws, dtype=np.float64).reshape(-1, 1)
    logs = -0.5 * ((np.asarray(y)[None, :] - mu) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)
    return float(np.mean(log_mean_exp(logs)))


def interval_coverage(lo, hi, y) -> float:
    """Share of ``y`` inside ``[lo, hi]``."""
    y = np.asarray(y)
    return float(np.mean((y >= lo) & (y <= hi)))


def band_overlap(lo_a, hi_a, lo_b, hi_b) -> float:
    """Mean over points of |A and B| / |A or B| for intervals A = [lo_a, hi_a], B = [lo_b, hi_b]."""
    inter = np.clip(np.minimum(hi_a, hi_b) - np.maximum(lo_a, lo_b), 0.0, None)
    union = np.maximum(hi_a, hi_b) - np.minimum(lo_a, lo_b)
    return float(np.mean(np.where(union > 0, inter / np.where(union > 0, union, 1.0), 1.0)))
