"""Known answers for the uncertainty measures, referral, calibration and OOD scores."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure

from bnngallery import plots as P
from bnngallery.diagnostics import metrics
from bnngallery.diagnostics import uncertainty as U


def one_hot_draws(labels, n_classes=10, draws=20):
    p = np.eye(n_classes)[np.asarray(labels)]
    return np.broadcast_to(p, (draws, *p.shape)).astype(np.float32)


def test_uniform_predictions_have_entropy_log_k():
    d = np.full((30, 5, 10), 0.1, dtype=np.float32)
    np.testing.assert_allclose(U.predictive_entropy(d), np.log(10), rtol=1e-6)
    np.testing.assert_allclose(U.mutual_information(d), 0.0, atol=1e-6)
    np.testing.assert_allclose(U.chosen_class_std(d), 0.0, atol=1e-7)
    np.testing.assert_allclose(U.max_prob_score(d), 0.9, rtol=1e-6)


def test_agreeing_draws_have_zero_epistemic_uncertainty():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(10), size=7)
    d = np.broadcast_to(p, (40, 7, 10))
    np.testing.assert_allclose(U.mutual_information(d), 0.0, atol=1e-10)
    np.testing.assert_allclose(U.predictive_entropy(d), U.expected_entropy(d), rtol=1e-10)
    np.testing.assert_allclose(U.chosen_class_std(d), 0.0, atol=1e-12)


def test_disagreeing_confident_draws_are_all_epistemic():
    # half the draws say class 0 with certainty, half class 1: MI = entropy = log 2
    d = np.zeros((10, 1, 10))
    d[:5, 0, 0] = 1.0
    d[5:, 0, 1] = 1.0
    np.testing.assert_allclose(U.mutual_information(d), np.log(2), rtol=1e-9)
    np.testing.assert_allclose(U.expected_entropy(d), 0.0, atol=1e-9)
    np.testing.assert_allclose(U.chosen_class_std(d), 0.5, rtol=1e-9)


def test_chi2_extremes():
    S, K = 100, 10
    certain = one_hot_draws([3, 7], draws=S)
    np.testing.assert_allclose(U.chi2_uniformity(certain), S * (K - 1))
    np.testing.assert_allclose(U.chi2_score(certain), 0.0, atol=1e-12)
    # labels spread exactly evenly over the classes give chi2 = 0, the largest score
    labels = np.tile(np.arange(K), S // K)[:, None]
    np.testing.assert_allclose(U.chi2_uniformity(labels=labels, n_classes=K), 0.0)
    uniform = np.full((S, 1, K), 1.0 / K)
    assert U.chi2_score(uniform)[0] > U.chi2_score(certain)[0] + 5


def test_sample_labels_follow_probabilities():
    p = np.zeros((4000, 1, 3))
    p[:, 0] = [0.2, 0.5, 0.3]
    lab = U.sample_labels(p, random_seed=1)[:, 0]
    np.testing.assert_allclose(np.bincount(lab, minlength=3) / len(lab), [0.2, 0.5, 0.3], atol=0.03)


def test_ece_of_calibrated_synthetic_data_is_small():
    rng = np.random.default_rng(0)
    n = 200_000
    conf = rng.uniform(0.1, 1.0, n)
    y_pred = rng.integers(0, 10, n)
    right = rng.random(n) < conf
    y = np.where(right, y_pred, (y_pred + 1 + rng.integers(0, 9, n)) % 10)
    probs = np.full((n, 10), 0.0)
    probs[np.arange(n), y_pred] = conf
    other = (y_pred + 1) % 10
    probs[np.arange(n), other] += 1 - conf  # keep rows summing to 1; argmax stays y_pred where conf >= 0.5
    keep = conf > 0.5
    assert U.expected_calibration_error(probs[keep], y[keep]) < 0.01


def test_ece_of_overconfident_predictions():
    # always 100 % confident, right half the time: ECE = 0.5
    probs = np.eye(10)[np.zeros(1000, dtype=int)]
    y = np.r_[np.zeros(500, dtype=int), np.ones(500, dtype=int)]
    assert U.expected_calibration_error(probs, y) == pytest.approx(0.5)
    b = U.reliability_bins(probs, y)
    assert b["count"][-1] == 1000 and b["count"].sum() == 1000


def test_accuracy_and_nll():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    y = np.array([0, 1, 1])
    assert metrics.accuracy(probs, y) == pytest.approx(2 / 3)
    assert U.negative_log_likelihood(probs, y) == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.4])))


def test_referral_curve_refers_the_uncertain_first():
    correct = np.array([1, 1, 1, 1, 0, 1, 1, 1, 1, 0], dtype=bool)
    score = np.where(correct, 0.1, 0.9)
    f, acc = U.referral_curve(correct, score, fractions=[0.8, 0.9, 1.0])
    np.testing.assert_allclose(acc, [1.0, 8 / 9, 0.8])
    assert U.accuracy_at_kept(correct, score, 0.8) == 1.0
    # an uninformative score keeps accuracy unchanged on average
    rng = np.random.default_rng(0)
    c = rng.random(10_000) < 0.9
    assert abs(U.accuracy_at_kept(c, rng.random(10_000), 0.5) - c.mean()) < 0.02


def test_auroc_known_values():
    assert U.auroc([0.1, 0.2, 0.3], [0.5, 0.6]) == 1.0
    assert U.auroc([0.5, 0.6], [0.1, 0.2, 0.3]) == 0.0
    assert U.auroc([1.0, 1.0], [1.0, 1.0]) == 0.5
    rng = np.random.default_rng(0)
    assert abs(U.auroc(rng.random(5000), rng.random(5000)) - 0.5) < 0.03


def test_flagged_at_p99():
    score_in = np.arange(1000) / 1000.0
    thr, flagged = U.flagged_at_quantile(score_in, np.array([0.5, 0.995, 2.0, 3.0]))
    assert thr == pytest.approx(np.percentile(score_in, 99))
    assert flagged == 0.75
    with pytest.raises(ValueError, match="percentile"):
        U.flagged_at_quantile(score_in, score_in, q=100)


def test_classification_report_shape():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 300)
    logits = 3 * np.eye(10)[y] + rng.normal(0, 1, (40, 300, 10))
    d = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    ood = rng.dirichlet(np.ones(10), size=(40, 200))
    rep = U.classification_report(d, y, ood={"noise": ood})
    for key in ("test_accuracy", "test_nll", "ece", "accuracy_at_95pct_kept", "ood_auroc", "ood_flagged_at_p99"):
        assert key in rep
    assert set(rep["ood_auroc"]["noise"]) == set(U.MEASURES)
    assert rep["accuracy_at_95pct_kept"] >= rep["test_accuracy"]
    assert max(rep["ood_auroc"]["noise"].values()) > 0.9


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="draws, n, classes"):
        U.predictive_entropy(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="Unknown uncertainty measure"):
        U.uncertainty_scores(np.full((2, 3, 10), 0.1), ["nope"])
    with pytest.raises(ValueError, match="shape"):
        metrics.accuracy(np.full((3, 10), 0.1), np.zeros(4, dtype=int))


def test_chunked_scores_match_unchunked(monkeypatch):
    rng = np.random.default_rng(3)
    d = rng.dirichlet(np.ones(10), size=(15, 50)).astype(np.float32)
    full = U.uncertainty_scores(d, ["std", "entropy", "mutual_info"])
    monkeypatch.setattr(U, "CHUNK_ROWS", 7)
    small = U.uncertainty_scores(d, ["std", "entropy", "mutual_info"])
    for k in full:
        np.testing.assert_allclose(full[k], small[k], rtol=1e-12)


def test_plots_return_figures():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 100)
    d = rng.dirichlet(np.ones(10), size=(5, 100))
    mean = U.predictive_mean(d)
    assert isinstance(P.plot_reliability_diagram(mean, y), Figure)
    assert isinstance(P.plot_referral_curves(mean.argmax(1) == y, U.uncertainty_scores(d)), Figure)
    assert isinstance(P.plot_score_histograms({"a": rng.random(50), "b": rng.random(50)}, threshold=0.5), Figure)
    assert isinstance(P.plot_confusion(mean, y), Figure)
    assert isinstance(P.plot_image_grid(rng.random((3, 784)), titles=["a", "b", "c"]), Figure)
    import matplotlib.pyplot as plt

    plt.close("all")
