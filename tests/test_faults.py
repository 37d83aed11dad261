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


def test_a_result_file_with_flipped_bytes_is_refused(fitted, tmp_path):
    """Flip one byte inside the stored posterior draws: the file still opens, but its content
    no longer matches the digest written with it, so load_result refuses it."""
    from bnngallery.results import ResultFormatError

    path = save_result(fitted, tmp_path / "fit.nc")
    raw = bytearray(path.read_bytes())
    block = np.ascontiguousarray(fitted["posterior"]["w_in"].values).tobytes()[:16]
    at = bytes(raw).find(block)
    assert at > 0, "the draws were not found in the file"
    raw[at + 3] ^= 0xFF
    damaged = tmp_path / "damaged.nc"
    damaged.write_bytes(bytes(raw))
    with pytest.raises(ResultFormatError, match="damaged"):
        load_result(damaged)
    intact = load_result(path)  # the undamaged file loads and predicts as the result did
    np.testing.assert_array_equal(predict(moons.build_model, intact, X4), predict(moons.build_model, fitted, X4))


def test_predict_refuses_a_model_built_with_other_settings(fitted):
    other = moons.build_model(X4, Y4, activation="relu")
    with pytest.raises(ValueError) as info:
        predict(other, fitted, X4)
    message = str(info.value)
    assert "activation: fitted 'tanh', this model 'relu'" in message and "predict(build_model" in message
    # a start-only setting (the initial weights' seed) does not change the network: accepted
    same = moons.build_model(X4, Y4, random_seed=5)
    np.testing.assert_array_equal(predict(same, fitted, X4), predict(moons.build_model, fitted, X4))


def test_predict_refuses_another_familys_builder(fitted):
    with pytest.raises(ValueError, match=r"fit of the 'moons' model, not 'regression'.*get_builder\('moons'\)"):
        predict(regression.build_model, fitted, X4)
