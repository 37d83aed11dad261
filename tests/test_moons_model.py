"""The two-moons builder: the article's network, named dims, a minibatch that really feeds the likelihood."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from scipy.special import expit, log_expit

from bnngallery.data import make_moons_data
from bnngallery.inference.jaxify import logp_graph
from bnngallery.models import get_builder, moons
from bnngallery.models.info import model_info


def test_moons_data_matches_article_settings():
    d = make_moons_data()
    assert d.X_train.shape == (500, 2) and d.X_test.shape == (500, 2)
    X = np.vstack([d.X_train, d.X_test])
    np.testing.assert_allclose(X.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(0), 1, atol=1e-12)
    assert set(np.unique(d.y_train)) == {0, 1}
    again = make_moons_data()
    np.testing.assert_array_equal(d.X_test, again.X_test)
    other = make_moons_data(random_state=1)
    assert not np.array_equal(d.X_test, other.X_test)


def test_article_preset_is_the_articles_network(moons_data):
    m = moons.build_model(moons_data.X_train, moons_data.y_train, **moons.ARTICLE)
    assert [rv.name for rv in m.free_RVs] == ["w_in", "w_1", "w_out"]  # no biases
    assert m.named_vars_to_dims["w_in"] == ("feature", "hidden_0")
    assert m.named_vars_to_dims["w_1"] == ("hidden_0", "hidden_1")
    assert m.named_vars_to_dims["w_out"] == ("hidden_1",)
    assert model_info(m).family == "moons" and model_info(m).output == "p"
    assert get_builder("moons") is moons.build_model
    # the builder's defaults are for any data: biases on, inputs standardised
    d = moons.build_model(moons_data.X_train, moons_data.y_train)
    assert [rv.name for rv in d.free_RVs] == ["w_in", "b_in", "w_1", "b_1", "w_out", "b_out"]
    assert model_info(d).settings["standardize"] == "feature"


def test_bias_option_and_widths(moons_data):
    m = moons.build_model(moons_data.X_train, moons_data.y_train, hidden=(3, 4, 2), bias=True)
    names = [rv.name for rv in m.free_RVs]
    assert names == ["w_in", "b_in", "w_1", "b_1", "w_2", "b_2", "w_out", "b_out"]
    assert m.initial_point()["w_2"].shape == (4, 2)


def test_logp_matches_hand_computation(moons_data):
    """Full-data log density = Normal(0, 1) priors + Bernoulli log-likelihood, by numpy."""
    X, y = moons_data.X_train, moons_data.y_train
    m = moons.build_model(X, y, **moons.ARTICLE)
    point = m.initial_point()
    logit = np.tanh(np.tanh(X @ point["w_in"]) @ point["w_1"]) @ point["w_out"]
    loglik = np.sum(np.where(y == 1, log_expit(logit), log_expit(-logit)))
    prior = sum(np.sum(-0.5 * v**2 - 0.5 * np.log(2 * np.pi)) for v in point.values())
    np.testing.assert_allclose(m.compile_logp()(point), loglik + prior, rtol=1e-10)
    p = pm.draw(m["p"], givens={m["w_in"]: point["w_in"], m["w_1"]: point["w_1"], m["w_out"]: point["w_out"]})
    np.testing.assert_allclose(p, expit(logit), rtol=1e-10)


def test_minibatch_really_feeds_the_likelihood(moons_data):
    """The batch rows, scaled by N / B, are what the likelihood sees: checked row by row."""
    X, y = moons_data.X_train, moons_data.y_train
    m = moons.build_model(X, y, **moons.ARTICLE, batch_size=50)
    g = logp_graph(m)
    assert g.batch_size == 50 and g.n_rows == 500
    point = m.initial_point()
    params = [point[n] for n in g.param_names]
    prior = sum(np.sum(-0.5 * v**2 - 0.5 * np.log(2 * np.pi)) for v in point.values())
    idx = np.random.default_rng(3).integers(0, 500, size=50)
    logit = np.tanh(np.tanh(X[idx] @ point["w_in"]) @ point["w_1"]) @ point["w_out"]
    loglik = np.sum(np.where(y[idx] == 1, log_expit(logit), log_expit(-logit)))
    got = g.fn(*params, *g.data_values, idx)[0]
    np.testing.assert_allclose(got, prior + 500 / 50 * loglik, rtol=1e-10)
    # ... and a different batch gives a different value (the batch is not ignored).
    other = g.fn(*params, *g.data_values, (idx + 1) % 500)[0]
    assert abs(other - got) > 1e-3


def test_minibatch_estimates_average_to_full_data_logp(moons_data):
    """Mean over a partition into batches equals the full-data log density exactly."""
    X, y = moons_data.X_train, moons_data.y_train
    mb = logp_graph(moons.build_model(X, y, batch_size=50))
    full = moons.build_model(X, y)
    point = full.initial_point()
    params = [point[n] for n in mb.param_names]
    perm = np.random.default_rng(0).permutation(500)
    estimates = [mb.fn(*params, *mb.data_values, perm[k * 50 : (k + 1) * 50])[0] for k in range(10)]
    np.testing.assert_allclose(np.mean(estimates), full.compile_logp()(point), rtol=1e-12)


def test_pytensor_minibatch_draws_batches(moons_data):
    """Under PyMC's own compile the Minibatch changes the log density from call to call."""
    m = moons.build_model(moons_data.X_train, moons_data.y_train, batch_size=50)
    f = m.compile_fn(m.logp(), inputs=m.value_vars, point_fn=False)
    point = m.initial_point()
    vals = {float(f(*[point[v.name] for v in m.value_vars])) for _ in range(5)}
    assert len(vals) > 1


def test_prediction_model_has_unobserved_y(moons_data):
    m = moons.build_model(moons_data.X_test)
    assert [rv.name for rv in m.free_RVs][-1] == "y_obs"
    assert not m.observed_RVs


BAD_INPUTS = [
    ("X 1-D", dict(X=np.zeros(10), y=np.zeros(10)), "X must be a 2-D"),
    ("X NaN", dict(X=np.array([[0.0, np.nan], [1.0, 1.0]]), y=[0, 1]), "NaN or infinite"),
    ("X inf", dict(X=np.array([[0.0, np.inf], [1.0, 1.0]]), y=[0, 1]), "NaN or infinite"),
    ("X empty", dict(X=np.zeros((0, 2)), y=np.zeros(0)), "X is empty"),
    ("X strings", dict(X=np.array([["a", "b"]]), y=[0]), "must hold numbers"),
    ("y length", dict(X=np.zeros((4, 2)), y=[0, 1, 0]), "3 labels but X has 4 rows"),
    ("y label 2", dict(X=np.zeros((3, 2)), y=[0, 1, 2]), r"labels in \{0, 1\}; found \[2\]"),
    ("y negative", dict(X=np.zeros((3, 2)), y=[0, -1, 1]), r"found \[-1\]"),
    ("y fractional", dict(X=np.zeros((3, 2)), y=[0, 0.5, 1]), "whole-number"),
    ("y 2-D", dict(X=np.zeros((3, 2)), y=np.zeros((3, 1))), "y must be a 1-D"),
    ("hidden empty", dict(X=np.zeros((3, 2)), y=[0, 1, 0], hidden=()), "hidden must be a non-empty"),
    ("hidden zero", dict(X=np.zeros((3, 2)), y=[0, 1, 0], hidden=(5, 0)), "positive integers"),
    ("activation", dict(X=np.zeros((3, 2)), y=[0, 1, 0], activation="gelu"), "activation must be one of"),
    ("prior_sigma", dict(X=np.zeros((3, 2)), y=[0, 1, 0], prior_sigma=-1), "prior_sigma must be a positive"),
    ("batch too big", dict(X=np.zeros((3, 2)), y=[0, 1, 0], batch_size=10), "batch_size must be between 1 and"),
    ("batch float", dict(X=np.zeros((3, 2)), y=[0, 1, 0], batch_size=2.5), "batch_size must be a positive integer"),
]


@pytest.mark.parametrize("case,kwargs,message", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_builder_rejects_bad_input(case, kwargs, message):
    kwargs = dict(kwargs)
    X, y = kwargs.pop("X"), kwargs.pop("y")
    with pytest.raises(ValueError, match=message):
        moons.build_model(X, y, **kwargs)


def test_builder_accepts_ints_and_float32():
    X = np.array([[0, 1], [1, 0], [2, 2]], dtype=np.int32)
    m = moons.build_model(X, np.array([True, False, True]))
    assert m["X"].get_value().dtype == np.float64
    m32 = moons.build_model(X.astype(np.float32), [1, 0, 1])
    assert m32["X"].get_value().dtype == np.float64
