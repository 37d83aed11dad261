"""MNIST MLP and CNN builders, the convolution Op on both backends, and the smoke-size runs."""

from __future__ import annotations

import json

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bnngallery.models import cnn, mnist_mlp
from bnngallery.models.conv_ops import conv2d, conv2d_im2col, max_pool_2x2, register_jax
from bnngallery.models.info import model_info

# The PyTensor (Numba) backend runs the custom Conv2D Op's NumPy ``perform`` in object mode and
# says so; that is the intended fallback, the JAX backend compiles the real convolution.
OBJECT_MODE = "ignore:Numba will use object mode:UserWarning"
#: PyTensor's plain Python linker: compiles in a second, where Numba needs a minute for these graphs.
PY_MODE = pytensor.compile.mode.Mode(linker="py", optimizer="fast_compile")


@pytest.fixture(scope="module")
def small_mnist():
    from bnngallery.data import load_mnist

    X, y = load_mnist("train", limit=600)
    Xt, yt = load_mnist("test", limit=200)
    return X, y, Xt, yt


def test_mlp_hierarchical_structure(small_mnist):
    X, y, _, _ = small_mnist
    m = mnist_mlp.build_model(X, y, hidden=(16, 8), prior="hierarchical", batch_size=32)
    names = {rv.name for rv in m.free_RVs}
    assert {"sigma_in", "sigma_1", "sigma_out", "w_in", "w_1", "w_out", "b_in", "b_out"} <= names
    assert m.named_vars_to_dims["w_in"] == ("pixel", "hidden_0")
    assert m.named_vars_to_dims["w_out"] == ("hidden_1", "class")
    assert model_info(m).family == "mnist-mlp" and model_info(m).output == "probs"
    # the likelihood really sees a minibatch of 32 rows scaled to the full data
    from bnngallery.inference.jaxify import minibatch_nodes

    assert minibatch_nodes([m.logp()])
    assert m["probs"].type.shape[0] == 32


def test_mlp_variants(small_mnist):
    X, y, _, _ = small_mnist
    flat = mnist_mlp.build_model(X, y, hidden=(8,), hierarchical=False)
    assert not any(rv.name.startswith("sigma_") for rv in flat.free_RVs)
    nc = mnist_mlp.build_model(X, y, hidden=(8,), prior="hierarchical", noncentered=True)
    assert "w_in_raw" in {rv.name for rv in nc.free_RVs} and "w_in" in nc.named_vars
    # images as (n, 28, 28) are flattened; y=None builds a prediction model
    pred = mnist_mlp.build_model(X.reshape(-1, 28, 28), None, hidden=(8,), n_classes=10)
    assert not pred.observed_RVs or pred["y_obs"] not in pred.observed_RVs
    ip = nc.initial_point()
    assert np.isfinite(nc.compile_logp(mode=PY_MODE)(ip))


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"hidden": ()}, "hidden"),
        ({"dtype": "float16"}, "dtype"),
        ({"prior_sigma": -1}, "prior_sigma"),
        ({"prior": "laplace"}, "prior must"),
        ({"prior": "scale-mixture", "slab_weight": 1.0}, "use prior='normal'"),
        ({"prior": "scale-mixture", "spike_ratio": 0}, "spike_ratio"),
        ({"init_scale": -1}, "init_scale"),
    ],
)
def test_mlp_bad_settings(small_mnist, bad, match):
    X, y, _, _ = small_mnist
    with pytest.raises(ValueError, match=match):
        mnist_mlp.build_model(X, y, **bad)


@pytest.mark.parametrize("builder, kw", [(mnist_mlp, {"hidden": (8,)}), (cnn, {"filters": (2, 2), "dense": (4,)})])
@pytest.mark.parametrize("batch_size", [None, 40])
def test_temperature_raises_the_likelihood_to_one_over_t(small_mnist, builder, kw, batch_size):
    """A tempered posterior p(y | w) ** (1 / T) p(w): at the same point and on the same rows the
    likelihood is exactly 1 / T times the Bayes one (minibatched or not) and the prior is untouched."""
    from bnngallery.inference.jaxify import jaxify

    X, y, _, _ = small_mnist
    idx = np.arange(3, 43)
    terms = {}
    for t in (1.0, 0.25):
        m = builder.build_model(X, y, temperature=t, batch_size=batch_size, **kw)
        assert model_info(m).settings["temperature"] == t
        fn, _, data, _, _ = jaxify(m, m.value_vars, [m.logp(vars=m.observed_RVs), m.logp(vars=m.free_RVs)])
        ip = m.initial_point()
        terms[t] = [float(v) for v in fn(*[ip[v.name] for v in m.value_vars], *data, *([idx] if batch_size else []))]
    lik, prior = terms[1.0]
    assert terms[0.25] == pytest.approx([4 * lik, prior], rel=1e-9)
    with pytest.raises(ValueError, match="temperature"):
        builder.build_model(X, y, temperature=0, **kw)


@pytest.mark.parametrize("hierarchical, noncentered", [(False, False), (True, False), (True, True)])
def test_scale_mixture_prior_density(small_mnist, hierarchical, noncentered):
    """The weights' log prior is the two-component mixture density at the layer's scale."""
    from scipy import stats

    X, y, _, _ = small_mnist
    m = mnist_mlp.build_model(
        X,
        y,
        hidden=(6,),
        hierarchical=hierarchical,
        noncentered=noncentered,
        prior="scale-mixture",
        prior_sigma=0.7,
        slab_weight=0.3,
        spike_ratio=0.01,
    )
    assert model_info(m).settings["prior"] == "scale-mixture"
    point = m.initial_point()
    name = "w_in_raw" if noncentered else "w_in"
    value = np.random.default_rng(1).normal(0.0, 0.05, size=point[name].shape)
    point[name] = value
    scale = 1.0 if noncentered else (np.exp(point["sigma_in_log__"]) if hierarchical else 0.7)
    expected = np.log(0.3 * stats.norm.pdf(value, 0, scale) + 0.7 * stats.norm.pdf(value, 0, 0.01 * scale)).sum()
    logp = m.compile_logp(vars=[m[name]], jacobian=False, mode=PY_MODE)(point)
    np.testing.assert_allclose(logp, expected, rtol=1e-10)


def test_horseshoe_prior_density_and_structure(small_mnist):
    """The horseshoe: a half-Cauchy layer scale times a half-Cauchy scale per input unit,
    standard-normal raw weights, ``w = sigma * lambda_unit * raw`` (always non-centred)."""
    from scipy import stats

    X, y, _, _ = small_mnist
    m = mnist_mlp.build_model(X, y, hidden=(6,), prior="horseshoe", scale_prior=0.5)
    settings = model_info(m).settings
    assert settings["prior"] == "horseshoe" and settings["hierarchical"] and settings["noncentered"]
    assert m.named_vars_to_dims["lambda_in"] == ("pixel",) and m.named_vars_to_dims["lambda_out"] == ("hidden_0",)
    point = m.initial_point()
    rng = np.random.default_rng(2)
    point["sigma_in_log__"] = np.log(0.3)
    point["lambda_in_log__"] = rng.normal(0, 1, size=784)
    point["w_in_raw"] = rng.normal(0, 1, size=(784, 6))
    lam = np.exp(point["lambda_in_log__"])
    expected = (
        stats.halfcauchy.logpdf(0.3, scale=0.5)
        + stats.halfcauchy.logpdf(lam).sum()
        + stats.norm.logpdf(point["w_in_raw"]).sum()
    )
    rvs = [m["sigma_in"], m["lambda_in"], m["w_in_raw"]]
    logp = m.compile_logp(vars=rvs, jacobian=False, mode=PY_MODE)(point)
    np.testing.assert_allclose(logp, expected, rtol=1e-9)
    values = [m.rvs_to_values[rv] for rv in rvs]
    w_of_values = m.replace_rvs_by_values([m["w_in"]])[0]
    w = pytensor.function(values, w_of_values, mode=PY_MODE)(*[point[v.name] for v in values])
    np.testing.assert_allclose(w, 0.3 * lam[:, None] * point["w_in_raw"], rtol=1e-12)
    # the CNN's: one local scale per input channel of each convolution
    c = cnn.build_model(X[:50], y[:50], prior="horseshoe", filters=(3, 4), dense=(5,))
    assert c.named_vars_to_dims["lambda_conv_1"] == ("filter_0",) and "w_conv_1_raw" in c.named_vars
    assert np.isfinite(c.compile_logp(mode=PY_MODE)(c.initial_point()))


def test_horseshoe_scales_rank_real_features_above_appended_noise():
    """Known truth on data no other test uses: the breast-cancer features next to as many
    columns of pure noise. The horseshoe's learned input-unit scales must rank the real
    features above the noise, and the network still classify well."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.metrics import roc_auc_score

    from bnngallery import fit, predict
    from bnngallery.diagnostics.weights import learned_scales, pruned_fraction

    X, y = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(0)
    X = np.c_[X, rng.normal(size=X.shape)]  # 30 real features, then 30 of noise
    idx = rng.permutation(len(X))
    tr, te = idx[:400], idx[400:]
    m = mnist_mlp.build_model(X[tr], y[tr], hidden=(16,), activation="relu", prior="horseshoe", batch_size=64)
    result = fit(m, "advi", steps=4000, random_seed=0, progressbar=False)
    post = result["posterior"]
    unit_scale = (post["sigma_in"] * post["lambda_in"]).mean(("chain", "draw")).values
    assert roc_auc_score(np.r_[np.ones(30), np.zeros(30)], unit_scale) > 0.75
    assert np.all(np.argsort(-unit_scale)[:5] < 30)  # the five widest units are real features
    p = predict(mnist_mlp.build_model, result, X[te]).mean(0)
    assert (p.argmax(1) == y[te]).mean() > 0.93
    scales = learned_scales(result)
    assert scales["in"]["unit_max"] > 5 * scales["in"]["unit_median"]  # a few units escape the shrinkage
    assert set(pruned_fraction(result)) == {"in", "out"}


def test_pruned_fraction_reads_the_fitted_gaussian():
    import xarray as xr

    from bnngallery.diagnostics.weights import pruned_fraction

    approx = xr.Dataset(
        {
            "w_in_mean": ("a", np.array([0.0, 0.5, -2.0, 0.1])),
            "w_in_sd": ("a", np.array([1.0, 1.0, 1.0, 0.01])),
            "w_out_raw_mean": ("b", np.array([0.3, 3.0])),
            "w_out_raw_sd": ("b", np.array([1.0, 1.0])),
            "b_in_mean": ("c", np.zeros(3)),
            "b_in_sd": ("c", np.ones(3)),
        }
    )
    result = xr.DataTree.from_dict({"approximation": approx})
    assert pruned_fraction(result) == {"in": 0.5, "out": 0.5}


def test_default_initial_scale_depends_on_the_prior(small_mnist):
    X, y, _, _ = small_mnist
    for prior, scale in [("normal", 1.0), ("scale-mixture", 0.1)]:
        m = mnist_mlp.build_model(X, y, hidden=(200,), prior=prior)
        assert model_info(m).settings["init_scale"] == scale
        assert m.initial_point()["w_in"].std() == pytest.approx(scale / np.sqrt(784), rel=0.05)
    m = mnist_mlp.build_model(X, y, hidden=(200,), prior="scale-mixture", init_scale=0.5)
    assert m.initial_point()["w_in"].std() == pytest.approx(0.5 / np.sqrt(784), rel=0.05)


def test_mlp_rejects_bad_labels(small_mnist):
    X, _, _, _ = small_mnist
    with pytest.raises(ValueError, match="labels"):
        mnist_mlp.build_model(X, np.full(len(X), 11), n_classes=10)


def test_conv_op_matches_im2col_jax_and_its_gradient():
    import jax

    rng = np.random.default_rng(0)
    xv = rng.normal(size=(2, 3, 8, 8))
    wv = rng.normal(size=(4, 3, 3, 3))
    x = pt.tensor4("x")
    w = pt.tensor("w", shape=(4, 3, 3, 3))
    f = pytensor.function([x, w], [conv2d(x, w), conv2d_im2col(x, w, kernel=(3, 3))], mode=PY_MODE)
    a, b = f(xv, wv)
    ref = jax.lax.conv_general_dilated(xv, wv, (1, 1), "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW"))
    np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_allclose(a, np.asarray(ref), atol=1e-12)
    pytensor.gradient.verify_grad(conv2d, [xv, wv], rng=rng, mode=PY_MODE)
    # the same graph with its PyTensor gradient, compiled by JAX, agrees with the Python backend
    cost = (pt.tanh(max_pool_2x2(conv2d(x, w), channels=4, height=6, width=6)) ** 2).sum()
    outs = [cost, *pytensor.grad(cost, [x, w])]
    register_jax()  # PyTensor's own JAX mode needs the Op's dispatch registered (fit and predict do it)
    jx = pytensor.function([x, w], outs, mode="JAX")(xv, wv)
    py = pytensor.function([x, w], outs, mode=PY_MODE)(xv, wv)
    for u, v in zip(jx, py, strict=True):
        np.testing.assert_allclose(np.asarray(u), v, rtol=1e-10, atol=1e-10)


def test_max_pool_2x2():
    x = pt.tensor4("x")
    v = np.arange(16.0).reshape(1, 1, 4, 4)
    out = pytensor.function([x], max_pool_2x2(x, channels=1, height=4, width=4), mode=PY_MODE)(v)
    np.testing.assert_array_equal(out[0, 0], [[5, 7], [13, 15]])


def test_jax_path_compiles_a_real_convolution(small_mnist):
    import jax

    from bnngallery.inference.jaxify import logp_graph

    X, y, _, _ = small_mnist
    m = cnn.build_model(X[:64], y[:64], filters=(4, 4), dense=(8,), conv_impl="op", batch_size=16)
    g = logp_graph(m)
    ip = m.initial_point()
    params = [np.asarray(ip[n]) for n in g.param_names]
    hlo = jax.jit(lambda *a: g.fn(*a)[0]).lower(*params, *g.data_values, np.arange(16)).as_text()
    assert "convolution" in hlo


@pytest.mark.filterwarnings(OBJECT_MODE)
@pytest.mark.parametrize(
    "impl, mode",
    [
        ("op", PY_MODE),
        pytest.param("im2col", PY_MODE, marks=pytest.mark.slow),
        pytest.param("op", None, marks=pytest.mark.slow),
        pytest.param("im2col", None, marks=pytest.mark.slow),
    ],
)
def test_cnn_logp_on_pytensor_backend_matches_jax(small_mnist, impl, mode):
    """Forward + logp + gradient on PyTensor's own backends (Python linker; Numba, the default, is slow)."""
    import jax

    from bnngallery.inference.jaxify import logp_graph

    X, y, _, _ = small_mnist
    m = cnn.build_model(X[:20], y[:20], filters=(3, 2), dense=(5,), conv_impl=impl, dtype="float64")
    ip = m.initial_point()
    lp_pt = m.compile_logp(mode=mode)(ip)
    dlogp = m.compile_dlogp(mode=mode)(ip)
    g = logp_graph(m)
    lp_jax = float(jax.jit(lambda *a: g.fn(*a)[0])(*[ip[n] for n in g.param_names], *g.data_values))
    assert np.isfinite(lp_pt) and np.all(np.isfinite(dlogp))
    assert lp_jax == pytest.approx(float(lp_pt), rel=1e-9)


def test_cnn_structure_and_bad_settings(small_mnist):
    X, y, _, _ = small_mnist
    m = cnn.build_model(X.reshape(-1, 28, 28), y, **cnn.ARTICLE, batch_size=32)
    assert m.named_vars_to_dims["w_conv_0"] == ("filter_0", "channel_in", "kernel_row", "kernel_col")
    assert tuple(m.initial_point()["w_conv_1"].shape) == (32, 32, 5, 5)
    assert m.initial_point()["w_dense_0"].shape == (512, 256)
    with pytest.raises(ValueError, match="at least 2x2"):
        cnn.build_model(X, y, filters=(4, 4, 4), padding="valid")
    # "same" padding (the default) keeps the size, so three blocks fit 28x28: 28 -> 14 -> 7 -> 3
    assert cnn.build_model(X, y, filters=(4, 4, 4)).initial_point()["w_dense_0"].shape == (4 * 3 * 3, 256)
    with pytest.raises(ValueError, match="conv_impl"):
        cnn.build_model(X, y, conv_impl="fft")
    # "auto" resolves to the faster implementation for the JAX engine here and is stored as such
    import jax

    want = "op" if jax.default_backend() == "gpu" else "im2col"
    assert cnn.resolve_conv_impl("auto") == want and cnn.resolve_conv_impl("auto", "pytensor") == "im2col"
    assert cnn.resolve_conv_impl("op") == "op"
    assert model_info(cnn.build_model(X, y, filters=(2,), dense=(3,))).settings["conv_impl"] == want
    with pytest.raises(ValueError, match="not a square image"):
        cnn.build_model(X[:, :99], y)
    with pytest.raises(ValueError, match="prior must"):
        cnn.build_model(X, y, prior="cauchy")
    mix = cnn.build_model(X, y, filters=(4, 4), dense=(8,), prior="scale-mixture", batch_size=32)
    assert model_info(mix).settings["prior"] == "scale-mixture"
    assert type(mix["w_conv_0"].owner.op).__name__ == "MixtureRV"
    assert np.isfinite(mix.compile_logp(mode=PY_MODE)(mix.initial_point()))


def test_mlp_fit_and_predict_in_chunks(small_mnist):
    from bnngallery import fit, predict

    X, y, Xt, _ = small_mnist
    # 600 images are too few for the hierarchical scales (they shrink every weight to 0 at
    # first); the fixed-prior variant learns from them in a few hundred steps
    m = mnist_mlp.build_model(X, y, hidden=(32, 32), hierarchical=False, batch_size=64)
    r = fit(m, "advi", steps=300, learning_rate=0.02, init_sd=1e-3, draws=12, progressbar=False)
    p = predict(mnist_mlp.build_model, r, Xt, chunk_rows=64, chunk_draws=5)
    assert p.shape == (12, len(Xt), 10) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-5)
    assert (p.mean(0).argmax(1) == small_mnist[3]).mean() > 0.3  # chance is 0.1


def test_scale_mixture_result_predicts_and_old_results_still_do(small_mnist):
    """A fit under the mixture rebuilds as the mixture; a result saved before the prior options
    existed (no prior/init_scale keys) rebuilds as the Normal-prior network it was."""
    import json

    from bnngallery import fit, predict
    from bnngallery.predict import prediction_model

    X, y, Xt, _ = small_mnist
    m = mnist_mlp.build_model(
        X, y, hidden=(16,), hierarchical=False, prior_sigma=1.0, prior="scale-mixture", batch_size=64
    )
    r = fit(m, "advi", steps=100, learning_rate=0.01, init_sd=1e-3, draws=8, progressbar=False)
    rebuilt = prediction_model(mnist_mlp.build_model, r, Xt[:20])
    assert model_info(rebuilt).settings == {**model_info(m).settings, "batch_size": None}
    assert type(rebuilt["w_in"].owner.op).__name__ == "MixtureRV"
    p = predict(mnist_mlp.build_model, r, Xt[:20])
    assert p.shape == (8, 20, 10)

    old = mnist_mlp.build_model(X, y, hidden=(16,), hierarchical=False, batch_size=64)
    r_old = fit(old, "advi", steps=20, learning_rate=0.01, init_sd=1e-3, draws=4, progressbar=False)
    expected = predict(mnist_mlp.build_model, r_old, Xt[:20])
    legacy = {
        k: v
        for k, v in json.loads(r_old.attrs["model_settings"]).items()
        if k not in ("prior", "slab_weight", "spike_ratio", "init_scale")
    }
    r_old.attrs["model_settings"] = json.dumps(legacy)
    assert model_info(prediction_model(mnist_mlp.build_model, r_old, Xt[:20])).settings["prior"] == "normal"
    np.testing.assert_array_equal(predict(mnist_mlp.build_model, r_old, Xt[:20]), expected)


def test_mnist_settings_merge_overrides_without_touching_the_table():
    from bnngallery.runs.mnist import mnist_settings
    from bnngallery.runs.settings import SETTINGS

    before = json.dumps(SETTINGS, default=str)
    s = mnist_settings("mnist-mlp", overrides={"steps": 7, "model": {"hidden": (5,), "prior": "normal"}})
    assert s["steps"] == 7 and s["model"]["hidden"] == (5,) and s["model"]["prior"] == "normal"
    assert s["model"]["activation"] == SETTINGS["mnist-mlp"]["full"]["model"]["activation"]
    assert mnist_settings("mnist-cnn", smoke=True)["n_train"] == SETTINGS["mnist-cnn"]["smoke"]["n_train"]
    s["model"]["hidden"] = (3,)  # a copy: changing it leaves the table alone
    assert json.dumps(SETTINGS, default=str) == before
    with pytest.raises(ValueError, match="family must be one of"):
        mnist_settings("mnist-rnn")


def test_advi_options_are_the_fit_keywords_of_the_settings():
    from bnngallery.runs.mnist import mnist_settings
    from bnngallery.runs.settings import advi_options

    s = mnist_settings("mnist-mlp", overrides={"steps": 7, "mc_samples": 2})
    assert advi_options(s) == {
        "steps": 7,
        "learning_rate": s["learning_rate"],
        "init_sd": s["init_sd"],
        "mc_samples": 2,
        "draws": s["advi_draws"],
        "precision": "float32",
    }
    assert advi_options(s, backend="pytensor")["precision"] == "float64"


def test_cnn_fit_and_predict(small_mnist):
    from bnngallery import fit, predict

    X, y, Xt, _ = small_mnist
    m = cnn.build_model(X, y, filters=(4, 4), dense=(16,), batch_size=32)
    r = fit(m, "advi", steps=40, learning_rate=0.01, init_sd=1e-3, draws=6, progressbar=False)
    p = predict(cnn.build_model, r, Xt[:50], chunk_rows=20)
    assert p.shape == (6, 50, 10)
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-5)


def test_run_mnist_mlp_smoke_writes_metrics(tmp_path):
    from bnngallery.runs import get_runner

    logs = []
    # article A's hierarchical prior, whose learned layer scales metrics.json reports
    # (and two Monte Carlo samples of the ELBO per step, passed through to the engine), scored
    # on held-out training images
    hier = {"mc_samples": 2, "holdout": 200, "model": {"prior": "normal", "hierarchical": True, "init_scale": None}}
    metrics = get_runner("mnist-mlp")(
        methods=("advi", "nuts"), smoke=True, out_dir=tmp_path, progressbar=False, log=logs.append, settings=hier
    )
    saved = json.loads((tmp_path / "metrics.json").read_text())
    row = saved["runs"][0]
    for key in (
        "test_accuracy",
        "test_nll",
        "ece",
        "accuracy_at_95pct_kept",
        "fit_seconds",
        "compile_seconds",
        "ood_auroc",
        "ood_flagged_at_p99",
        "learned_scales",
    ):
        assert key in row
    assert set(row["ood_auroc"]["fashion-mnist"]) == {"max_prob", "std", "entropy", "mutual_info", "chi2"}
    assert set(row["learned_scales"]) == {"in", "1", "out"}
    assert set(row["ood_auroc"]) == {"fashion-mnist", "kmnist"}  # both OOD sets by default
    assert set(row["pruned_fraction"]) == {"in", "1", "out"}
    assert all(0 <= v <= 1 for v in row["pruned_fraction"].values())
    from bnngallery.runs.settings import MLP_TEMPERATURE

    assert row["model_settings"]["temperature"] == MLP_TEMPERATURE != 1  # the tempered posterior reaches the builder
    assert len(saved["runs"]) == 1 and "NUTS skipped" in saved["notes"][0]
    assert row["scored_on"] == "holdout" and "800 training / 200 held-out training" in logs[0]
    assert metrics["model"] == "mnist-mlp"
    from bnngallery.results import load_result, settings_of

    assert settings_of(load_result(tmp_path / "advi.nc"))["mc_samples"] == 2
    figures = ("confusion", "reliability", "referral", "ood_entropy", "most_uncertain", "weights")
    for fig in figures:
        assert (tmp_path / f"{fig}.png").exists()


def test_run_mnist_mlp_smoke_takes_last_layer_laplace(tmp_path):
    """The MNIST runs' Laplace covers the output layer only; the horseshoe's scales stay at
    the MAP, so every draw holds the same scale (the weights figure once crashed on that)."""
    from bnngallery.results import load_result, settings_of
    from bnngallery.runs import get_runner

    get_runner("mnist-mlp")(methods=("laplace",), smoke=True, out_dir=tmp_path, progressbar=False, log=lambda _: None)
    result = load_result(tmp_path / "laplace.nc")
    assert settings_of(result)["subset"] == ["w_out_raw", "b_out"]
    post = result.posterior
    assert np.ptp(post["sigma_in"].values) == 0 and np.ptp(post["w_out_raw"].values, axis=(0, 1)).min() > 0
    row = json.loads((tmp_path / "metrics.json").read_text())["runs"][0]
    assert row["method"] == "laplace" and row["test_accuracy"] > 0.5
    assert (tmp_path / "weights.png").exists()


def test_ood_set_by_path(tmp_path):
    from bnngallery.runs.mnist import load_ood

    out = load_ood(["kmnist"], limit=5)
    assert out["kmnist"].shape == (5, 784)
    with pytest.raises(ValueError, match="unknown data set"):
        load_ood(["no-such-set"], limit=5)


@pytest.mark.slow
def test_nuts_is_available_on_a_small_subset(small_mnist):
    """NUTS (NumPyro) on a tiny hierarchical MLP and 200 images: the practical scale for a check.

    On the full data and the article's widths NUTS is not practical (every gradient is a pass
    over 60k images and hundreds of thousands of weights); the MNIST runs skip it.
    """
    from bnngallery import fit, predict

    X, y, Xt, yt = small_mnist
    m = mnist_mlp.build_model(X[:200], y[:200], hidden=(4,), prior="hierarchical")
    r = fit(m, "nuts", draws=50, tune=50, chains=1, progressbar=False)
    p = predict(mnist_mlp.build_model, r, Xt)
    assert p.shape == (50, len(Xt), 10)
    assert (p.mean(0).argmax(1) == yt).mean() > 0.2


def test_mnist_benchmark_names_variants_and_pins_the_article_nets_on_gpu(tmp_path, monkeypatch, benchmark_script):
    from pathlib import Path

    mnist_full = benchmark_script("mnist_full")
    seen = []

    def fake_run(*, out_dir, random_seed, progressbar, settings):
        seen.append((Path(out_dir).name, settings))
        return {"runs": [], "settings": settings}

    monkeypatch.setattr(mnist_full, "RUNS", {"mlp": ("mnist-mlp", fake_run), "cnn": ("mnist-cnn", fake_run)})
    results = tmp_path / "r.json"
    mnist_full.main(["--only", "mlp", "--variant", "hierarchical", "--results", str(results), "--out", str(tmp_path)])
    mnist_full.main(
        ["--only", "cnn", "--preset", "gpu", "--tag", "gpu", "--results", str(results), "--out", str(tmp_path)]
    )
    mnist_full.main(
        [
            "--only",
            "mlp",
            "--variant",
            "untempered",
            "--preset",
            "gpu",
            "--results",
            str(results),
            "--out",
            str(tmp_path),
        ]
    )
    table = json.loads(results.read_text())
    # a variant never overwrites the default
    assert set(table) == {"mnist-mlp-hierarchical", "mnist-cnn-gpu", "mnist-mlp-untempered"}
    (out_mlp, mlp), (out_cnn, cnn_settings), (out_bayes, bayes) = seen
    assert out_mlp == "mnist-mlp-hierarchical" and out_cnn == "mnist-cnn-gpu" and out_bayes == "mnist-mlp-untempered"
    assert mlp["model"]["prior"] == "normal" and mlp["model"]["hierarchical"] is True
    # the prior variants and the article nets are the Bayes posterior, whatever the MLP's default T
    assert mlp["model"]["temperature"] == bayes["model"]["temperature"] == cnn_settings["model"]["temperature"] == 1
    assert bayes["model"]["hidden"] == (800, 800) and bayes["model"]["activation"] == "tanh"
    assert cnn_settings["model"]["activation"] == "tanh" and cnn_settings["model"]["prior"] == "normal"


def test_holdout_scores_on_the_last_training_images_not_the_test_set():
    from bnngallery.data import load_mnist
    from bnngallery.runs.mnist import load_mnist_splits

    X, y, Xv, yv = load_mnist_splits(n_train=500, holdout=100)
    X_all, y_all = load_mnist("train", limit=500)
    assert len(X) == 400 and np.array_equal(Xv, X_all[400:]) and np.array_equal(yv, y_all[400:])
    assert np.array_equal(X, X_all[:400])
    for bad in (0, 500, 2.5, True):
        with pytest.raises(ValueError, match="holdout must be"):
            load_mnist_splits(n_train=500, holdout=bad)


def test_temperature_benchmark_chooses_by_held_out_nll(tmp_path, benchmark_script):
    mnist_temperature = benchmark_script("mnist_temperature")
    nll = {1.0: 0.08, 0.5: 0.06, 0.25: 0.07}
    seen = []

    def fake_run(*, out_dir, random_seed, progressbar, settings):
        seen.append(settings)
        t = settings["model"]["temperature"]
        row = dict.fromkeys(mnist_temperature.REPORTED, 0.5) | {"test_nll": nll[t]}
        return {"runs": [row], "settings": settings}

    out = tmp_path / "t.json"
    table = mnist_temperature.main(
        ["--temperatures", "1", "0.5", "0.25", "--results", str(out), "--out", str(tmp_path)], run=fake_run
    )
    assert table["chosen_temperature"] == 0.5
    assert all(s["holdout"] == mnist_temperature.HOLDOUT for s in seen)  # never scored on the test set
    assert json.loads(out.read_text())["chosen_temperature"] == 0.5
