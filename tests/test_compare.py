"""The comparison toolkit: scores, parameter table, k-hat, against answers known in closed form."""

from __future__ import annotations

import json

import numpy as np
import pymc as pm
import pytest
import xarray as xr

from bnngallery import plots
from bnngallery.diagnostics import compare as cmp
from bnngallery.diagnostics import khat, metrics, uncertainty
from bnngallery.models.info import ModelInfo
from bnngallery.results import make_result
from bnngallery.runs.compare import comparison_spec

# ----------------------------------------------------------------------------------------
# a model whose posterior is known: y_i ~ N(mu, 1), mu ~ N(0, 10)

PRIOR_SD = 10.0


def build_conjugate(X, y=None, *, batch_size=None, random_seed=0):
    """Gallery-style builder of the conjugate normal model (X only sets the number of rows)."""
    from bnngallery.models.info import tag_model
    from bnngallery.models.layers import data_and_batches

    X = np.asarray(X, dtype=np.float64)
    with pm.Model(coords={"feature": [0]}) as model:
        X_in, y_in, total_size = data_and_batches(X, y, batch_size=batch_size)
        mu = pm.Normal("mu", 0.0, PRIOR_SD)
        dims = "obs_id" if batch_size is None else None
        f = pm.Deterministic("f", mu + 0.0 * X_in[:, 0], dims=dims)
        kw = {"total_size": total_size} if y is not None else {}
        pm.Normal("y_obs", f, 1.0, observed=y_in, dims=dims, **kw)
    return tag_model(
        model,
        family="conjugate",
        settings={"batch_size": batch_size, "random_seed": random_seed},
        output="f",
        task="regression",
    )


@pytest.fixture(scope="module")
def conjugate_data():
    rng = np.random.default_rng(1)
    n = 40
    y = rng.normal(1.5, 1.0, size=n)
    X = np.zeros((n, 1))
    post_prec = n + 1.0 / PRIOR_SD**2
    return {
        "X": X,
        "y": y,
        "X_test": np.zeros((200, 1)),
        "y_test": rng.normal(1.5, 1.0, size=200),
        "mean": y.sum() / post_prec,
        "sd": 1.0 / np.sqrt(post_prec),
    }


def _fake_advi(mean: float, sd: float, *, draws: int = 4000, seed: int = 0):
    """A result whose Gaussian approximation of mu is N(mean, sd) (no fitting involved)."""
    post = xr.Dataset({"mu": (("chain", "draw"), np.random.default_rng(seed).normal(mean, sd, (1, draws)))})
    approx = xr.Dataset({"mu_mean": ((), mean), "mu_sd": ((), sd)})
    return make_result(
        posterior=post,
        method="advi",
        backend="jax",
        compile_seconds=0.0,
        run_seconds=0.0,
        settings={"approximation": "meanfield"},
        model_info=ModelInfo(family="conjugate"),
        groups={"approximation": approx},
    )


def test_khat_against_analytic_posterior(conjugate_data):
    d = conjugate_data
    model = build_conjugate(d["X"], d["y"])
    exact = khat.vi_khat(_fake_advi(d["mean"], d["sd"]), model, draws=4000)
    wide = khat.vi_khat(_fake_advi(d["mean"], 1.3 * d["sd"]), model, draws=4000)
    narrow = khat.vi_khat(_fake_advi(d["mean"], 0.4 * d["sd"]), model, draws=4000)
    # q = posterior: constant ratios; q wider than p: bounded weights (k < 0);
    # q with sd ratio r < 1: Pareto tail with k = 1 - r^2 = 0.84 (Yao et al. 2018, sec. 3).
    assert exact["khat_verdict"] == "good" and exact["khat"] < 0.3
    assert wide["khat"] < 0.3
    assert narrow["khat"] > khat.KHAT_USABLE and narrow["khat_verdict"] == "unreliable"
    assert narrow["khat_ess"] < wide["khat_ess"]


def test_khat_rejects_minibatch_model_and_nuts(conjugate_data):
    d = conjugate_data
    mb = build_conjugate(d["X"], d["y"], batch_size=10)
    with pytest.raises(ValueError, match="full-data"):
        khat.vi_khat(_fake_advi(d["mean"], d["sd"]), mb)
    nuts_like = make_result(
        posterior=xr.Dataset({"mu": (("chain", "draw"), np.zeros((1, 10)))}),
        method="nuts",
        backend="jax",
        compile_seconds=0,
        run_seconds=0,
        settings={},
    )
    with pytest.raises(ValueError, match="approximation"):
        khat.vi_khat(nuts_like, build_conjugate(d["X"], d["y"]))


@pytest.fixture(scope="module")
def conjugate_fits(conjugate_data):
    from bnngallery import fit

    d = conjugate_data
    advi = fit(
        build_conjugate(d["X"], d["y"], batch_size=10), "advi", steps=4000, draws=4000, init_sd=0.5, progressbar=False
    )
    nuts = fit(build_conjugate(d["X"], d["y"]), "nuts", draws=1000, tune=500, chains=2, progressbar=False)
    return {"advi": advi, "nuts": nuts}


def test_toolkit_numbers_match_conjugate_posterior(conjugate_data, conjugate_fits):
    d = conjugate_data
    table = cmp.compare(
        conjugate_fits,
        builder=build_conjugate,
        X_test=d["X_test"],
        y_test=d["y_test"],
        X_train=d["X"],
        y_train=d["y"],
        noise_var=1.0,
        var_names=["mu"],
    )
    params = {r["fit"]: r for r in table["parameters"]}
    for key in ("advi", "nuts"):
        assert params[key]["mean"] == pytest.approx(d["mean"], abs=0.25 * d["sd"])
        assert params[key]["sd"] == pytest.approx(d["sd"], rel=0.12)
    assert params["nuts"]["sd_ratio"] is None
    assert params["advi"]["sd_ratio"] == pytest.approx(1.0, abs=0.2)
    rows = {r["fit"]: r for r in table["runs"]}
    # minibatch ADVI: k-hat evaluated on the full-data log density, and small here
    assert rows["advi"]["khat"] < khat.KHAT_GOOD
    assert "khat" not in rows["nuts"]
    assert rows["advi"]["band_overlap"] > 0.9
    # predictive band = N(mean, 1 + sd^2): coverage of 90 % is about 0.9
    assert rows["nuts"]["coverage_90"] == pytest.approx(0.9, abs=0.07)
    assert rows["advi"]["speedup_vs_reference"] > 0
    md = cmp.to_markdown(table)
    assert "k-hat" in md and "| advi |" in md
    js = cmp.to_json(table)
    assert "predictions" not in js and js["reference"] == "nuts"


def test_scores_against_hand_computed_values():
    lo, hi = np.zeros(4), np.ones(4)
    assert metrics.interval_coverage(lo, hi, np.array([0.5, 1.0, 2.0, -0.1])) == 0.5
    assert metrics.band_overlap(lo, hi, lo, hi) == 1.0
    assert metrics.band_overlap(np.array([0.0]), np.array([2.0]), np.array([1.0]), np.array([3.0])) == pytest.approx(
        1 / 3
    )
    assert metrics.band_overlap(np.array([0.0]), np.array([1.0]), np.array([2.0]), np.array([3.0])) == 0.0
    # perfectly calibrated at 0.8 confidence: ECE 0
    p = np.full(10, 0.8)
    y = np.array([1] * 8 + [0] * 2)
    assert uncertainty.expected_calibration_error(p, y) == pytest.approx(0.0)
    assert uncertainty.expected_calibration_error(np.full(10, 0.9), np.array([1] * 5 + [0] * 5)) == pytest.approx(0.4)
    # Gaussian lpd with one draw equals the normal log density
    mu, sigma, yy = np.array([[0.0, 1.0]]), np.array([2.0]), np.array([1.0, 1.0])
    expect = np.mean(-0.5 * ((yy - mu[0]) / 2.0) ** 2 - np.log(2.0) - 0.5 * np.log(2 * np.pi))
    assert metrics.gaussian_log_predictive_density(mu, sigma, yy) == pytest.approx(expect)


def test_regression_predictive_band_is_noise_quantile():
    mu = np.zeros((20000, 3))
    out = metrics.regression_predictive(mu, np.full(20000, 2.0), prob=0.9)
    np.testing.assert_allclose(out["hi"], 2.0 * 1.6449, rtol=0.03)
    np.testing.assert_allclose(out["lo"], -2.0 * 1.6449, rtol=0.03)
    with pytest.raises(ValueError, match="pair up"):
        metrics.regression_predictive(mu, np.ones(3))


def test_parameter_table_and_plots_accept_different_chain_counts():
    import matplotlib

    matplotlib.use("Agg")
    rng = np.random.default_rng(0)

    def res(method, sd, chains):
        post = xr.Dataset(
            {
                "sigma": (("chain", "draw"), rng.normal(1.0, sd, (chains, 300))),
                "w_in": (("chain", "draw", "k"), rng.normal(size=(chains, 300, 4))),
            }
        )
        return make_result(posterior=post, method=method, backend="jax", compile_seconds=0, run_seconds=1, settings={})

    results = {"ADVI": res("advi", 0.05, 1), "NUTS": res("nuts", 0.1, 2)}
    assert cmp.identifiable_vars(results["NUTS"]) == ["sigma"]  # weights are not identifiable
    rows = cmp.parameter_table(results)
    ratio = next(r["sd_ratio"] for r in rows if r["fit"] == "ADVI")
    assert ratio == pytest.approx(0.5, rel=0.15)
    for kind in ("forest", "density"):
        fig = plots.plot_parameters(results, kind=kind)
        assert isinstance(fig, matplotlib.figure.Figure)
        matplotlib.pyplot.close(fig)
    with pytest.raises(ValueError, match="No identifiable parameters"):
        plots.plot_parameters(results, var_names=[])
    with pytest.raises(ValueError, match="reference"):
        cmp.parameter_table(results, reference="nope")


def test_compare_refuses_mixed_families(conjugate_data, conjugate_fits):
    other = conjugate_fits["nuts"].copy()
    other.attrs["model_family"] = "moons"
    with pytest.raises(ValueError, match="one model family"):
        cmp.compare(
            {"a": conjugate_fits["advi"], "b": other},
            builder=build_conjugate,
            X_test=conjugate_data["X_test"],
            y_test=conjugate_data["y_test"],
            noise_var=1.0,
        )


def test_cli_compare_unknown_model_spec(capsys):
    with pytest.raises(ValueError, match="compare takes one of"):
        comparison_spec("nope", smoke=True, random_seed=0)
    with pytest.raises(ValueError, match="no NUTS reference"):
        comparison_spec("mnist-mlp", smoke=True, random_seed=0)


def test_fullrank_fit_stores_its_covariance_and_khat_uses_it():
    """y = a + b x + N(0, 1) with x in [4, 6]: a and b are strongly anti-correlated a posteriori
    (flat-ish priors, so the posterior covariance is (X^T X)^-1). Full-rank ADVI must store that
    covariance on both backends, and k-hat with it is good while the mean-field q's is not
    (0.62 here, with a fifth of the full-rank q's effective sample size)."""
    from bnngallery import fit

    rng = np.random.default_rng(3)
    x = rng.uniform(4, 6, size=60)
    y = 1.0 + 0.5 * x + rng.normal(0, 1, size=60)
    with pm.Model() as model:
        a = pm.Normal("a", 0, 100)
        b = pm.Normal("b", 0, 100)
        pm.Normal("obs", a + b * x, 1.0, observed=y)
    design = np.column_stack([np.ones_like(x), x])
    cov = np.linalg.inv(design.T @ design + np.eye(2) / 100**2)
    corr = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    assert corr < -0.95
    full = []
    for backend, steps, lr in (("jax", 20_000, 0.02), ("pytensor", 20_000, 0.01)):
        res = fit(
            model,
            "fullrank_advi",
            backend=backend,
            steps=steps,
            learning_rate=lr,
            draws=500,
            progressbar=False,
            lr_schedule="cosine" if backend == "jax" else "constant",
        )
        approx = res["approximation"]
        L = approx["cholesky"].values
        fitted = L @ L.T
        order = __import__("json").loads(approx.attrs["flat_order"])
        assert order == ["a", "b"]
        np.testing.assert_allclose(np.sqrt(np.diag(fitted)), np.sqrt(np.diag(cov)), rtol=0.15)
        assert fitted[0, 1] / np.sqrt(fitted[0, 0] * fitted[1, 1]) < -0.9
        k = khat.vi_khat(res, model, draws=2000)
        assert k["khat_q"] == "full-rank" and k["khat"] < 0.5, (backend, k)
        full.append(k)
    mf = fit(model, "advi", steps=20_000, learning_rate=0.02, draws=500, progressbar=False)
    k_mf = khat.vi_khat(mf, model, draws=2000)
    assert k_mf["khat_q"] == "mean-field" and k_mf["khat"] > 0.5, k_mf
    assert k_mf["khat_ess"] < 0.5 * min(k["khat_ess"] for k in full), (k_mf, full)


def test_compare_scores_every_fit_by_elpd_loo_and_ranks_them(conjugate_data, conjugate_fits):
    """A Gaussian posterior (one mean): ADVI's ELPD-LOO matches NUTS's within its standard error,
    and the approximation-corrected LOO is trustworthy here (every Pareto k below ArviZ's limit)."""
    d = conjugate_data
    table = cmp.compare(conjugate_fits, builder=build_conjugate, X_test=d["X_test"], y_test=d["y_test"], noise_var=1.0)
    rows = {r["fit"]: r for r in table["runs"]}
    nuts, advi = rows["nuts"], rows["advi"]
    assert nuts["elpd_loo_se"] > 0 and abs(advi["elpd_loo"] - nuts["elpd_loo"]) < nuts["elpd_loo_se"]
    assert advi["elpd_loo_vi_khat_bad"] == 0 and abs(advi["elpd_loo_vi"] - nuts["elpd_loo"]) < nuts["elpd_loo_se"]
    assert "elpd_loo_vi" not in nuts  # NUTS has no approximation to correct
    assert nuts["function_rhat_max"] < 1.02  # its two chains agree on the predictions
    ranking = cmp.to_json(table)["loo_ranking"]
    assert {r["fit"] for r in ranking} == {"advi", "nuts"} and sorted(r["rank"] for r in ranking) == [0, 1]
    md = cmp.to_markdown(table)
    assert "ELPD-LOO" in md and "### Ranking by ELPD-LOO (arviz_stats.compare)" in md


def test_function_space_convergence_known_answers():
    from bnngallery.diagnostics.mcmc import function_space_convergence

    rng = np.random.default_rng(0)
    same = rng.normal(size=(2 * 500, 7))  # two chains of one distribution, predict's (chains * draws, rows)
    out = function_space_convergence(same, 2)
    assert out["function_rhat_max"] < 1.02 and out["function_ess_bulk_min"] > 500
    stuck = same.copy()
    stuck[500:] += 3.0  # the second chain sits in another mode
    assert function_space_convergence(stuck, 2)["function_rhat_max"] > 1.5
    with pytest.raises(ValueError, match="whole chains"):
        function_space_convergence(same[:999], 2)


def test_nuts_diagnostics_in_a_run_row(conjugate_fits):
    from bnngallery.runs.common import method_row

    row = method_row("nuts", conjugate_fits["nuts"], 1.0)
    assert row["divergences"] == 0 and row["bfmi_min"] > 0.3 and row["max_rhat"] < 1.02
    assert row["ess_bulk_min"] > 200 and row["ess_tail_min"] > 200
    assert row["elpd_loo_se"] > 0 and row["elpd_loo_khat_max"] < 0.7


def test_forest_gives_each_parameter_its_own_scale():
    """y0 (about 5) and r (about 0.4) each get a panel: r's intervals are not dots on y0's axis."""
    import matplotlib

    matplotlib.use("Agg")
    rng = np.random.default_rng(1)

    def res(method, chains):
        post = xr.Dataset(
            {
                "y0": (("chain", "draw"), rng.normal(5.0, 0.15, (chains, 300))),
                "r": (("chain", "draw"), rng.normal(0.4, 0.02, (chains, 300))),
            }
        )
        return make_result(posterior=post, method=method, backend="jax", compile_seconds=0, run_seconds=1, settings={})

    fig = plots.plot_parameters({"ADVI": res("advi", 1), "NUTS": res("nuts", 2)}, ["y0", "r"], kind="forest")
    spans = sorted(np.ptp(ax.get_xlim()) for ax in fig.axes if ax.get_xlim() != (0.0, 1.0))
    assert len(spans) == 2 and spans[0] < 0.5 < spans[1] < 3, spans
    matplotlib.pyplot.close(fig)


def test_cli_compare_moons_writes_and_names_its_figures(tmp_path, capsys):
    """`bnngallery compare moons` used to promise figures and write none."""
    from bnngallery.cli import main

    assert main(["compare", "moons", "--smoke", "--out", str(tmp_path), "--no-progress"]) == 0
    table = json.loads((tmp_path / "comparison.json").read_text())
    figures = [f for f in table["files"] if f.endswith(".png")]
    assert {"surfaces.png", "loo_compare.png", "pareto_k_nuts_jax.png", "calibration_advi_jax.png"} <= set(figures)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(table["files"])
    out = capsys.readouterr().out
    assert all(f in out for f in table["files"])
    assert all(r["elpd_loo_se"] > 0 for r in table["runs"])
