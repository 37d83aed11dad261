"""fit(): known posteriors recovered by every path, one result shape, validated options, NaN guard."""

from __future__ import annotations

import json

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest

from bnngallery import fit, predict
from bnngallery.diagnostics.metrics import accuracy, binary_probs
from bnngallery.inference.advi_loop import ADVIDivergenceError
from bnngallery.models import moons
from bnngallery.results import final_elbo, settings_of

# y_i ~ N(mu, 1), mu ~ N(0, 10): the posterior of mu is Normal with these moments.
_RNG = np.random.default_rng(42)
Y_CONJ = _RNG.normal(1.5, 1.0, size=40)
POST_PREC = 1 / 10**2 + len(Y_CONJ)
POST_SD = POST_PREC**-0.5
POST_MEAN = Y_CONJ.sum() / POST_PREC


def conjugate_model(batch_size=None):
    with pm.Model() as m:
        y = pm.Data("y", Y_CONJ)
        mu = pm.Normal("mu", 0, 10)
        if batch_size:
            (yb,) = (pm.Minibatch(y, batch_size=batch_size),)
            pm.Normal("obs", mu, 1, observed=yb, total_size=len(Y_CONJ))
        else:
            pm.Normal("obs", mu, 1, observed=y)
    return m


@pytest.mark.parametrize(
    "method,precision",
    [("advi", "float64"), ("fullrank_advi", "float64"), ("advi", "float32"), ("fullrank_advi", "float32")],
)
def test_jax_advi_recovers_conjugate_posterior(method, precision):
    r = fit(
        conjugate_model(), method, steps=4000, learning_rate=0.05, draws=4000, progressbar=False, precision=precision
    )
    assert settings_of(r)["precision"] == precision
    assert r.posterior["mu"].dtype == np.float64 and r["approximation"]["mu_sd"].dtype == np.float64
    mu = r.posterior["mu"].values.ravel()
    assert abs(mu.mean() - POST_MEAN) < 0.02
    assert abs(mu.std() - POST_SD) / POST_SD < 0.08
    approx = r["approximation"]
    assert abs(float(approx["mu_mean"]) - POST_MEAN) < 0.02
    assert abs(float(approx["mu_sd"]) - POST_SD) / POST_SD < 0.08


def test_jax_advi_with_minibatch_recovers_conjugate_posterior():
    r = fit(conjugate_model(batch_size=10), "advi", steps=6000, learning_rate=0.02, draws=4000, progressbar=False)
    assert r.attrs["settings"].count('"batch_size": 10')
    approx = r["approximation"]
    assert abs(float(approx["mu_mean"]) - POST_MEAN) < 0.05
    assert abs(float(approx["mu_sd"]) - POST_SD) / POST_SD < 0.15


def test_pytensor_advi_recovers_conjugate_posterior():
    # pm.fit keeps Adam's step size constant, so the end point jitters by about 0.2
    # posterior sd at this step size (measured over seeds): allow 0.4 sd.
    r = fit(
        conjugate_model(), "advi", backend="pytensor", steps=12_000, learning_rate=0.003, draws=4000, progressbar=False
    )
    approx = r["approximation"]
    assert abs(float(approx["mu_mean"]) - POST_MEAN) < 0.4 * POST_SD
    assert abs(float(approx["mu_sd"]) - POST_SD) / POST_SD < 0.15
    # the loss is the negative ELBO on both backends: at the optimum it equals -log evidence
    # (the Gaussian family is exact here), the same number the JAX path reaches.
    rj = fit(conjugate_model(), "advi", steps=4000, learning_rate=0.05, progressbar=False)
    assert abs(r["fit_history"]["loss"].values[-500:].mean() - rj["fit_history"]["loss"].values[-500:].mean()) < 0.5


def test_nuts_recovers_conjugate_posterior():
    r = fit(conjugate_model(), "nuts", draws=1000, tune=500, chains=2, progressbar=False)
    mu = r.posterior["mu"].values.ravel()
    assert r.posterior.sizes["chain"] == 2
    assert abs(mu.mean() - POST_MEAN) < 4 * POST_SD / np.sqrt(500)
    assert abs(mu.std() - POST_SD) / POST_SD < 0.1
    assert r.attrs["divergences"] == 0
    assert "diverging" in r["sample_stats"]


def test_result_shape_is_the_same_for_advi_and_nuts(moons_data):
    m = moons.build_model(moons_data.X_train, moons_data.y_train, **moons.ARTICLE, batch_size=50)
    advi = fit(m, "advi", steps=1000, draws=50, progressbar=False)
    nuts = fit(
        moons.build_model(moons_data.X_train, moons_data.y_train, **moons.ARTICLE),
        "nuts",
        draws=30,
        tune=30,
        chains=1,
        progressbar=False,
    )
    for r in (advi, nuts):
        assert set(r.posterior.data_vars) == {"w_in", "w_1", "w_out"}  # data-sized `p` left out
        assert r.posterior["w_1"].dims == ("chain", "draw", "hidden_0", "hidden_1")
        for key in (
            "method",
            "backend",
            "compile_seconds",
            "run_seconds",
            "fit_seconds",
            "settings",
            "model_family",
            "model_settings",
        ):
            assert key in r.attrs
        assert r.attrs["model_family"] == "moons"
    assert advi["fit_history"]["loss"].sizes["step"] == 1000
    assert nuts.posterior.sizes["draw"] == 30


def test_jax_and_pytensor_advi_agree_on_moons(moons_data):
    accs = {}
    for backend in ("jax", "pytensor"):
        m = moons.build_model(moons_data.X_train, moons_data.y_train, **moons.ARTICLE, batch_size=50)
        r = fit(m, "advi", backend=backend, steps=30_000, draws=300, progressbar=False)
        accs[backend] = accuracy(binary_probs(predict(moons.build_model, r, moons_data.X_test)), moons_data.y_test)
    assert accs["jax"] >= 0.94 and accs["pytensor"] >= 0.94
    assert abs(accs["jax"] - accs["pytensor"]) <= 0.02, accs


def test_same_seed_same_numbers(moons_data):
    def run(seed):
        m = moons.build_model(moons_data.X_train, moons_data.y_train, batch_size=50)
        return fit(m, "advi", steps=800, draws=20, random_seed=seed, progressbar=False)

    a, b, c = run(1), run(1), run(2)
    np.testing.assert_array_equal(a["fit_history"]["loss"].values, b["fit_history"]["loss"].values)
    np.testing.assert_array_equal(a.posterior["w_1"].values, b.posterior["w_1"].values)
    assert not np.array_equal(a["fit_history"]["loss"].values, c["fit_history"]["loss"].values)


def test_nan_guard_stops_and_names_the_variable():
    """A log density that turns NaN once mu passes 3: the fit stops there and names the term."""
    with pm.Model() as m:
        mu = pm.Normal("mu", 0, 10)
        pm.Normal("scale_free", 0, 1)
        pm.Potential("cliff", pt.switch(mu > 3.0, np.nan, 0.0))
        pm.Normal("obs", mu, 1, observed=np.full(20, 10.0))
    with pytest.raises(ADVIDivergenceError, match=r"log density term\(s\) cliff.*learning_rate") as info:
        fit(m, "advi", steps=3000, learning_rate=0.05, chunk_size=100, progressbar=False)
    partial = info.value.result
    assert partial is not None and partial.attrs["interrupted"] == 1
    done = int(partial.attrs["steps_done"])
    assert 0 < done < 3000
    assert np.isfinite(partial["fit_history"]["loss"].values).all()
    assert np.isfinite(partial.posterior["mu"].values).all()
    assert "scale_free" not in str(info.value)


def test_divergence_keeps_the_last_finite_step():
    """The error's result is the state after the last finite step (not the start of its chunk):
    a fit run for exactly that many steps reaches the same approximation."""
    with pm.Model() as m:
        mu = pm.Normal("mu", 0, 10)
        pm.Potential("cliff", pt.switch(mu > 3.0, np.nan, 0.0))
        pm.Normal("obs", mu, 1, observed=np.full(20, 10.0))
    opts = dict(learning_rate=0.05, lr_schedule="constant", chunk_size=100, progressbar=False, random_seed=3)
    with pytest.raises(ADVIDivergenceError) as info:
        fit(m, "advi", steps=3000, **opts)
    partial = info.value.result
    done = int(partial.attrs["steps_done"])
    assert done % 100, "the divergence should fall inside a chunk for this check to mean anything"
    replay = fit(m, "advi", steps=done, **opts)
    start = done - done % 100
    at_start = (
        float(m.initial_point()["mu"])
        if start == 0
        else float(fit(m, "advi", steps=start, **opts)["approximation"]["mu_mean"])
    )
    kept = float(partial["approximation"]["mu_mean"])
    # the divergence search replays single compiled steps, the loop compiled chunks: equal to rounding
    assert kept == pytest.approx(float(replay["approximation"]["mu_mean"]), rel=1e-12)
    assert abs(kept - at_start) > 1e-3  # not the state the chunk started from
    np.testing.assert_allclose(partial["fit_history"]["loss"].values, replay["fit_history"]["loss"].values, rtol=1e-12)


def test_interrupt_returns_the_state_so_far(moons_data, monkeypatch):
    import tqdm

    calls = {"n": 0}
    real_update = tqdm.tqdm.update

    def update_then_interrupt(self, n=1):
        calls["n"] += 1
        real_update(self, n)
        if calls["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(tqdm.tqdm, "update", update_then_interrupt)
    m = moons.build_model(moons_data.X_train, moons_data.y_train, batch_size=50)
    r = fit(m, "advi", steps=10_000, chunk_size=500, draws=10, progressbar=True)
    assert r.attrs["interrupted"] == 1
    assert r.attrs["steps_done"] == 1000 and r["fit_history"]["loss"].sizes["step"] == 1000


def test_nuts_refuses_a_minibatch_model(moons_data):
    m = moons.build_model(moons_data.X_train, moons_data.y_train, batch_size=50)
    with pytest.raises(ValueError, match="batch_size=None for NUTS"):
        fit(m, "nuts")


def test_fit_refuses_a_prediction_model(moons_data):
    with pytest.raises(ValueError, match="no observed data"):
        fit(moons.build_model(moons_data.X_test), "advi")


def test_fit_refuses_something_that_is_not_a_model():
    with pytest.raises(ValueError, match="model must be a pymc.Model"):
        fit("moons", "advi")


def test_chunk_size_does_not_change_the_trajectory(moons_data):
    """One step per call (no scan loop), chunks of 7 or of 25: the same numbers."""
    losses = []
    for chunk in (1, 7, 25):
        m = moons.build_model(moons_data.X_train, moons_data.y_train, batch_size=50)
        r = fit(m, "advi", steps=50, chunk_size=chunk, draws=5, progressbar=False)
        losses.append(r["fit_history"]["loss"].values)
    np.testing.assert_array_equal(losses[0], losses[1])
    np.testing.assert_array_equal(losses[0], losses[2])


def test_float32_fit_matches_float64_on_moons(moons_data):
    """The float32 loop (JAX's 64-bit mode off) reaches the same predictions as float64."""
    probs = {}
    for precision in ("float64", "float32"):
        m = moons.build_model(moons_data.X_train, moons_data.y_train, **moons.ARTICLE, batch_size=50)
        r = fit(m, "advi", steps=6000, draws=300, progressbar=False, precision=precision)
        probs[precision] = binary_probs(predict(moons.build_model, r, moons_data.X_test))
    assert accuracy(probs["float32"], moons_data.y_test) >= 0.94
    assert np.mean((probs["float32"] > 0.5) == (probs["float64"] > 0.5)) >= 0.98
    assert np.abs(probs["float32"] - probs["float64"]).mean() < 0.02


def test_restarts_keep_the_fit_with_the_highest_elbo(moons_data):
    """Three full-rank fits with seeds 4, 5, 6: the result is the one with the best final ELBO,
    identical to fitting that seed alone, and every restart's ELBO is recorded."""

    def model():
        return moons.build_model(moons_data.X_train, moons_data.y_train, batch_size=50)

    kw = dict(steps=3000, draws=50, progressbar=False)
    best = fit(model(), "fullrank_advi", random_seed=4, restarts=3, **kw)
    elbos = json.loads(best.attrs["restart_elbos"])
    singles = [fit(model(), "fullrank_advi", random_seed=s, **kw) for s in (4, 5, 6)]
    assert elbos == pytest.approx([final_elbo(r) for r in singles])
    chosen = int(best.attrs["restart_chosen"])
    assert chosen == int(np.argmax(elbos))
    np.testing.assert_array_equal(best.posterior["w_1"].values, singles[chosen].posterior["w_1"].values)
    assert settings_of(best)["restarts"] == 3 and settings_of(best)["random_seed"] == 4
    assert float(best.attrs["fit_seconds"]) >= sum(float(r.attrs["run_seconds"]) for r in singles) * 0.5
