"""Article D's regression data and BNN, and the `bnngallery run regression` / `compare` plumbing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bnngallery.data.regression import make_regression_data, true_function
from bnngallery.models import regression
from bnngallery.models.info import model_info

#: The numbers every method's row of a regression run holds, each finite.
RUN_METRICS = (
    "test_rmse",
    "test_log_likelihood",
    "coverage_90",
    "fit_seconds",
    "compile_seconds",
    "epistemic_sd_extrap",
    "sigma_mean",
)


@pytest.fixture(scope="module")
def small_data():
    return make_regression_data(120, 80, random_state=3)


def test_data_is_seeded_and_in_range():
    a, b = make_regression_data(random_state=0), make_regression_data(random_state=0)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert a.X_train.shape == (500, 1) and a.y_train.shape == (500,) and a.n_test == 500
    assert a.X_train.min() >= -2 and a.X_train.max() <= 2
    assert np.all(np.abs(a.X_extrap[:, 0]) > 2) and a.X_extrap.min() >= -3 and a.X_extrap.max() <= 3
    np.testing.assert_allclose(a.f_extrap, a.X_extrap[:, 0] ** 5 - 10 * a.X_extrap[:, 0])
    resid = a.y_train - true_function(a.X_train[:, 0])
    assert resid.std() == pytest.approx(1.0, rel=0.1)
    assert not np.array_equal(make_regression_data(random_state=1).y_train, a.y_train)
    with pytest.raises(ValueError, match="x_range"):
        make_regression_data(x_range=(2, -2))
    with pytest.raises(ValueError, match="noise_sd"):
        make_regression_data(noise_sd=0)


def test_builder_shapes_settings_and_standardisation(small_data):
    d = small_data
    m = regression.build_model(d.X_train, d.y_train, hidden=(7, 3), activation="tanh")
    assert {rv.name for rv in m.free_RVs} == {"w_in", "b_in", "w_1", "b_1", "w_out", "b_out", "sigma"}
    assert m.named_vars_to_dims["w_in"] == ("feature", "hidden_0")
    assert m.named_vars_to_dims["w_1"] == ("hidden_0", "hidden_1")
    info = model_info(m)
    assert info.family == "regression" and info.output == "mu" and info.task == "regression"
    s = info.settings
    assert s["y_loc"] == pytest.approx(d.y_train.mean()) and s["y_scale"] == pytest.approx(d.y_train.std())
    assert s["hidden"] == [7, 3] and s["batch_size"] is None
    # a prediction model gets the fit's constants and no observed data
    p = regression.build_model(d.X_test, None, **{k: v for k, v in s.items() if k != "batch_size"})
    assert model_info(p).settings["y_loc"] == s["y_loc"] and not p.observed_RVs
    from bnngallery.inference.jaxify import forward_graph

    g = forward_graph(p, "mu")
    ip = p.initial_point()
    values = [ip[p.rvs_to_values[p[n]].name] for n in g.param_names]
    values = [np.exp(v) if n == "sigma" else v for n, v in zip(g.param_names, values, strict=True)]
    mu = np.asarray(g.fn(*values, *g.data_values)[0])
    assert mu.shape == (d.n_test,) and np.all(np.isfinite(mu))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"X": np.zeros(5)}, "2-D"),
        ({"y": np.ones(4)}, "must match"),
        ({"y": np.array([1.0, np.nan, 0, 0, 0])}, "NaN"),
        ({"hidden": (0,)}, "positive"),
        ({"activation": "nope"}, "activation"),
        ({"prior_sigma": -1}, "prior_sigma"),
        ({"batch_size": 99}, "batch_size"),
    ],
)
def test_builder_rejects_bad_input(kwargs, match):
    args = {"X": np.zeros((5, 1)), "y": np.zeros(5), **kwargs}
    with pytest.raises(ValueError, match=match):
        regression.build_model(args.pop("X"), args.pop("y"), **args)


def test_minibatch_is_really_used(small_data):
    from bnngallery.inference.jaxify import logp_graph

    d = small_data
    g = logp_graph(regression.build_model(d.X_train, d.y_train, hidden=(4,), batch_size=16))
    assert g.batch_size == 16 and g.n_rows == d.n_train
    assert logp_graph(regression.build_model(d.X_train, d.y_train, hidden=(4,))).batch_size is None


def test_run_regression_advi_only_smoke(tmp_path):
    from bnngallery.runs.common import summary_table
    from bnngallery.runs.regression import run_regression

    metrics = run_regression(methods=("advi",), smoke=True, out_dir=tmp_path, progressbar=False, log=lambda *a: None)
    row = json.loads((tmp_path / "metrics.json").read_text())["runs"][0]
    assert row["method"] == "advi" and metrics["agreement"] is None
    for key in (*RUN_METRICS, "khat"):
        assert np.isfinite(row[key]), key
    assert (tmp_path / "bands.png").stat().st_size > 0 and (tmp_path / "advi.nc").exists()
    assert "coverage_90" in summary_table(metrics)


@pytest.mark.slow
def test_run_regression_smoke(tmp_path):
    from bnngallery.runs.common import summary_table
    from bnngallery.runs.regression import run_regression

    metrics = run_regression(smoke=True, out_dir=tmp_path, progressbar=False, log=lambda *a: None)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["model"] == "regression" and [r["method"] for r in on_disk["runs"]] == ["advi", "nuts"]
    for row in on_disk["runs"]:
        for key in RUN_METRICS:
            assert np.isfinite(row[key]), key
        assert 0 <= row["coverage_90"] <= 1
    advi = on_disk["runs"][0]
    assert "khat" in advi and advi["khat_verdict"] in ("good", "usable", "unreliable")
    assert set(on_disk["agreement"]) >= {"band_overlap", "band_width_ratio", "epistemic_sd_ratio", "sigma_sd_ratio"}
    assert 0 <= on_disk["agreement"]["band_overlap"] <= 1
    for name in ("bands.png", "elbo.png", "sigma.png", "advi.nc", "nuts.nc"):
        assert (tmp_path / name).stat().st_size > 0
    assert "coverage_90" in summary_table(metrics)


@pytest.mark.slow
def test_cli_compare_regression_smoke(tmp_path):
    from bnngallery.cli import main

    assert main(["compare", "regression", "--smoke", "--out", str(tmp_path), "--no-progress"]) == 0
    table = json.loads((tmp_path / "comparison.json").read_text())
    fits = [r["fit"] for r in table["runs"]]
    assert fits == ["advi (jax)", "nuts (jax)"]
    assert all("khat" in r for r in table["runs"] if r["method"] != "nuts")
    assert (tmp_path / "comparison.md").read_text().startswith("## regression")
    assert (tmp_path / "bands.png").exists() and (tmp_path / "parameters_forest.png").exists()


@pytest.mark.slow
def test_full_size_regression_coverage(tmp_path):
    """Must-show: NUTS' 90 % band covers 0.85-0.95 of held-out points (about a few minutes)."""
    from bnngallery.runs.regression import run_regression

    metrics = run_regression(out_dir=tmp_path, progressbar=False, log=lambda *a: None)
    runs = {r["method"]: r for r in metrics["runs"]}
    assert 0.85 <= runs["nuts"]["coverage_90"] <= 0.95
    assert runs["nuts"]["epistemic_sd_extrap"] > 3 * runs["nuts"]["epistemic_sd_in_range"]
    assert metrics["agreement"]["sigma_sd_ratio"] > 0
