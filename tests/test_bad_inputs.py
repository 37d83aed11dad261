"""Bad input to every builder and to fit(): a ValueError that names the argument, before any compile.

One table across the gallery's model families, plus a Hypothesis pass over the shared
validation: arbitrary arrays either build a model or raise ValueError, nothing else.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bnngallery import fit
from bnngallery.models import get_builder
from bnngallery.models.info import model_info

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
    message = str(info.value)
    assert message.startswith(f"{argument} ") or f" {argument} " in message or f"{argument}=" in message, message
    assert "Traceback" not in message and "pytensor" not in message.lower()


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
    (dict(method="laplace"), "method"),
    (dict(backend="numba"), "backend"),
    (dict(steps=-5), "steps"),
    (dict(learning_rate=-0.1), "learning_rate"),
    (dict(mc_samples=0), "mc_samples"),
    (dict(chunk_size=0), "chunk_size"),
]


@pytest.mark.parametrize("family", ["moons", "regression", "ode"])
@pytest.mark.parametrize("kwargs,argument", FIT_CASES, ids=[a for _, a in FIT_CASES])
def test_fit_rejects_bad_options_for_every_family(family, kwargs, argument, small_models):
    kwargs = dict(kwargs)
    method = kwargs.pop("method", "advi")
    with pytest.raises(ValueError, match=rf"^{argument} must"):
        fit(small_models[family], method, progressbar=False, **kwargs)


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
