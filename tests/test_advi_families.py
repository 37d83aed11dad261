"""The ADVI engine as a state and pure functions: init / step / sample, the families, a third
family added in a few lines, and no process-wide JAX switch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pymc as pm
import pytest

from bnngallery.inference import advi, noise
from bnngallery.inference.advi_loop import fit_advi_jax, make_optimizer
from bnngallery.inference.jaxify import logp_graph
from bnngallery.inference.precision import precision_scope

# y_ij ~ N(mu_j, 1), mu_j ~ N(0, 10), two coordinates with 30 points each: the posterior of
# each mu_j is Normal, independent, with the same sd.
_RNG = np.random.default_rng(3)
Y = _RNG.normal([1.0, -2.0], 1.0, size=(30, 2))
POST_SD = (1 / 100 + len(Y)) ** -0.5
POST_MEAN = Y.sum(axis=0) / (1 / 100 + len(Y))


def two_means_model():
    with pm.Model(coords={"j": [0, 1]}) as m:
        y = pm.Data("y", Y)
        mu = pm.Normal("mu", 0, 10, dims="j")
        pm.Normal("obs", mu, 1, observed=y)
    return m


def _parts(model, family_name):
    graph = logp_graph(model)
    layout = advi.Layout(graph.param_names, graph.param_shapes)
    family = advi.FAMILIES[family_name](layout)
    data = [np.asarray(v) for v in graph.data_values]

    def logp(values, data, idx):
        return graph.fn(*values, *data)[0]

    return graph, layout, family, data, logp


@pytest.mark.parametrize("family_name", ["meanfield", "fullrank"])
def test_pure_step_is_deterministic_and_converges(family_name):
    import jax
    import jax.numpy as jnp

    model = two_means_model()
    with precision_scope("float64"):
        graph, layout, family, data, logp = _parts(model, family_name)
        optimizer = make_optimizer(0.05, steps=3000, lr_schedule="cosine")
        step = jax.jit(advi.make_step(family, logp, optimizer, mc_samples=1, batch_size=None, n_rows=None))
        mu0 = [jnp.zeros(s) for s in layout.shapes]
        state = advi.init(family, mu0, init_sd=0.5, optimizer=optimizer, random_seed=1)
        assert isinstance(state, advi.ADVIState)
        a, loss_a = step(state, data)
        b, loss_b = step(state, data)  # pure: same state in, same state out
        assert float(loss_a) == float(loss_b)
        assert all(
            np.array_equal(x, y)
            for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
        )

        def body(s, _):
            return step(s, data)

        state, _ = jax.lax.scan(body, state, None, length=3000)
        moments = family.moments(state.params)
        z = advi.sample(family, state.params, jax.random.PRNGKey(0), draws=4000)
    assert z.shape == (4000, layout.dim)
    np.testing.assert_allclose(moments.mean, POST_MEAN, atol=0.03)
    np.testing.assert_allclose(moments.sd, POST_SD, rtol=0.1)
    np.testing.assert_allclose(np.asarray(z).std(axis=0), moments.sd, rtol=0.06)
    assert (moments.cholesky is None) == (family_name == "meanfield")


@dataclass(frozen=True)
class Isotropic:
    """A third family: one shared sd for every coordinate (a mean and one softplus parameter)."""

    layout: advi.Layout
    name: ClassVar[str] = "isotropic"

    def init_params(self, mu0, init_sd):
        import jax.numpy as jnp

        return {
            "mu": jnp.concatenate([m.ravel() for m in mu0]),
            "rho": jnp.asarray(advi.softplus_inv(float(np.mean(init_sd))), dtype=mu0[0].dtype),
        }

    def _sd(self, params):
        import jax

        return jax.nn.softplus(params["rho"])

    def reparameterize(self, params, eps):
        import jax.numpy as jnp

        sd = self._sd(params)
        return self.layout.unflatten(params["mu"] + eps * sd), self.layout.dim * jnp.log(sd)

    def sample(self, params, eps):
        return params["mu"] + eps * self._sd(params)

    def moments(self, params):
        sd = np.full(self.layout.dim, float(self._sd(params)))
        return advi.Moments(mean=np.asarray(params["mu"], dtype=np.float64), sd=sd)

    def nonfinite(self, params):
        return ~np.isfinite(np.asarray(params["mu"])) | (not np.isfinite(float(params["rho"])))


def test_a_third_family_plugs_into_the_same_loop(monkeypatch):
    monkeypatch.setitem(advi.FAMILIES, "isotropic", Isotropic)
    out = fit_advi_jax(
        two_means_model(),
        steps=3000,
        learning_rate=0.05,
        family="isotropic",
        draws=2000,
        progressbar=False,
        random_seed=2,
    )
    mean = np.concatenate([np.ravel(v) for v in out.mean.values()])
    sd = np.concatenate([np.ravel(v) for v in out.std.values()])
    np.testing.assert_allclose(mean, POST_MEAN, atol=0.03)
    np.testing.assert_allclose(sd, POST_SD, rtol=0.1)
    assert out.draws["mu"].shape == (1, 2000, 2) and out.steps_done == 3000


def test_unknown_family_is_refused():
    with pytest.raises(ValueError, match="family must be one of"):
        fit_advi_jax(two_means_model(), steps=10, learning_rate=0.1, family="diagonal-ish")


def test_importing_switches_no_global_jax_mode():
    """Importing the package leaves JAX's 64-bit mode alone; each computation sets its own
    precision, so a fit is float64 even when the mode is off around it. (PyTensor's JAX
    backend turns the mode on for the process when a fit first imports it: its choice.)"""
    code = """
import json, jax, numpy as np
import bnngallery, bnngallery.cli, bnngallery.models.cnn, bnngallery.models.ode, bnngallery.runs.mnist
import bnngallery.plots, bnngallery.diagnostics.compare, bnngallery.baselines.dropout_ode
from bnngallery import fit, predict
from bnngallery.data import make_moons_data
from bnngallery.models import moons
after_import = bool(jax.config.jax_enable_x64)
d = make_moons_data(200, random_state=0)
out = {}
for mode in (False, True):
    with jax.enable_x64(mode):
        r = fit(moons.build_model(d.X_train, d.y_train), "advi", steps=200, draws=20, progressbar=False)
        out[mode] = (r["fit_history"]["loss"].values, predict(moons.build_model, r, d.X_test[:5]))
print(json.dumps({"after_import": after_import, "draw_dtype": str(r.posterior["w_in"].dtype),
                  "same_history": bool(np.array_equal(out[False][0], out[True][0])),
                  "same_predictions": bool(np.array_equal(out[False][1], out[True][1]))}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res == {"after_import": False, "draw_dtype": "float64", "same_history": True, "same_predictions": True}


def test_noise_from_every_16_bit_half_is_a_standard_normal_grid():
    """Each 16-bit half k of a word stands for the normal quantile of (k + 1/2) / 2**16: over
    all 2**16 halves the draws are symmetric, have variance within 5e-4 of one and match the
    exact quantiles (the high and low halves give the same set)."""
    from scipy import stats

    k = np.arange(2**16, dtype=np.uint32)
    with precision_scope("float32"):
        z = np.asarray(noise.normals_from_bits((k << 16 | k)[None, :]), dtype=np.float64)
    assert z.shape == (2, 2**16)
    np.testing.assert_array_equal(z[0], z[1])
    np.testing.assert_allclose(z[0], stats.norm.ppf((k + 0.5) / 2**16), atol=2e-4)
    assert abs(z[0].mean()) < 1e-6
    assert 1 - 5e-4 < z[0].var() < 1
    assert 4.3 < z[0].max() < 4.4


def test_step_noise_is_independent_normals_and_uniform_rows():
    """One step's randomness from one key: normals that pass a Kolmogorov-Smirnov test and are
    uncorrelated between neighbours and between the two halves of a word; minibatch rows
    spread evenly over the data; the next key gives fresh draws."""
    import jax
    from scipy import stats

    dim, n_rows, batch = 50_001, 7, 70_000
    with precision_scope("float32"):
        key, eps, idx = noise.step_noise(
            jax.random.PRNGKey(3), np.float32, dim=dim, mc_samples=2, batch_size=batch, n_rows=n_rows
        )
        _, eps_next, _ = noise.step_noise(key, np.float32, dim=dim, mc_samples=2, batch_size=batch, n_rows=n_rows)
    eps, eps_next, idx = np.asarray(eps, np.float64), np.asarray(eps_next, np.float64), np.asarray(idx)
    assert eps.shape == (2, dim) and eps.dtype == np.float64
    flat = eps.ravel()
    assert stats.kstest(flat, "norm").pvalue > 1e-3
    assert abs(np.corrcoef(flat[:-1], flat[1:])[0, 1]) < 0.02
    # the two normals of a word: the high halves of the block fill its first `half` positions, the low ones the rest
    half = -(-flat.size // (2 * noise.NOISE_ROW)) * noise.NOISE_ROW
    assert abs(np.corrcoef(flat[: flat.size - half], flat[half:])[0, 1]) < 0.02
    assert abs(np.corrcoef(flat, eps_next.ravel())[0, 1]) < 0.02
    assert idx.min() >= 0 and idx.max() < n_rows
    assert stats.chisquare(np.bincount(idx, minlength=n_rows)).pvalue > 1e-3


@pytest.mark.parametrize("shape", [(1, 1), (3, 128), (40, 128)])
def test_threefry_bits_are_jax_random_bits(shape):
    import jax

    for seed in (0, 7, 2**31 + 5):
        key = jax.random.PRNGKey(seed)
        np.testing.assert_array_equal(
            np.asarray(noise.threefry_bits(key, shape)), np.asarray(jax.random.bits(key, shape, dtype=np.uint32))
        )


@pytest.mark.parametrize("precision", ["float32", "float64"])
def test_softplus_and_its_derivative_match_jax(precision):
    """The engine's softplus shares one exp between its value and its derivative: both must
    be jax.nn.softplus's and the sigmoid, from far in the left tail to far in the right, and
    NaN must stay NaN (the loop's NaN guard relies on it)."""
    import jax
    import jax.numpy as jnp

    with precision_scope(precision):
        x = jnp.asarray(np.concatenate([[-200.0, -30.0, 0.0, 30.0, 200.0], np.linspace(-12, 12, 241)]), precision)
        value, grad = jax.vmap(jax.value_and_grad(advi._softplus))(x)
        rtol = 1e-6 if precision == "float32" else 1e-14
        np.testing.assert_allclose(value, jax.nn.softplus(x), rtol=rtol, atol=0)
        np.testing.assert_allclose(grad, jax.nn.sigmoid(x), rtol=rtol, atol=0)
        assert value.dtype == grad.dtype == jnp.dtype(precision)
        assert np.isnan(advi._softplus(jnp.asarray(np.nan, precision)))
        assert np.isnan(jax.grad(advi._softplus)(jnp.asarray(np.nan, precision)))
