"""The ODE-parameter model: RK4 solver against closed forms, data, builder checks, fits, SBC, CLI run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bnngallery.data.ode import decay_solution, lotka_volterra_solution, make_decay_data, make_lotka_volterra_data
from bnngallery.models import ode
from bnngallery.models.info import model_info

REPO = Path(__file__).resolve().parents[1]

# PyTensor's JAX backend drops its runtime shape assertions and says so; the builders
# validate shapes up front, so the warning carries no information here.
jax_assert_warning = pytest.mark.filterwarnings("ignore:Skipping .* Op .* as JAX tracing would remove it:UserWarning")


@pytest.mark.parametrize("mode", ["FAST_COMPILE", pytest.param("JAX", marks=jax_assert_warning)])
def test_solver_matches_closed_form(mode):
    """Relative error < 1e-6 on the default grid on the PyTensor (Python/C) and JAX paths."""
    data = make_decay_data()
    r, y0, ts = pt.dscalar("r"), pt.dscalar("y0"), pt.dvector("t")
    ys = ode.odeint_rk4(
        ode.decay_rhs, pt.stack([y0]), ts, pt.stack([r]), substeps=ode.substeps_for(data.t), n_times=len(data.t)
    )[:, 0]
    outputs = [ys]
    if mode == "JAX":
        # gradients too (the samplers' path); compiling them in Python mode takes ~1 min
        outputs += pytensor.grad(ys.sum(), [r, y0])
    out = pytensor.function([ts, r, y0], outputs, mode=mode)(data.t, 0.4, 5.0)
    exact = decay_solution(data.t, y0=5.0, r=0.4)
    assert np.max(np.abs(out[0] - exact) / exact) < 1e-6
    if mode == "JAX":
        np.testing.assert_allclose(out[1], np.sum(-data.t * exact), rtol=1e-6)
        np.testing.assert_allclose(out[2], np.sum(exact / 5.0), rtol=1e-6)


def test_solver_two_state_linear_system_matches_matrix_exponential():
    from scipy.linalg import expm

    A = np.array([[-0.5, 1.0], [-1.0, -0.2]])
    y0 = np.array([2.0, -1.0])
    t = np.linspace(0.3, 8.0, 15)

    def linear_rhs(y, _t, theta):
        # written out rather than pt.dot, which would ask the C backend for BLAS
        return pt.stack([theta[0] * y[0] + theta[1] * y[1], theta[2] * y[0] + theta[3] * y[1]])

    theta = pt.dvector("theta")
    ys = ode.odeint_rk4(linear_rhs, pt.as_tensor(y0), t, theta, substeps=ode.substeps_for(t, max_step=0.05))
    got = pytensor.function([theta], ys, mode="FAST_COMPILE")(A.ravel())
    want = np.stack([expm(A * ti) @ y0 for ti in t])
    # the states cross zero, so the error is measured against the solution's scale
    assert np.max(np.abs(got - want)) < 1e-6 * np.max(np.abs(want))


def test_solver_lotka_volterra_matches_scipy():
    truth = dict(alpha=1.0, beta=0.1, gamma=1.5, delta=0.075)
    t = np.linspace(0.5, 15.0, 30)
    theta = pt.dvector("theta")
    ys = ode.odeint_rk4(
        ode.lotka_volterra_rhs, np.array([10.0, 5.0]), t, theta, substeps=ode.substeps_for(t, max_step=0.05)
    )
    got = pytensor.function([theta], ys, mode="FAST_COMPILE")(np.array(list(truth.values())))
    want = lotka_volterra_solution(t, x0=10.0, z0=5.0, **truth)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_substeps_for_bounds_the_step():
    t = np.array([0.5, 1.0, 3.0])
    n = ode.substeps_for(t, max_step=0.1)
    assert n == 20  # widest interval 2.0
    with pytest.raises(ValueError, match="max_step"):
        ode.substeps_for(t, max_step=0.0)
    with pytest.raises(ValueError, match="n_times"):
        ode.odeint_rk4(ode.decay_rhs, pt.dvector("y0"), pt.dvector("t"), pt.dvector("theta"))
    with pytest.raises(ValueError, match="substeps"):
        ode.odeint_rk4(ode.decay_rhs, np.ones(1), t, np.ones(1), substeps=0)


def test_decay_data_returns_truth_and_is_seeded():
    a, b, c = make_decay_data(random_state=1), make_decay_data(random_state=1), make_decay_data(random_state=2)
    assert a.truth == {"y0": 5.0, "r": 0.4, "sigma": 0.2}
    assert a.t.shape == a.y.shape == (20,) and a.t[0] == 0.0 and a.t[-1] == 10.0
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.y, c.y)
    np.testing.assert_allclose(a.y_true, 5.0 * np.exp(-0.4 * a.t))
    assert 0.1 < np.std(a.y - a.y_true) < 0.35
    custom = make_decay_data(35, y0=2.0, r=1.0, sigma=0.0, t_max=4.0)
    np.testing.assert_allclose(custom.y, 2.0 * np.exp(-custom.t))
    with pytest.raises(ValueError, match="n_points"):
        make_decay_data(0)
    with pytest.raises(ValueError, match="sigma"):
        make_decay_data(sigma=-1.0)


def test_lotka_volterra_data_shapes():
    d = make_lotka_volterra_data(random_state=0)
    assert d.y.shape == (30, 2) and set(d.truth) == {"x0", "z0", "alpha", "beta", "gamma", "delta", "sigma"}


@pytest.mark.parametrize(
    ("t", "y", "match"),
    [
        ([0.0, 2.0, 1.0], [1.0, 2.0, 3.0], "t must be sorted"),
        ([0.0, np.nan, 1.0], [1.0, 2.0, 3.0], "t contains NaN"),
        ([], [], "t is empty"),
        ([-1.0, 0.0, 1.0], [1.0, 2.0, 3.0], "t starts at -1.0, before the initial time"),
        ([[0.0, 1.0]], [1.0, 2.0], "t must be a 1-D"),
        ([0.0, 1.0, 2.0], [1.0, 2.0], r"y must have shape \(3,\)"),
        ([0.0, 1.0, 2.0], [1.0, np.inf, 2.0], "y contains NaN"),
    ],
)
def test_builder_rejects_bad_data(t, y, match):
    with pytest.raises(ValueError, match=match):
        ode.build_model(t, y)


def test_builder_rejects_bad_settings():
    d = make_decay_data()
    with pytest.raises(ValueError, match="r_scale"):
        ode.build_model(d.t, d.y, r_scale=0)
    with pytest.raises(ValueError, match="max_step"):
        ode.build_model(d.t, d.y, max_step=-1)
    with pytest.raises(ValueError, match="t0"):
        ode.build_model(d.t, d.y, t0=float("nan"))


def test_builder_structure_and_prediction_model():
    d = make_decay_data()
    m = ode.build_model(d.t, d.y, r_scale=2.0)
    assert {rv.name for rv in m.free_RVs} == {"y0", "r", "sigma"}
    assert model_info(m).family == "ode" and model_info(m).output == "y_hat"
    assert model_info(m).settings["r_scale"] == 2.0
    assert model_info(ode.build_model(d.t, **model_info(m).settings)) == (
        model_info(m)
    )  # the settings rebuild the same model
    # y=None builds a prediction model on any grid
    p = ode.build_model(np.linspace(0, 12, 7), None)
    assert p["X"].get_value().shape == (7,) and not p.observed_RVs
    # the model's y_hat is the RK4 solution at the data's times
    y_hat = pytensor.function(
        [],
        m["y_hat"],
        givens={m["y0"]: pt.as_tensor(np.array(5.0)), m["r"]: pt.as_tensor(np.array(0.4))},
        mode="FAST_COMPILE",
    )()
    np.testing.assert_allclose(y_hat, decay_solution(d.t, y0=5.0, r=0.4), rtol=1e-6)


def test_lotka_volterra_builder_structure():
    d = make_lotka_volterra_data(12)
    m = ode.build_lotka_volterra_model(d.t, d.y)
    assert {rv.name for rv in m.free_RVs} == {"alpha", "beta", "gamma", "delta", "x0", "z0", "sigma"}
    assert m.named_vars_to_dims["y_hat"] == ("obs_id", "state")
    with pytest.raises(ValueError, match=r"y must have shape \(12, 2\)"):
        ode.build_lotka_volterra_model(d.t, d.y[:, 0])


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """One smoke-size ``run_ode`` (NUTS, ADVI, dropout) shared by the tests below."""
    from bnngallery.runs.ode import run_ode

    out = tmp_path_factory.mktemp("ode_run")
    metrics = run_ode(smoke=True, out_dir=out, progressbar=False, log=lambda *_: None)
    return out, metrics


@jax_assert_warning
def test_run_ode_smoke_writes_metrics(smoke_run):
    out, metrics = smoke_run
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(metrics))
    assert on_disk["model"] == "ode" and on_disk["truth"] == {"y0": 5.0, "r": 0.4, "sigma": 0.2}
    assert "sbc" in on_disk
    runs = {r["method"]: r for r in on_disk["runs"]}
    assert set(runs) == {"advi", "nuts", "dropout"}
    for r in runs.values():
        for key in ("backend", "r_mean", "r_sd", "y0_mean", "y0_sd", "covered_90", "fit_seconds", "compile_seconds"):
            assert key in r, (r["method"], key)
        assert set(r["covered_90"]) >= {"r", "y0"}
    assert {"divergences", "max_rhat"} <= set(runs["nuts"])
    for name in ("nuts.nc", "advi.nc", "parameters.png", "density.png", "bands_nuts.png", "bands_dropout.png"):
        assert (out / name).exists(), name


@jax_assert_warning
def test_nuts_recovers_truth_on_default_data(smoke_run):
    """Short NUTS (100 + 100, 2 chains): truth inside the 90 % intervals, no divergences."""
    _, metrics = smoke_run
    nuts = next(r for r in metrics["runs"] if r["method"] == "nuts")
    assert nuts["divergences"] == 0
    assert all(nuts["covered_90"].values()), nuts["covered_90"]
    assert abs(nuts["r_mean"] - 0.4) < 0.05 and abs(nuts["y0_mean"] - 5.0) < 0.4


@jax_assert_warning
def test_predict_rebuilds_on_a_dense_grid(smoke_run):
    from bnngallery import load_result, predict

    out, _ = smoke_run
    result = load_result(out / "nuts.nc", expect_family="ode")
    grid = np.linspace(0, 10, 41)
    paths = predict(ode.build_model, result, grid, draws=50)
    assert paths.shape == (50, 41)
    post = result["posterior"]
    r, y0 = float(post["r"].mean()), float(post["y0"].mean())
    np.testing.assert_allclose(np.median(paths, axis=0), y0 * np.exp(-r * grid), rtol=0.1)
    # rows of an ODE grid are not independent: asking for small row chunks must not split it
    chunked = predict(ode.build_model, result, grid, draws=50, chunk_rows=7)
    np.testing.assert_array_equal(chunked, paths)


def test_sbc_smoke_writes_valid_json(tmp_path, benchmark_script):
    sbc_ode = benchmark_script("sbc_ode")
    out = tmp_path / "sbc.json"
    sbc_ode.run_sbc(smoke=True, sims=3, out=out, log=lambda *_: None)
    data = json.loads(out.read_text())
    for method in ("nuts", "advi"):
        for p in ("y0", "r", "sigma"):
            entry = data[method][p]
            assert len(entry["ranks"]) == 3 and all(0 <= k <= data["settings"]["n_rank"] for k in entry["ranks"])
            assert 0.0 <= entry["coverage_50"] <= 1.0 and 0.0 <= entry["coverage_90"] <= 1.0
    assert data["nuts"]["divergences_total"] >= 0


@pytest.mark.slow
@jax_assert_warning
def test_nuts_full_size_on_default_data():
    """The issue's check: NUTS 1000 + 1000, 2 chains: 0 divergences, R-hat <= 1.01, truth covered."""
    import time

    from bnngallery import fit
    from bnngallery.diagnostics.mcmc import max_rhat
    from bnngallery.runs.ode import posterior_draws, summarise_draws

    d = make_decay_data()
    t0 = time.perf_counter()
    res = fit(ode.build_model(d.t, d.y), "nuts", draws=1000, tune=1000, chains=2, progressbar=False)
    print(f"NUTS 1000 + 1000 x 2: {time.perf_counter() - t0:.1f} s wall, fit_seconds {res.attrs['fit_seconds']:.1f}")
    assert int(res.attrs["divergences"]) == 0
    assert max_rhat(res) <= 1.01
    assert all(summarise_draws(posterior_draws(res), d.truth)["covered_90"].values())


@pytest.mark.slow
def test_sbc_coverage_file_is_calibrated_for_nuts():
    """The committed full-size SBC result: NUTS covers the truth 85-95 % of the time at 90 %."""
    data = json.loads((REPO / "benchmarks" / "results" / "sbc_ode.json").read_text())
    assert not data["settings"]["smoke"] and data["settings"]["sims"] >= 100
    assert 0.85 <= data["nuts"]["coverage_90_mean"] <= 0.95


def test_a_wide_gap_between_times_is_refused_fast_with_the_fix():
    """Observation times over [0, 150] in one gap would unroll 994 RK4 steps into the graph
    (the build never returned); the builder refuses at once, naming the gap and both fixes."""
    import time

    t0 = time.perf_counter()
    with pytest.raises(ValueError) as info:
        ode.build_model(np.array([1.0, 150.0]), np.array([4.0, 0.1]))
    assert time.perf_counter() - t0 < 5
    message = str(info.value)
    assert "149 from t = 1" in message and "max_step" in message and "994 RK4 steps" in message
    # the fix it names works: a larger max_step builds (error grows as max_step**4)
    m = ode.build_model(np.array([1.0, 150.0]), np.array([4.0, 0.1]), max_step=149 / ode.MAX_SUBSTEPS)
    assert np.isfinite(m.compile_logp()(m.initial_point()))
