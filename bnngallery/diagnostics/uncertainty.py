"""Uncertainty of a classifier from its posterior predictive class probabilities.

Every function here takes the array ``predict`` returns for a classifier: probabilities
of shape ``(draws, n, classes)`` (one softmax per posterior draw), or their mean over draws
``(n, classes)`` where only that is needed. Nothing is specific to one model family.

Measures (each a score per row, **higher = more uncertain**, see :data:`MEASURES`):

- ``max_prob``: 1 - the largest predictive mean probability (the softmax-confidence baseline);
- ``std``: posterior sd of the probability of the chosen class (article B);
- ``entropy``: entropy of the predictive mean, total uncertainty;
- ``mutual_info``: entropy of the mean minus mean entropy of the draws, the epistemic part
  (the BALD score); 0 when every draw says the same;
- ``chi2``: article A's chi-square test of uniformity over the labels predicted by the draws;
  the score is ``(K - 1) - chi2 / S`` so that it is 0 when every draw predicts the same
  label and ``K - 1`` when the labels are spread evenly.

Then what makes uncertainty useful: the referral curve (accuracy of the kept predictions
when the most uncertain are referred, article C), calibration (expected calibration error
and a reliability diagram), test NLL, and out-of-distribution detection (AUROC of each
measure, and the share of unseen inputs flagged at the 99th percentile of in-distribution
uncertainty, article B). The figures are in :mod:`bnngallery.plots.classification`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np

from ..validation import check_labels, check_positive_int

#: Rows processed at once when scores are computed from draws (bounds the float64 copies).
CHUNK_ROWS = 2048
_EPS = 1e-12


def _check_draws(draws) -> np.ndarray:
    p = np.asarray(draws)
    if p.ndim != 3:
        raise ValueError(f"draws must have shape (draws, n, classes); got shape {p.shape}.")
    if p.shape[0] == 0 or p.shape[1] == 0 or p.shape[2] < 2:
        raise ValueError(f"draws needs at least one draw, one row and two classes; got shape {p.shape}.")
    return p


def _check_mean(probs) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"probabilities must have shape (n, classes); got shape {p.shape}.")
    return p


def _entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    return -np.sum(p * np.log(np.clip(p, _EPS, None)), axis=axis)


def predictive_mean(draws) -> np.ndarray:
    """Mean over draws of the class probabilities, shape (n, classes), float64."""
    p = _check_draws(draws)
    out = np.empty(p.shape[1:], dtype=np.float64)
    for r0 in range(0, p.shape[1], CHUNK_ROWS):
        out[r0 : r0 + CHUNK_ROWS] = p[:, r0 : r0 + CHUNK_ROWS].mean(axis=0, dtype=np.float64)
    return out


def predictive_entropy(draws) -> np.ndarray:
    """Entropy (nats) of the predictive mean: total uncertainty, at most log(classes)."""
    return _entropy(predictive_mean(draws))


def expected_entropy(draws) -> np.ndarray:
    """Mean over draws of each draw's entropy: the aleatoric part."""
    p = _check_draws(draws)
    out = np.empty(p.shape[1], dtype=np.float64)
    for r0 in range(0, p.shape[1], CHUNK_ROWS):
        out[r0 : r0 + CHUNK_ROWS] = _entropy(p[:, r0 : r0 + CHUNK_ROWS].astype(np.float64)).mean(axis=0)
    return out


def mutual_information(draws) -> np.ndarray:
    """Predictive entropy minus expected entropy: the epistemic part, >= 0, 0 when all draws agree."""
    return np.clip(predictive_entropy(draws) - expected_entropy(draws), 0.0, None)


def chosen_class_std(draws) -> np.ndarray:
    """Posterior sd of the probability of the class the predictive mean chooses (article B)."""
    p = _check_draws(draws)
    out = np.empty(p.shape[1], dtype=np.float64)
    for r0 in range(0, p.shape[1], CHUNK_ROWS):
        block = p[:, r0 : r0 + CHUNK_ROWS].astype(np.float64)
        chosen = block.mean(axis=0).argmax(axis=-1)
        out[r0 : r0 + CHUNK_ROWS] = np.take_along_axis(block, chosen[None, :, None], axis=2)[..., 0].std(axis=0)
    return out


def sample_labels(draws, *, random_seed: int = 0) -> np.ndarray:
    """One label per draw and row from each draw's categorical: the posterior predictive of y."""
    p = _check_draws(draws)
    rng = np.random.default_rng(random_seed)
    out = np.empty(p.shape[:2], dtype=np.int64)
    for r0 in range(0, p.shape[1], CHUNK_ROWS):
        block = p[:, r0 : r0 + CHUNK_ROWS].astype(np.float64)
        cdf = np.cumsum(block, axis=-1)
        u = rng.random(block.shape[:2])[..., None] * cdf[..., -1:]
        out[:, r0 : r0 + CHUNK_ROWS] = np.minimum((u > cdf).sum(axis=-1), p.shape[2] - 1)
    return out


def chi2_uniformity(draws=None, *, labels=None, n_classes: int | None = None, random_seed: int = 0) -> np.ndarray:
    """Article A's chi-square statistic of the predicted labels against a uniform distribution.

    Parameters
    ----------
    draws : array (draws, n, classes), optional
        Class probabilities per draw; one label per draw is sampled from each
        (:func:`sample_labels`) unless ``labels`` are given.
    labels : int array (draws, n), optional
        Posterior predictive labels, e.g. from ``pm.sample_posterior_predictive``.
    n_classes : int, optional
        Number of classes (needed with ``labels``; defaults to ``draws.shape[-1]``).
    random_seed : int
        Seed of the label sampling.

    Returns
    -------
    np.ndarray
        ``sum_k (O_k - S/K)^2 / (S/K)`` per row: 0 for labels spread evenly over the ``K``
        classes, ``S (K - 1)`` when all ``S`` draws predict one label.
    """
    if labels is None:
        if draws is None:
            raise ValueError("Pass draws (class probabilities per draw) or labels.")
        p = _check_draws(draws)
        labels = sample_labels(p, random_seed=random_seed)
        n_classes = p.shape[2]
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must have shape (draws, n); got {labels.shape}.")
    if n_classes is None:
        raise ValueError("n_classes is required with labels.")
    S = labels.shape[0]
    counts = np.zeros((labels.shape[1], n_classes), dtype=np.float64)
    np.add.at(counts, (np.broadcast_to(np.arange(labels.shape[1]), labels.shape), labels), 1.0)
    expected = S / n_classes
    return ((counts - expected) ** 2 / expected).sum(axis=1)


def chi2_score(draws, *, random_seed: int = 0) -> np.ndarray:
    """Uncertainty from :func:`chi2_uniformity`: ``(K - 1) - chi2 / S``, 0 = all draws agree."""
    p = _check_draws(draws)
    return (p.shape[2] - 1) - chi2_uniformity(p, random_seed=random_seed) / p.shape[0]


def max_prob_score(draws) -> np.ndarray:
    """1 - the largest predictive mean probability."""
    return 1.0 - predictive_mean(draws).max(axis=1)


#: Uncertainty measures by name; each maps draws (S, n, K) to a score per row, higher = more uncertain.
MEASURES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "max_prob": max_prob_score,
    "std": chosen_class_std,
    "entropy": predictive_entropy,
    "mutual_info": mutual_information,
    "chi2": chi2_score,
}


def uncertainty_scores(draws, measures: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Every requested measure (default: all of :data:`MEASURES`) for each row."""
    names = list(MEASURES) if measures is None else list(measures)
    unknown = [m for m in names if m not in MEASURES]
    if unknown:
        raise ValueError(f"Unknown uncertainty measure(s) {unknown}; choose from {list(MEASURES)}.")
    p = _check_draws(draws)
    return {m: MEASURES[m](p) for m in names}


# --- accuracy, NLL, calibration ---------------------------------------------------------------


def negative_log_likelihood(probs, y) -> float:
    """Test NLL: mean over rows of ``-log pbar(y_i)``, with ``pbar`` the predictive mean (n, K)."""
    p = _check_mean(probs)
    y = check_labels(y, n_rows=len(p), n_classes=p.shape[1])
    return float(-np.mean(np.log(np.clip(p[np.arange(len(p)), y], _EPS, None))))


def confusion_matrix(probs, y, *, n_classes: int | None = None) -> np.ndarray:
    """Counts of (true label, predicted label) pairs, labels from the predictive mean ``probs`` (n, K)."""
    p = _check_mean(probs)
    k = n_classes or p.shape[1]
    y = check_labels(y, n_rows=len(p), n_classes=k)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y, p.argmax(axis=1)), 1)
    return cm


def reliability_bins(probs, y, *, n_bins: int = 15) -> dict[str, np.ndarray]:
    """Confidence (max predictive probability) against accuracy in ``n_bins`` equal-width bins.

    ``probs`` is (n, classes), or P(y = 1) of shape (n,) for a binary task.

    Returns
    -------
    dict
        ``edges`` (n_bins + 1), and per bin ``count``, ``confidence`` (mean), ``accuracy``
        (NaN for an empty bin).
    """
    p = np.asarray(probs, dtype=np.float64)
    p = _check_mean(np.column_stack([1.0 - p, p]) if p.ndim == 1 else p)
    y = check_labels(y, n_rows=len(p), n_classes=p.shape[1])
    check_positive_int(n_bins, name="n_bins")
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # bins are (lo, hi], the first [0, hi]: a confidence of exactly 1 falls in the top bin
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf_mean = np.bincount(which, weights=conf, minlength=n_bins) / count
        acc_mean = np.bincount(which, weights=correct, minlength=n_bins) / count
    return {"edges": edges, "count": count, "confidence": conf_mean, "accuracy": acc_mean}


def expected_calibration_error(probs, y, *, n_bins: int = 15) -> float:
    """ECE: the count-weighted mean of ``|accuracy - confidence|`` over ``n_bins`` equal-width bins."""
    b = reliability_bins(probs, y, n_bins=n_bins)
    filled = b["count"] > 0
    w = b["count"][filled] / b["count"].sum()
    return float(np.sum(w * np.abs(b["accuracy"][filled] - b["confidence"][filled])))


# --- referral ----------------------------------------------------------------------------------


def referral_curve(correct, score, *, fractions=None) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy of the kept predictions when the most uncertain are referred (article C).

    Parameters
    ----------
    correct : bool array (n,)
        Whether each prediction is right.
    score : array (n,)
        Uncertainty, higher = more uncertain; the highest are referred first.
    fractions : array, optional
        Fractions of the data kept, in (0, 1]; default 0.5 .. 1.0 in 51 steps.

    Returns
    -------
    fractions, accuracy : np.ndarray
    """
    correct = np.asarray(correct, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    if correct.ndim != 1 or score.shape != correct.shape or len(correct) == 0:
        raise ValueError(
            f"correct and score must be 1-D of the same non-zero length; got {correct.shape}, {score.shape}."
        )
    fractions = np.linspace(0.5, 1.0, 51) if fractions is None else np.asarray(fractions, dtype=np.float64)
    if np.any((fractions <= 0) | (fractions > 1)):
        raise ValueError("fractions kept must lie in (0, 1].")
    order = np.argsort(score, kind="stable")  # most certain first
    cum = np.cumsum(correct[order])
    keep = np.maximum(1, np.round(fractions * len(correct)).astype(int))
    return fractions, cum[keep - 1] / keep


def accuracy_at_kept(correct, score, kept: float = 0.95) -> float:
    """Accuracy on the ``kept`` most certain share of the rows."""
    return float(referral_curve(correct, score, fractions=[kept])[1][0])


# --- out of distribution -------------------------------------------------------------------------


def auroc(score_in, score_out) -> float:
    """Area under the ROC curve for telling out- (positive) from in-distribution by ``score``.

    The Mann-Whitney statistic with ties counted as one half: 1 when every OOD score is
    above every in-distribution score, 0.5 for no separation.
    """
    a = np.asarray(score_in, dtype=np.float64).ravel()
    b = np.asarray(score_out, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError("auroc needs at least one in- and one out-of-distribution score.")
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([a, b]))
    u = ranks[a.size :].sum() - b.size * (b.size + 1) / 2.0
    return float(u / (a.size * b.size))


def flagged_at_quantile(score_in, score_out, *, q: float = 99.0) -> tuple[float, float]:
    """Threshold at the ``q``-th percentile of in-distribution scores and the share of OOD above it.

    Returns ``(threshold, fraction_flagged)`` (article B: anything above is "I don't know").
    """
    if not 0 < q < 100:
        raise ValueError(f"q must be a percentile in (0, 100); got {q!r}.")
    thr = float(np.percentile(np.asarray(score_in, dtype=np.float64), q))
    return thr, float(np.mean(np.asarray(score_out, dtype=np.float64) > thr))


def ood_report(
    scores_in: Mapping[str, np.ndarray], scores_out: Mapping[str, np.ndarray], *, q: float = 99.0
) -> dict[str, dict[str, float]]:
    """Per measure: AUROC, the threshold at the ``q``-th in-distribution percentile, share flagged."""
    out = {}
    for m in scores_in:
        thr, flagged = flagged_at_quantile(scores_in[m], scores_out[m], q=q)
        out[m] = {"auroc": auroc(scores_in[m], scores_out[m]), "threshold": thr, "flagged": flagged}
    return out


def classification_report(
    draws,
    y,
    *,
    ood: Mapping[str, np.ndarray] | None = None,
    kept: float = 0.95,
    n_bins: int = 15,
    q: float = 99.0,
    measures: Iterable[str] | None = None,
) -> dict:
    """All the numbers of a classifier's uncertainty, ready for ``metrics.json``.

    Parameters
    ----------
    draws : array (draws, n, classes)
        Posterior predictive class probabilities on the test set.
    y : int array (n,)
        Test labels.
    ood : mapping name -> draws (draws, m, classes), optional
        Predictions of the same fit on out-of-distribution inputs.

    Returns
    -------
    dict
        ``test_accuracy``, ``test_nll``, ``ece``, ``accuracy_at_<kept>pct_kept`` per measure
        (and ``accuracy_at_95pct_kept`` for the best), ``ood_auroc`` / ``ood_flagged_at_p99``
        as ``{ood_name: {measure: value}}``.
    """
    p = _check_draws(draws)
    mean = predictive_mean(p)
    y = check_labels(y, n_rows=mean.shape[0], n_classes=mean.shape[1])
    correct = mean.argmax(axis=1) == y
    scores = uncertainty_scores(p, measures)
    pct = int(round(kept * 100))
    at_kept = {m: accuracy_at_kept(correct, s, kept) for m, s in scores.items()}
    report = {
        "test_accuracy": float(correct.mean()),
        "test_nll": negative_log_likelihood(mean, y),
        "ece": expected_calibration_error(mean, y, n_bins=n_bins),
        f"accuracy_at_{pct}pct_kept": max(at_kept.values()),
        f"accuracy_at_{pct}pct_kept_by_measure": at_kept,
        "mean_uncertainty_correct": {m: float(s[correct].mean()) for m, s in scores.items()},
        "mean_uncertainty_wrong": {
            m: float(s[~correct].mean()) if (~correct).any() else float("nan") for m, s in scores.items()
        },
    }
    if ood:
        q_name = f"p{q:g}"
        report["ood_auroc"], report[f"ood_flagged_at_{q_name}"], report["ood_threshold"] = {}, {}, {}
        for name, d_out in ood.items():
            rep = ood_report(scores, uncertainty_scores(d_out, list(scores)), q=q)
            report["ood_auroc"][name] = {m: r["auroc"] for m, r in rep.items()}
            report[f"ood_flagged_at_{q_name}"][name] = {m: r["flagged"] for m, r in rep.items()}
            report["ood_threshold"][name] = {m: r["threshold"] for m, r in rep.items()}
    return report
