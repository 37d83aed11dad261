"""Faults a hostile user meets first: each refused at its root with a message that names the
argument and the fix, or handled correctly (issue: "no silent wrong answer").

- a masked array's mask, an X without columns, ``bias="no"``: refused by the builders'
  shared validators (:mod:`models.validation`) instead of read silently;
- a discrete free variable: refused by ``fit`` before compiling, for every method;
- ``predict(draws=0)`` and a posterior holding NaN: refused by ``predict``;
- files the package writes: the mode the umask gives, not mkstemp's 0600.
"""

from __future__ import annotations

import os

import numpy as np
import pymc as pm
import pytest

from bnngallery import fit, load_result, predict, save_result
from bnngallery.models import mnist_mlp, moons, regression

X4 = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [1.0, 2.0]])
Y4 = np.array([0, 1, 0, 1])


@pytest.fixture(scope="module")
def fitted():
    model = moons.build_model(X4, Y4)
    return fit(model, "advi", steps=50, draws=20, progressbar=False, check_collapse=False)


@pytest.mark.parametrize(
    "builder,args,argument,fragment",
    [
        (moons.build_model, (np.ma.masked_array(X4, mask=X4 > 1.5), Y4), "X", "masked"),
        (regression.build_model, (X4, np.ma.masked_array([1.0, 2.0, 3.0, 4.0], mask=[0, 1, 0, 0])), "y", "masked"),
        (mnist_mlp.build_model, (X4, np.ma.masked_array(Y4, mask=[1, 0, 0, 0])), "y", "masked"),
        (moons.build_model, (np.zeros((4, 0)), Y4), "X", "no feature columns"),
        (regression.build_model, (np.zeros((4, 0)), np.zeros(4)), "X", "no feature columns"),
    ],
    ids=["masked X", "masked regression y", "masked labels", "X without columns", "regression X without columns"],
)
def test_builders_refuse_data_they_would_misread(builder, args, argument, fragment):
    with pytest.raises(ValueError) as info:
        builder(*args)
    message = str(info.value)
    assert message.startswith(argument + " ") and fragment in message


def test_a_masked_array_with_nothing_masked_is_its_data():
    a = moons.build_model(np.ma.masked_array(X4, mask=np.zeros_like(X4, dtype=bool)), Y4)
    b = moons.build_model(X4, Y4)
    np.testing.assert_array_equal(a["X"].get_value(), b["X"].get_value())


@pytest.mark.parametrize("method", ["advi", "fullrank_advi", "nuts"])
def test_fit_refuses_a_discrete_free_variable_before_compiling(method):
    with pm.Model() as model:
        z = pm.Bernoulli("z", 0.5)
        pm.Normal("y", 2.0 * z, 1.0, observed=np.array([1.0, 2.0]))
    with pytest.raises(ValueError) as info:
        fit(model, method, steps=10)
    message = str(info.value)
    assert "['z']" in message and "discrete" in message and "marginalize" in message


@pytest.mark.parametrize("draws", [0, -1, 2.5])
def test_predict_names_a_bad_draws(fitted, draws):
    with pytest.raises(ValueError, match="draws must be a positive integer"):
        predict(moons.build_model, fitted, X4, draws=draws)


def test_predict_refuses_a_posterior_with_nan(fitted):
    broken = fitted.copy(deep=True)
    w = broken["posterior"]["w_in"]
    broken["posterior"]["w_in"] = w.where(w.draw != 3)  # one draw's weights become NaN
    with pytest.raises(ValueError) as info:
        predict(moons.build_model, broken, X4)
    assert "'w_in'" in str(info.value) and "NaN" in str(info.value)
    # the undamaged result still predicts
    assert np.isfinite(predict(moons.build_model, fitted, X4)).all()


def test_written_files_follow_the_umask(fitted, tmp_path):
    old = os.umask(0o027)
    try:
        path = save_result(fitted, tmp_path / "fit.nc")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640
    assert load_result(path).attrs["method"] == fitted.attrs["method"]
