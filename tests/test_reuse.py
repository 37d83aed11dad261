"""The builders on data they were not written for, with their defaults: each test uses a data set
no other test uses and checks a known answer (the truth, or a scikit-learn baseline), and a
collapsed fit must be flagged, not returned silently."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn import datasets
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bnngallery import fit, predict
from bnngallery.collapse import CollapseWarning, check_collapse
from bnngallery.data.sklearn_sets import friedman_function
from bnngallery.diagnostics.metrics import accuracy
from bnngallery.models import cnn, mnist_mlp, model_info, moons, regression


def split(X, y, stratify=True, seed=0):
    return train_test_split(X, y, test_size=0.5, random_state=seed, stratify=y if stratify else None)


def logistic_accuracy(X_tr, X_te, y_tr, y_te) -> float:
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(X_tr, y_tr)
    return float(np.mean(est.predict(X_te) == y_te))


def fit_quiet(model, **kw):
    """Fit, returning the result and the collapse warnings raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CollapseWarning)
        result = fit(model, "advi", progressbar=False, **kw)
    return result, [w for w in caught if issubclass(w.category, CollapseWarning)]


@pytest.fixture(scope="module")
def rings():
    """Two rings around the origin: the truth is radial, so the label is an even function."""
    X, y = datasets.make_circles(400, noise=0.08, factor=0.4, random_state=7)
    return split(X, y, seed=7)


def test_defaults_fit_data_symmetric_about_the_origin(rings):
    X_tr, X_te, y_tr, y_te = rings
    result, warned = fit_quiet(moons.build_model(X_tr, y_tr, batch_size=50), steps=8000)
    acc = accuracy(predict(moons.build_model, result, X_te).mean(0), y_te)
    assert acc >= 0.95, acc  # the rings are separable; a linear classifier gets about 0.5
    assert not warned and not json.loads(result.attrs["collapse"])["collapsed"]


def test_bias_free_net_on_symmetric_data_is_flagged(rings):
    """The article's bias-free tanh net has an odd logit: it cannot fit the rings, and says so."""
    X_tr, _, y_tr, _ = rings
    result, warned = fit_quiet(moons.build_model(X_tr, y_tr, **moons.ARTICLE, batch_size=50), steps=8000)
    report = json.loads(result.attrs["collapse"])
    assert report["collapsed"] and report["gain"] < 0.01
    # the trivial predictor of balanced classes scores log(1/2) per row, exactly
    np.testing.assert_allclose(report["trivial_lpd"], np.log(0.5), rtol=1e-12)
    assert len(warned) == 1
    message = str(warned[0].message)
    assert "no better than a constant" in message and "bias=True" in message and "restarts=3" in message


def test_three_classes_inferred_from_the_labels():
    X, y = datasets.load_iris(return_X_y=True)
    X_tr, X_te, y_tr, y_te = split(X, y)
    m = mnist_mlp.build_model(X_tr, y_tr, hidden=(8,), batch_size=25)
    assert model_info(m).settings["n_classes"] == 3 and model_info(m).settings["standardize"] == "feature"
    result, warned = fit_quiet(m, steps=6000)
    p = predict(mnist_mlp.build_model, result, X_te)
    assert p.shape[-1] == 3
    assert accuracy(p.mean(0), y_te) >= logistic_accuracy(X_tr, X_te, y_tr, y_te) - 0.04
    assert not warned
    with pytest.raises(ValueError, match="labels in"):
        mnist_mlp.build_model(X_tr, np.r_[y_tr[:-1], 3], n_classes=3)


def test_imbalanced_classes_beat_the_majority_class():
    X, y = datasets.make_classification(
        800, n_features=6, n_informative=3, weights=[0.85, 0.15], class_sep=1.5, random_state=11
    )
    X_tr, X_te, y_tr, y_te = split(X, y)
    result, warned = fit_quiet(moons.build_model(X_tr, y_tr, batch_size=50), steps=6000)
    acc = accuracy(predict(moons.build_model, result, X_te).mean(0), y_te)
    assert acc >= logistic_accuracy(X_tr, X_te, y_tr, y_te) - 0.02 and acc > np.mean(y_te == 0) + 0.03
    report = json.loads(result.attrs["collapse"])
    freq = np.bincount(y_tr) / len(y_tr)
    expected = np.mean(np.log(freq[y_tr[np.sort(np.random.default_rng(0).choice(len(y_tr), len(y_tr), False))]]))
    np.testing.assert_allclose(report["trivial_lpd"], expected, rtol=1e-12)  # the class-frequency predictor
    assert not warned


def test_many_features_match_logistic_regression():
    X, y = datasets.make_classification(500, n_features=60, n_informative=8, random_state=5)
    X = X * np.logspace(-2, 3, 60)  # features on scales 0.01 to 1000: the default standardises them
    X_tr, X_te, y_tr, y_te = split(X, y)
    result, warned = fit_quiet(moons.build_model(X_tr, y_tr, hidden=(8,), batch_size=50), steps=6000)
    acc = accuracy(predict(moons.build_model, result, X_te).mean(0), y_te)
    assert acc >= logistic_accuracy(X_tr, X_te, y_tr, y_te) - 0.03, acc
    assert not warned


@pytest.fixture(scope="module")
def tinted_digits():
    """8x8 digits of classes 0-4 in three colour channels: not 28x28, not one channel."""
    X, y = datasets.load_digits(n_class=5, return_X_y=True)
    tint = np.random.default_rng(3).uniform(0.3, 1.0, size=(len(X), 1, 1, 3))
    X = X.reshape(-1, 8, 8, 1) / 16.0 * tint
    return split(X, y, seed=3)


def test_cnn_on_small_colour_images(tinted_digits):
    X_tr, X_te, y_tr, y_te = tinted_digits
    m = cnn.build_model(X_tr, y_tr, filters=(8,), kernel=3, dense=(32,), batch_size=64)
    info = model_info(m)
    assert info.settings["image_shape"] == [8, 8, 3] and info.settings["n_classes"] == 5
    result, warned = fit_quiet(m, steps=3000)
    p = predict(cnn.build_model, result, X_te, draws=100)
    flat = (X_tr.reshape(len(X_tr), -1), X_te.reshape(len(X_te), -1))
    assert accuracy(p.mean(0), y_te) >= logistic_accuracy(*flat, y_tr, y_te) - 0.04
    assert not warned
    # one image predicts; a one-channel image is refused with the reason
    assert predict(cnn.build_model, result, X_te[:1]).shape[1:] == (1, 5)
    with pytest.raises(ValueError, match="3 channels"):
        predict(cnn.build_model, result, X_te[..., 0])
    with pytest.raises(ValueError, match="image size"):
        predict(cnn.build_model, result, np.zeros((2, 9, 9, 3)))


def test_cnn_odd_image_sizes_pool_by_dropping_the_last_row():
    rng = np.random.default_rng(0)
    X, y = rng.random((30, 11, 7)), np.arange(30) % 2
    # 'valid': 11x7 -> conv 9x5 -> pool 4x2 -> conv 2x0, refused; 'same': 11x7 -> 5x3 -> 2x1
    with pytest.raises(ValueError, match="padding='same'"):
        cnn.build_model(X, y, filters=(4, 4), kernel=3, dense=(), padding="valid")
    same = cnn.build_model(X, y, filters=(4, 4), kernel=3, dense=())
    assert same.initial_point()["w_out"].shape == (4 * 2 * 1, 2)
    r = fit(same, "advi", steps=5, draws=2, progressbar=False, check_collapse=False)
    assert np.isfinite(r["fit_history"]["loss"].values).all()


def test_regression_on_ten_features_covers_the_known_function():
    X, y = datasets.make_friedman1(600, n_features=10, noise=1.0, random_state=9)
    X_tr, X_te, y_tr, y_te = split(X, y, stratify=False)
    result, warned = fit_quiet(regression.build_model(X_tr, y_tr, hidden=(32,), batch_size=50), steps=10_000)
    mu = predict(regression.build_model, result, X_te)
    rmse = np.sqrt(np.mean((mu.mean(0) - y_te) ** 2))
    ridge = RidgeCV().fit(X_tr, y_tr)
    assert rmse < 0.8 * np.sqrt(np.mean((ridge.predict(X_te) - y_te) ** 2))  # the function is nonlinear
    truth = friedman_function(X_te)
    assert np.sqrt(np.mean((mu.mean(0) - truth) ** 2)) < 1.5  # noise sd 1; the truth's sd is about 5
    sigma = float(result.posterior["sigma"].mean())
    assert 0.7 < sigma < 1.6  # the true noise sd is 1
    assert not warned


def test_collapse_check_on_regression_flags_a_fit_stuck_at_the_mean():
    """A fit of pure noise cannot beat the mean: the check scores it against N(mean, sd)."""
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(200, 3)), rng.normal(5.0, 2.0, size=200)
    m = regression.build_model(X, y, hidden=(4,))
    result, warned = fit_quiet(m, steps=2000)
    report = check_collapse(m, result)
    assert report["collapsed"] and len(warned) == 1
    sd = y.std()
    expected = np.mean(-0.5 * ((y - y.mean()) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi))
    np.testing.assert_allclose(report["trivial_lpd"], expected, rtol=1e-12)
    assert "init_sd" in str(warned[0].message) and "bias=True" not in str(warned[0].message)


def test_one_row_minibatches_and_one_row_predictions(rings):
    X_tr, X_te, y_tr, _ = rings
    result, _ = fit_quiet(moons.build_model(X_tr, y_tr, batch_size=1), steps=200, draws=10)
    assert result["fit_history"]["loss"].size == 200 and np.isfinite(result["fit_history"]["loss"]).all()
    assert predict(moons.build_model, result, X_te[:1]).shape == (10, 1)


def test_init_sd_by_variable(rings):
    X_tr, _, y_tr, _ = rings
    m = moons.build_model(X_tr, y_tr, batch_size=50)
    default = model_info(m).advi_init_sd
    assert default["w_in"] == pytest.approx(0.2 / np.sqrt(2)) and default["w_1"] == pytest.approx(0.2 / np.sqrt(5))
    result = fit(m, "fullrank_advi", steps=1, draws=5, progressbar=False, check_collapse=False)
    assert json.loads(result.attrs["settings"])["init_sd"]["w_in"] == pytest.approx(0.2 / np.sqrt(2))
    with pytest.raises(ValueError, match="not a free variable"):
        fit(m, "advi", steps=1, init_sd={"w_typo": 0.1})
    with pytest.raises(ValueError, match="init_sd"):
        fit(m, "advi", steps=1, init_sd={"w_in": -1.0})


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"prior": "scale-mixture", "prior_sigma": 2.0},
        {"prior": "hierarchical", "scale_prior": 0.5},
        {"prior": "scale-mixture", "hierarchical": True, "noncentered": True},
    ],
    ids=["normal", "scale-mixture", "hierarchical", "noncentred-mixture"],
)
def test_prior_sd_in_closed_form_matches_draws_from_the_prior(options):
    """The collapse check's prior sd of each weight equals the sd of draws from the model's prior."""
    import pymc as pm

    from bnngallery.collapse import prior_sd

    X, y = datasets.make_blobs(40, n_features=3, centers=3, random_state=2)
    m = mnist_mlp.build_model(X, y, hidden=(20,), **options)
    settings = model_info(m).settings
    names = [rv.name for rv in m.free_RVs if rv.name.startswith("w_")]
    assert names
    for name in names:
        draws = np.asarray(pm.draw(m[name], draws=400, random_seed=3)).ravel()
        np.testing.assert_allclose(prior_sd(name, settings), draws.std(), rtol=0.05, err_msg=name)


def test_on_prior_share_of_a_fit_started_at_the_prior_and_of_a_fitted_net():
    """A fit stopped after one step from the prior's width sits on the prior; a fitted net
    on informative data moves most weights off it."""
    X, y = datasets.make_blobs(200, n_features=4, centers=2, random_state=4)
    start, _ = fit_quiet(moons.build_model(X, y, advi_init_sd=1.0), steps=1, draws=20)
    fitted, _ = fit_quiet(moons.build_model(X, y), steps=3000, draws=20)
    assert json.loads(start.attrs["collapse"])["on_prior"] > 0.5
    assert json.loads(fitted.attrs["collapse"])["on_prior"] < 0.2
