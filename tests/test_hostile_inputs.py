"""A hostile new user: bad input to every public entry point, each case under a time limit.

Tables, one per entry point: the builders of every family, ``fit``, ``predict``, save/load,
the data generators and loaders, the diagnostics and the CLI. Each case asserts the exact
outcome: the error type and that its message names the argument (and, where there is one,
the fix), or the correct result for input that only looks odd. A Hypothesis pass over the
shared validation checks that arbitrary arrays either build a model or raise ValueError.
No case may hang: the module runs under pytest-timeout (``pytestmark`` below).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bnngallery import fit, load_result, predict, save_result
from bnngallery.data import fetch_file, load_idx_dataset, load_mnist, make_moons_data
from bnngallery.data.ode import make_decay_data, make_lotka_volterra_data
from bnngallery.data.regression import make_regression_data
from bnngallery.data.sklearn_sets import load_reuse_set
from bnngallery.diagnostics import uncertainty
from bnngallery.models import get_builder
from bnngallery.models.info import model_info
from bnngallery.results import ResultFormatError

#: No case may hang: every test of this module is stopped (and failed) past this many seconds.
pytestmark = pytest.mark.timeout(120)

Z1 = np.zeros((3, 1))
IMG = np.zeros((3, 784))
T3 = np.array([0.0, 1.0, 2.0])

# (family, case, args, kwargs, argument the message must name)
BUILDER_CASES = [
    ("moons", "X 3-D", (np.zeros((3, 2, 1)), [0, 1, 0]), {}, "X"),
    ("moons", "X has NaN", (np.array([[np.nan, 0.0]] * 3), [0, 1, 0]), {}, "X"),
    ("moons", "labels 0/1/2", (np.zeros((3, 2)), [0, 1, 2]), {}, "y"),
    ("moons", "y shorter than X", (np.zeros((3, 2)), [0, 1]), {}, "y"),
    ("moons", "string labels", (np.zeros((3, 2)), ["a", "b", "a"]), {}, "y"),
    ("moons", "batch larger than data", (np.zeros((3, 2)), [0, 1, 0]), {"batch_size": 4}, "batch_size"),
    ("moons", "negative prior sd", (np.zeros((3, 2)), [0, 1, 0]), {"prior_sigma": 0}, "prior_sigma"),
    ("regression", "X 1-D", (np.zeros(5), np.zeros(5)), {}, "X"),
    ("regression", "X has NaN", (np.array([[np.nan], [1.0]]), np.zeros(2)), {}, "X"),
    ("regression", "y has NaN", (np.zeros((2, 1)), np.array([0.0, np.nan])), {}, "y"),
    ("regression", "lengths differ", (Z1, np.zeros(2)), {}, "y"),
    ("regression", "empty", (np.zeros((0, 1)), np.zeros(0)), {}, "X"),
    ("regression", "batch larger than data", (Z1, np.zeros(3)), {"batch_size": 5}, "batch_size"),
    ("regression", "zero width", (Z1, np.zeros(3)), {"hidden": (0,)}, "hidden"),
    ("regression", "unknown activation", (Z1, np.zeros(3)), {"activation": "foo"}, "activation"),
    ("ode", "t unsorted", (np.array([2.0, 1.0, 3.0]), np.ones(3)), {}, "t"),
    ("ode", "t has NaN", (np.array([0.0, np.nan, 2.0]), np.ones(3)), {}, "t"),
    ("ode", "y length", (T3, np.ones(2)), {}, "y"),
    ("ode", "y has inf", (T3, np.array([1.0, np.inf, 1.0])), {}, "y"),
    ("ode", "t 2-D", (np.zeros((3, 2)), np.ones(3)), {}, "t"),
    ("ode", "t empty", (np.zeros(0), np.zeros(0)), {}, "t"),
    ("mnist-mlp", "X 1-D", (np.zeros(784), np.zeros(1)), {}, "X"),
    ("mnist-mlp", "label 10 of 10 classes", (IMG, np.array([0, 1, 10])), {"n_classes": 10}, "y"),
    ("mnist-mlp", "a single class", (IMG, np.zeros(3)), {}, "y"),
    ("mnist-mlp", "n_classes 1", (IMG, np.zeros(3)), {"n_classes": 1}, "n_classes"),
    ("mnist-mlp", "no n_classes to predict", (IMG, None), {}, "n_classes"),
    ("mnist-mlp", "X has NaN", (np.full((2, 784), np.nan), np.zeros(2)), {}, "X"),
    ("mnist-mlp", "lengths differ", (IMG, np.zeros(2)), {}, "y"),
    ("mnist-mlp", "integer dtype", (IMG, np.zeros(3)), {"dtype": "int8"}, "dtype"),
    ("mnist-cnn", "rows not square", (np.zeros((3, 20)), np.arange(3)), {}, "X"),
    ("mnist-cnn", "wrong channel count", (np.zeros((3, 8, 8, 3)), np.arange(3)), {"image_shape": (8, 8, 1)}, "X"),
    ("mnist-cnn", "too small for valid", (np.zeros((3, 6, 6)), np.arange(3)), {"padding": "valid"}, "padding"),
    ("mnist-cnn", "even kernel, same", (np.zeros((3, 8, 8)), np.arange(3)), {"kernel": 4}, "padding"),
    ("mnist-cnn", "feature scaling", (np.zeros((3, 8, 8)), np.arange(3)), {"standardize": "feature"}, "standardize"),
    ("moons", "3 classes", (np.zeros((3, 2)), np.arange(3)), {}, "y"),
    (
        "moons",
        "x_scale for 3 features",
        (np.zeros((3, 2)), np.arange(3) % 2),
        {"x_loc": [0, 0, 0], "x_scale": [1, 1, 1]},
        "x_loc",
    ),
    ("moons", "batch_size 0", (np.zeros((3, 2)), np.arange(3) % 2), {"batch_size": 0}, "batch_size"),
    ("regression", "prior unknown", (np.zeros((3, 2)), np.zeros(3)), {"prior": "laplace"}, "prior"),
    ("mnist-cnn", "label -1", (np.zeros((3, 28, 28)), np.array([0, -1, 2])), {}, "y"),
    ("mnist-cnn", "X has inf", (np.full((2, 28, 28), np.inf), np.zeros(2)), {}, "X"),
    ("mnist-cnn", "lengths differ", (np.zeros((3, 28, 28)), np.zeros(4)), {}, "y"),
    ("moons", "bias as a string", (np.zeros((3, 2)), np.arange(3) % 2), {"bias": "no"}, "bias"),
    ("mnist-mlp", "hierarchical as 1", (IMG, np.arange(3)), {"hierarchical": 1}, "hierarchical"),
    (
        "mnist-cnn",
        "noncentered as a string",
        (np.zeros((3, 8, 8)), np.arange(3)),
        {"noncentered": "yes"},
        "noncentered",
    ),
    ("mnist-cnn", "temperature 0", (np.zeros((3, 8, 8)), np.arange(3)), {"temperature": 0}, "temperature"),
]


@pytest.mark.parametrize(
    "family,case,args,kwargs,argument", BUILDER_CASES, ids=[f"{c[0]}: {c[1]}" for c in BUILDER_CASES]
)
def test_builders_reject_bad_input(family, case, args, kwargs, argument):
    with pytest.raises(ValueError) as info:
        get_builder(family)(*args, **kwargs)
    assert_names(str(info.value), argument)


def assert_names(message: str, argument: str) -> None:
    """The message names ``argument`` as a word (``X must``, ``... draws=0``, ``'w_in'``) and
    is written for a user, not a PyTensor / NumPy / JAX internal."""
    assert re.search(rf"(^|[\s'`(\[-]){re.escape(argument)}([\s'`=:),.\]]|$)", message), (argument, message)
    internals = ("Traceback", "Apply node", "TensorType", "SeedSequence", "object has no attribute")
    assert not any(s in message for s in internals), message


def _small_models():
    rng = np.random.default_rng(0)
    X2 = rng.normal(size=(40, 2))
    y2 = (X2[:, 0] > 0).astype(int)
    return {
        "moons": get_builder("moons")(X2, y2, batch_size=10),
        "regression": get_builder("regression")(X2[:, :1], X2[:, 1], batch_size=10),
        "ode": get_builder("ode")(np.linspace(0, 5, 8), 5 * np.exp(-0.4 * np.linspace(0, 5, 8))),
    }


FIT_CASES = [
    (dict(method="hmc"), "method"),
    (dict(backend="numba"), "backend"),
    (dict(steps=-5), "steps"),
    (dict(learning_rate=-0.1), "learning_rate"),
    (dict(mc_samples=0), "mc_samples"),
    (dict(chunk_size=0), "chunk_size"),
    (dict(steps=1.5), "steps"),
    (dict(learning_rate=float("nan")), "learning_rate"),
    (dict(draws=0), "draws"),
    (dict(restarts=0), "restarts"),
    (dict(init_sd=-1.0), "init_sd"),
    (dict(devices=0), "devices"),
    (dict(precision="float16"), "precision"),
    (dict(lr_schedule="step"), "lr_schedule"),
    (dict(sampler="stan"), "sampler"),
    (dict(sampler="numpyro"), "sampler"),  # a NUTS option given to ADVI
    (dict(random_seed=-1), "random_seed"),
    (dict(random_seed=1.5), "random_seed"),
    (dict(random_seed="0"), "random_seed"),
    (dict(random_seed=True), "random_seed"),
    (dict(random_seed=2**40), "random_seed"),
    (dict(backend="pytensor", lr_schedule="cosine"), "lr_schedule"),
    (dict(method="nuts", target_accept=1.0), "target_accept"),
    (dict(method="nuts", target_accept="high"), "target_accept"),
    (dict(method="nuts", tune=-1), "tune"),
    (dict(method="nuts", chains=0), "chains"),
    (dict(method="nuts", restarts=2), "restarts"),
    (dict(method="nuts", precision="float32"), "precision"),
    (dict(backend="pytensor", precision="float32"), "precision"),
]


@pytest.mark.parametrize("family", ["moons", "regression", "ode"])
@pytest.mark.parametrize("kwargs,argument", FIT_CASES, ids=[a for _, a in FIT_CASES])
def test_fit_rejects_bad_options_for_every_family(family, kwargs, argument, small_models):
    kwargs = dict(kwargs)
    method = kwargs.pop("method", "advi")
    with pytest.raises(ValueError) as info:
        fit(small_models[family], method, progressbar=False, **kwargs)
    assert_names(str(info.value), argument)


@pytest.fixture(scope="module")
def small_models():
    return _small_models()


@pytest.mark.parametrize("family", ["moons", "regression"])
def test_nuts_on_a_minibatch_model_names_the_fix(family, small_models):
    with pytest.raises(ValueError, match="batch_size=None for NUTS"):
        fit(small_models[family], "nuts", progressbar=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    X=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=64),
    ),
    y=hnp.arrays(np.int64, st.integers(0, 7), elements=st.integers(-2, 3)),
)
def test_moons_builder_fuzz_only_raises_valueerror(X, y):
    try:
        model = get_builder("moons")(X, y)
    except ValueError:
        return
    # it built: then the input really was valid
    assert X.ndim == 2 and len(X) == len(y) > 0 and np.isfinite(X).all() and set(np.unique(y)) <= {0, 1}
    assert model_info(model).family == "moons"


def test_missing_optional_dependency_names_the_install_command(monkeypatch, small_models):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "numpyro" else real(name, *a))
    m = get_builder("moons")(np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 2)
    with pytest.raises(ImportError, match=r"numpyro.*pip install"):
        fit(m, "nuts", progressbar=False)


def test_generic_builder_calls_keep_misspelt_settings_loud():
    """call_builder drops only batch_size / random_seed for builders without them."""
    from bnngallery.data.ode import make_decay_data
    from bnngallery.models import call_builder, ode

    d = make_decay_data()
    model = call_builder(ode.build_model, d.t, d.y, batch_size=None, random_seed=0)  # the ODE has neither
    assert model_info(model).family == "ode"
    with pytest.raises(TypeError, match="r_scal"):
        call_builder(ode.build_model, d.t, d.y, r_scal=2.0)


def test_run_settings_refuse_unknown_keys():
    from bnngallery.runs.settings import run_settings

    with pytest.raises(ValueError, match=r"Unknown setting\(s\) \['drawz'\] for the moons run"):
        run_settings("moons", overrides={"drawz": 10})


# --- predict, save / load --------------------------------------------------------------------

X4 = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [1.0, 2.0]])
Y4 = np.array([0, 1, 0, 1])


@pytest.fixture(scope="module")
def fitted():
    """A small moons fit: 20 posterior draws of a (5, 5) tanh net on four points."""
    return fit(get_builder("moons")(X4, Y4), "advi", steps=50, draws=20, progressbar=False, check_collapse=False)


def _moons_predict(**kwargs):
    X = kwargs.pop("X", X4)
    return lambda r, tmp: predict(get_builder("moons"), r, X, **kwargs)


def _saved(r, tmp):
    return save_result(r, tmp / "fit.nc")


def _write(tmp, name, data: bytes):
    (tmp / name).write_bytes(data)
    return tmp / name


# (case, call(result, tmp_path), error type, argument named or ~regex the message must match)
RESULT_CASES = [
    ("predict draws 0", _moons_predict(draws=0), ValueError, "draws"),
    ("predict draws -1", _moons_predict(draws=-1), ValueError, "draws"),
    ("predict draws 2.5", _moons_predict(draws=2.5), ValueError, "draws"),
    ("predict more draws than stored", _moons_predict(draws=10**6), ValueError, "draws"),
    ("predict chunk_rows 0", _moons_predict(chunk_rows=0), ValueError, "chunk_rows"),
    ("predict chunk_draws -3", _moons_predict(chunk_draws=-3), ValueError, "chunk_draws"),
    ("predict random_seed -1", _moons_predict(draws=5, random_seed=-1), ValueError, "random_seed"),
    ("predict random_seed 'x'", _moons_predict(draws=5, random_seed="x"), ValueError, "random_seed"),
    ("predict random_seed 1.5", _moons_predict(random_seed=1.5), ValueError, "random_seed"),
    ("predict unknown output", _moons_predict(output="logits"), ValueError, "output"),
    ("predict X with 3 columns", _moons_predict(X=np.zeros((4, 3))), ValueError, "X"),
    ("predict X 1-D", _moons_predict(X=np.zeros(4)), ValueError, "X"),
    ("predict X with NaN", _moons_predict(X=np.full((2, 2), np.nan)), ValueError, "X"),
    ("predict X empty", _moons_predict(X=np.zeros((0, 2))), ValueError, "X"),
    ("predict X of strings", _moons_predict(X=np.array([["a", "b"]])), ValueError, "X"),
    ("predict a dict as result", lambda r, tmp: predict(get_builder("moons"), {"w_in": 1}, X4), ValueError, "result"),
    ("predict a name as builder", lambda r, tmp: predict("moons", r, X4), ValueError, "~pm.Model or a builder"),
    (
        "predict with the regression builder",
        lambda r, tmp: predict(get_builder("regression"), r, X4[:, :1]),
        ValueError,
        r"~fit of the 'moons' model, not 'regression'",
    ),
    (
        "predict with another activation",
        lambda r, tmp: predict(get_builder("moons")(X4, Y4, activation="relu"), r, X4),
        ValueError,
        "activation",
    ),
    (
        "predict with more hidden units",
        lambda r, tmp: predict(get_builder("moons")(X4, Y4, hidden=(6, 5)), r, X4),
        ValueError,
        "hidden",
    ),
    ("save a plain DataTree", lambda r, tmp: save_result(xr.DataTree(), tmp / "x.nc"), ValueError, "~not a bnngallery"),
    ("save a dict", lambda r, tmp: save_result({"posterior": 1}, tmp / "x.nc"), ValueError, "result"),
    ("save onto a folder", lambda r, tmp: save_result(r, tmp), IsADirectoryError, "path"),
    ("save with a None path", lambda r, tmp: save_result(r, None), ValueError, "path"),
    ("load a missing file", lambda r, tmp: load_result(tmp / "nope.nc"), FileNotFoundError, "~No saved result"),
    ("load an empty file", lambda r, tmp: load_result(_write(tmp, "e.nc", b"")), ResultFormatError, "~re-run the fit"),
    ("load a text file", lambda r, tmp: load_result(_write(tmp, "t.nc", b"hello")), ResultFormatError, "~re-run"),
    ("load a folder", lambda r, tmp: load_result(tmp), IsADirectoryError, "path"),
    (
        "load a truncated file",
        lambda r, tmp: load_result(_write(tmp, "cut.nc", _saved(r, tmp).read_bytes()[:2000])),
        ResultFormatError,
        "~re-run the fit",
    ),
    (
        "load expecting another family",
        lambda r, tmp: load_result(_saved(r, tmp), expect_family="regression"),
        ResultFormatError,
        r"~model 'moons', not 'regression'",
    ),
    (
        "load expecting other settings",
        lambda r, tmp: load_result(_saved(r, tmp), expect_model_settings={"activation": "relu"}),
        ResultFormatError,
        "activation",
    ),
]


def check_message(message: str, expect: str) -> None:
    if expect.startswith("~"):
        assert re.search(expect[1:], message), (expect, message)
    else:
        assert_names(message, expect)


@pytest.mark.parametrize("case,call,error,expect", RESULT_CASES, ids=[c[0] for c in RESULT_CASES])
def test_predict_save_and_load_refuse_bad_input(case, call, error, expect, fitted, tmp_path):
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(error) as info:
        call(fitted, tmp_path)
    check_message(str(info.value), expect)
    if case.startswith("save"):  # a refused save leaves nothing behind
        assert sorted(p.name for p in tmp_path.iterdir()) == before


# --- the data sets -----------------------------------------------------------------------------

DATA_CASES = [
    ("moons n_samples 3", lambda: make_moons_data(3), "n_samples"),
    ("moons n_samples 1.5", lambda: make_moons_data(1.5), "n_samples"),
    ("moons noise -1", lambda: make_moons_data(noise=-1.0), "noise"),
    ("moons noise NaN", lambda: make_moons_data(noise=float("nan")), "noise"),
    ("moons test_fraction 0", lambda: make_moons_data(test_fraction=0.0), "test_fraction"),
    ("moons test_fraction 1.5", lambda: make_moons_data(test_fraction=1.5), "test_fraction"),
    ("moons random_state -1", lambda: make_moons_data(random_state=-1), "random_state"),
    ("moons random_state 'a'", lambda: make_moons_data(random_state="a"), "random_state"),
    ("moons random_state 2**33", lambda: make_moons_data(random_state=2**33), "random_state"),
    ("moons standardize 'yes'", lambda: make_moons_data(standardize="yes"), "standardize"),
    ("regression n_train 0", lambda: make_regression_data(0), "n_train"),
    ("regression n_test -5", lambda: make_regression_data(10, -5), "n_test"),
    ("regression noise_sd 0", lambda: make_regression_data(noise_sd=0.0), "noise_sd"),
    ("regression x_range reversed", lambda: make_regression_data(x_range=(2.0, -2.0)), "x_range"),
    ("regression extrap_width 0", lambda: make_regression_data(extrap_width=0.0), "extrap_width"),
    ("regression n_extrap 1", lambda: make_regression_data(n_extrap=1), "n_extrap"),
    ("regression random_state -1", lambda: make_regression_data(random_state=-1), "random_state"),
    ("decay n_points 0", lambda: make_decay_data(0), "n_points"),
    ("decay t_max 0", lambda: make_decay_data(t_max=0.0), "t_max"),
    ("decay t_max NaN", lambda: make_decay_data(t_max=float("nan")), "t_max"),
    ("decay y0 -1", lambda: make_decay_data(y0=-1.0), "y0"),
    ("decay sigma inf", lambda: make_decay_data(sigma=float("inf")), "sigma"),
    ("decay random_state 1.5", lambda: make_decay_data(random_state=1.5), "random_state"),
    ("lotka-volterra n_points 'ten'", lambda: make_lotka_volterra_data("ten"), "n_points"),
    ("lotka-volterra beta -0.1", lambda: make_lotka_volterra_data(beta=-0.1), "beta"),
    ("lotka-volterra random_state -2", lambda: make_lotka_volterra_data(random_state=-2), "random_state"),
    ("reuse set unknown", lambda: load_reuse_set("iris3"), "name"),
    ("reuse set random_state -1", lambda: load_reuse_set("wine", random_state=-1), "random_state"),
    ("mnist split 'validation'", lambda: load_mnist("validation"), "split"),
    ("mnist limit -1", lambda: load_mnist("test", limit=-1), "limit"),
    ("mnist limit 1.5", lambda: load_mnist("test", limit=1.5), "limit"),
    ("mnist integer dtype", lambda: load_mnist("test", limit=5, dtype=np.int32), "~floating"),
    ("idx set unknown", lambda: load_idx_dataset("emnist"), "~a folder path"),
    ("fetch from an unknown set", lambda: fetch_file("emnist", "x.gz"), "~unknown data set"),
    ("fetch an unknown file", lambda: fetch_file("mnist", "x.gz"), "~has no file"),
]


@pytest.mark.parametrize("case,call,expect", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_data_sets_refuse_bad_arguments(case, call, expect):
    with pytest.raises(ValueError) as info:
        call()
    check_message(str(info.value), expect)


# --- the diagnostics --------------------------------------------------------------------------

P3 = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
DRAWS = np.stack([P3, P3])

DIAGNOSTIC_CASES = [
    ("mean of 2-D draws", lambda: uncertainty.predictive_mean(P3), "draws"),
    ("mean of draws with one class", lambda: uncertainty.predictive_mean(DRAWS[:, :, :1]), "draws"),
    ("NLL with too few labels", lambda: uncertainty.negative_log_likelihood(P3, [0, 1]), "y"),
    ("NLL with label 2 of 2 classes", lambda: uncertainty.negative_log_likelihood(P3, [0, 1, 2]), "y"),
    ("NLL with labels 0.5", lambda: uncertainty.negative_log_likelihood(P3, [0.5, 1, 0]), "y"),
    ("ECE n_bins 0", lambda: uncertainty.expected_calibration_error(P3, [0, 1, 0], n_bins=0), "n_bins"),
    ("confusion with label -1", lambda: uncertainty.confusion_matrix(P3, [0, -1, 1]), "y"),
    (
        "referral fractions 0",
        lambda: uncertainty.referral_curve([1, 0, 1], [0.1, 0.2, 0.3], fractions=[0]),
        "fractions",
    ),
    ("referral lengths differ", lambda: uncertainty.referral_curve([1, 0], [0.1, 0.2, 0.3]), "score"),
    ("auroc without OOD scores", lambda: uncertainty.auroc([0.1, 0.2], []), "~at least one"),
    ("flagged at q 100", lambda: uncertainty.flagged_at_quantile([0.1], [0.2], q=100), "q"),
    ("report with labels of another length", lambda: uncertainty.classification_report(DRAWS, [0, 1]), "y"),
]


@pytest.mark.parametrize("case,call,expect", DIAGNOSTIC_CASES, ids=[c[0] for c in DIAGNOSTIC_CASES])
def test_diagnostics_refuse_bad_arguments(case, call, expect):
    with pytest.raises(ValueError) as info:
        call()
    check_message(str(info.value), expect)


# --- the CLI ------------------------------------------------------------------------------------

# (argv, text the error output must name); every one exits with status 2 before any fit
CLI_CASES = [
    (["run", "mnist"], "model"),
    (["run", "moons", "--method", "hmc"], "--method"),
    (["run", "moons", "--backend", "numba"], "--backend"),
    (["run", "moons", "--seed", "x"], "--seed"),
    (["run", "moons", "--seed", "-1"], "--seed"),
    (["run", "moons", "--devices", "0"], "--devices"),
    (["run", "moons", "--sbc", "x.json"], "--sbc"),
    (["run", "moons", "--steps", "10"], "--steps"),
    (["compare", "mnist-mlp"], "model"),
    (["compare", "moons", "--seed", "1.5"], "--seed"),
    (["fit", "moons"], "command"),
    ([], "command"),
]


@pytest.mark.parametrize("argv", [c[0] for c in CLI_CASES], ids=[" ".join(c[0]) or "(none)" for c in CLI_CASES])
def test_cli_refuses_bad_arguments_with_status_2(argv, capsys, tmp_path, monkeypatch):
    from bnngallery.cli import main

    monkeypatch.chdir(tmp_path)  # nothing may be written; check below
    expect = dict((" ".join(a), n) for a, n in CLI_CASES)[" ".join(argv)]
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own refusals
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2 and expect in err, (code, err)
    assert not list(tmp_path.iterdir()), "a refused command wrote files"


# --- odd input that is valid: the correct result ----------------------------------------------


def test_integer_and_boolean_features_fit_as_their_float_values():
    a = get_builder("moons")(X4.astype(np.int64), Y4.astype(bool))
    b = get_builder("moons")(X4, Y4)
    np.testing.assert_array_equal(a["X"].get_value(), b["X"].get_value())
    np.testing.assert_array_equal(a["y"].get_value(), b["y"].get_value())


def test_numpy_integer_settings_are_taken(fitted):
    """np.int64 (what np.arange or a DataFrame hands out) works wherever an int does."""
    a = predict(get_builder("moons"), fitted, X4, draws=np.int64(5), random_seed=np.uint32(3))
    b = predict(get_builder("moons"), fitted, X4, draws=5, random_seed=3)
    np.testing.assert_array_equal(a, b)
