"""predict() in bounded chunks, and results that save, reload and refuse to be misused."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import xarray as xr
from scipy.special import expit

from bnngallery import fit, load_result, predict, save_result
from bnngallery.diagnostics.metrics import accuracy, agreement, binary_probs, log_predictive_density
from bnngallery.models import moons
from bnngallery.results import FORMAT_VERSION, ResultFormatError


@pytest.fixture(scope="module")
def advi_result(moons_data):
    m = moons.build_model(moons_data.X_train, moons_data.y_train, **moons.ARTICLE, batch_size=50)
    return fit(m, "advi", steps=3000, draws=64, progressbar=False)


def test_predict_matches_a_numpy_forward_pass(advi_result, moons_data):
    post = advi_result.posterior
    p = predict(moons.build_model, advi_result, moons_data.X_test)
    assert p.shape == (64, 500) and p.dtype == np.float32
    w_in, w_1, w_out = (post[n].values[0] for n in ("w_in", "w_1", "w_out"))
    h = np.tanh(np.einsum("nd,sdh->snh", moons_data.X_test, w_in))
    h = np.tanh(np.einsum("snh,shk->snk", h, w_1))
    expected = expit(np.einsum("snk,sk->sn", h, w_out))
    np.testing.assert_allclose(p, expected, rtol=1e-5, atol=1e-6)


def test_predict_chunking_does_not_change_numbers(advi_result, moons_data):
    whole = predict(moons.build_model, advi_result, moons_data.X_test)
    chunked = predict(moons.build_model, advi_result, moons_data.X_test, chunk_rows=37, chunk_draws=5)
    np.testing.assert_array_equal(whole, chunked)


def test_predict_with_a_model_and_a_draw_subset(advi_result, moons_data):
    model = moons.build_model(moons_data.X_test, **moons.ARTICLE)
    sub = predict(model, advi_result, draws=10, random_seed=3)
    assert sub.shape == (10, 500)
    again = predict(model, advi_result, moons_data.X_test[:7], draws=10, random_seed=3)
    np.testing.assert_allclose(again, sub[:, :7], rtol=1e-6)


def test_predict_refuses_minibatch_model_and_oversized_requests(advi_result, moons_data, monkeypatch):
    mb = moons.build_model(moons_data.X_train, moons_data.y_train, batch_size=50)
    with pytest.raises(ValueError, match="Predict with the builder"):
        predict(mb, advi_result)
    # a standardising model stores its 2 features' scaling, and says so first
    fitted = fit(
        moons.build_model(moons_data.X_train, moons_data.y_train), "advi", steps=50, draws=5, progressbar=False
    )
    with pytest.raises(ValueError, match="x_loc holds 2 values but X has 3 features"):
        predict(moons.build_model, fitted, np.zeros((3, 3)))
    import sys

    monkeypatch.setattr(sys.modules["bnngallery.predict"], "MAX_OUTPUT_BYTES", 1000)
    with pytest.raises(MemoryError, match="pass draws=<fewer>"):
        predict(moons.build_model, advi_result, moons_data.X_test)
    with pytest.raises(ValueError, match="holds only 64 posterior draws"):
        predict(moons.build_model, advi_result, moons_data.X_test[:2], draws=65)
    with pytest.raises(ValueError, match="chunk_rows must be a positive integer"):
        predict(moons.build_model, advi_result, moons_data.X_test, chunk_rows=0)
    with pytest.raises(ValueError, match=r"w_in has shape \(2, 5\) but this model needs \(3, 5\)"):
        predict(moons.build_model, advi_result, np.zeros((3, 3)))


def test_save_and_load_round_trip(advi_result, tmp_path):
    path = save_result(advi_result, tmp_path / "advi.nc")
    back = load_result(
        path, expect_family="moons", expect_model_settings=json.loads(advi_result.attrs["model_settings"])
    )
    xr.testing.assert_identical(back.posterior.to_dataset(), advi_result.posterior.to_dataset())
    np.testing.assert_array_equal(back["fit_history"]["loss"].values, advi_result["fit_history"]["loss"].values)
    for key in ("method", "backend", "settings", "model_family", "model_settings"):
        assert back.attrs[key] == advi_result.attrs[key]
    assert [p.name for p in tmp_path.iterdir()] == ["advi.nc"]  # no temporary files left


def test_load_refuses_newer_format_other_model_and_garbage(advi_result, tmp_path):
    newer = advi_result.copy()
    newer.attrs["bnngallery_format"] = FORMAT_VERSION + 1
    save_result(newer, tmp_path / "newer.nc")
    with pytest.raises(ResultFormatError, match="newer than this bnngallery"):
        load_result(tmp_path / "newer.nc")
    save_result(advi_result, tmp_path / "ok.nc")
    with pytest.raises(ResultFormatError, match="not 'mnist-mlp'"):
        load_result(tmp_path / "ok.nc", expect_family="mnist-mlp")
    with pytest.raises(ResultFormatError, match="other model settings"):
        load_result(tmp_path / "ok.nc", expect_model_settings={"hidden": [64, 64]})
    (tmp_path / "junk.nc").write_bytes(b"not a netcdf file")
    with pytest.raises(ResultFormatError, match="not a readable bnngallery result"):
        load_result(tmp_path / "junk.nc")
    with pytest.raises(FileNotFoundError):
        load_result(tmp_path / "missing.nc")


def test_failed_save_keeps_the_previous_file(advi_result, tmp_path, monkeypatch):
    path = save_result(advi_result, tmp_path / "r.nc")
    before = path.read_bytes()

    def broken(self, target, *args, **kwargs):  # the serialisation fails half-way
        target.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(xr.DataTree, "to_netcdf", broken)
    with pytest.raises(OSError, match="disk full"):
        save_result(advi_result, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["r.nc"]


def test_metrics_known_answers():
    y = np.array([1, 0, 1, 0])
    p_draws = np.array([[0.9, 0.2, 0.6, 0.4], [0.7, 0.0, 0.8, 0.6]])
    assert accuracy(binary_probs(p_draws), y) == 1.0
    expected = np.mean(np.log([0.8, 0.9, 0.7, 0.5]))
    assert log_predictive_density(p_draws, y) == pytest.approx(expected)
    probs = np.array([[[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]])
    assert log_predictive_density(probs, np.array([0, 2])) == pytest.approx(np.mean(np.log([0.7, 0.8])))
    a = agreement(np.array([0.9, 0.4, 0.6]), np.array([0.8, 0.6, 0.7]))
    assert a["label_agreement"] == pytest.approx(2 / 3)
    assert a["mean_abs_prob_diff"] == pytest.approx(0.4 / 3)
