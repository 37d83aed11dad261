"""The gallery's models, one record each (:class:`GalleryModel`: its run, sizes, methods,
comparison), and how big every run is: ``"full"`` is the real run, ``"smoke"`` checks the
plumbing in seconds. ``bnngallery run``, ``bnngallery compare``, the notebooks and the
MNIST benchmarks read them here (``benchmarks/sbc_ode.py``, which fits 200 simulated
data sets, and the GPU preset of ``benchmarks/mnist_full.py`` have sizes of their own).

One vocabulary for every model:

=======================  ==================================================================
``steps``                ADVI optimiser steps (also those of the methods that take
                         ``steps``, unless their record's ``run_options`` set their own)
``batch_size``           ADVI minibatch (absent: full-batch)
``advi_draws``           posterior draws kept from an ADVI fit
``draws``, ``tune``,     NUTS draws and warm-up per chain, and chains
``chains``
``approximations``       per-method fit options beyond the run's ADVI options, e.g.
                         ``{"fullrank_advi": {"restarts": 3}}`` (full-rank ADVI fits, the best
                         final ELBO kept: a full-rank fit of a small net can stall in a poor
                         optimum on some seeds)
``model``                builder keywords: the source articles' networks (``moons.ARTICLE``,
                         ``regression.ARTICLE``, ``cnn.ARTICLE``), whose recorded numbers
                         the runs reproduce, not the builders' defaults
=======================  ==================================================================

plus each model's data sizes (``n_train``, ``n_test``, ...) and its own extras.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import import_module

from ..inference.methods import REGISTRY, get_method
from ..models import cnn, get_builder, moons, regression
from ..validation import check_choice

#: The MNIST nets' prior and units: ReLU and the scale-mixture weight prior with a fixed wide
#: component Normal(0, 1) (``prior_sigma``), which predict far better than article A's tanh
#: units under a Normal prior (`docs/mnist_scale_mixture.md`, "MNIST and the weight prior"). The CNN's.
MNIST_MODEL = {
    "activation": "relu",
    "prior": "scale-mixture",
    "hierarchical": False,
    "prior_sigma": 1.0,
    "standardize": "none",
}
#: The MLP's: the hierarchical horseshoe prior (a learned scale per layer and per input unit),
#: the best of the hierarchical priors tried and the best out-of-distribution detector of
#: every prior (``benchmarks/mnist_priors.py``), from LeCun-scaled initial means.
MLP_MODEL = {**MNIST_MODEL, "prior": "horseshoe", "hierarchical": True, "init_scale": 1.0}
#: The MLP's posterior temperature: its Bayes posterior (T = 1) predicts under-confidently.
#: Chosen by the lowest NLL on held-out training images (``benchmarks/mnist_temperature.py``: 0.125 of
#: 1, 0.5, 0.25, 0.125 and 0.0625, for the horseshoe); the CNN is calibrated at T = 1.
MLP_TEMPERATURE = 0.125
#: ADVI options of the MNIST runs, in float32 (the builders' matrix products already are).
#: A net this size has no dense Hessian: its Laplace approximation is over the output layer.
MNIST_FIT = {
    "learning_rate": 0.01,
    "init_sd": 1e-3,
    "mc_samples": 1,
    "precision": "float32",
    "approximations": {"laplace": {"subset": "last_layer"}},
}

_SIZES: dict[str, dict[str, dict]] = {
    "moons": {
        "full": {
            "steps": 30_000,
            "batch_size": 50,
            "advi_draws": 1000,
            "draws": 1000,
            "tune": 1000,
            "chains": 2,
            "approximations": {"fullrank_advi": {"restarts": 3}},
            "model": dict(moons.ARTICLE),
        },
        "smoke": {
            "steps": 1500,
            "batch_size": 50,
            "advi_draws": 100,
            "draws": 100,
            "tune": 100,
            "chains": 2,
            "approximations": {"fullrank_advi": {"restarts": 2}},
            "model": dict(moons.ARTICLE),
        },
    },
    "regression": {
        # Every NUTS transition of this posterior hits the maximum tree depth (1023 leapfrog
        # steps), so 500 + 500 per chain is what keeps NUTS a check of minutes, not an hour.
        "full": {
            "model": {"hidden": (50,), **regression.ARTICLE},
            "n_train": 500,
            "n_test": 500,
            "steps": 30_000,
            "batch_size": 100,
            "advi_draws": 1000,
            "draws": 500,
            "tune": 500,
            "chains": 2,
        },
        "smoke": {
            "model": {"hidden": (10,), **regression.ARTICLE},
            "n_train": 200,
            "n_test": 200,
            "steps": 1500,
            "batch_size": 50,
            "advi_draws": 200,
            "draws": 100,
            "tune": 100,
            "chains": 2,
        },
    },
    "ode": {
        "full": {
            "steps": 20_000,
            "advi_draws": 2000,
            "draws": 1000,
            "tune": 1000,
            "chains": 2,
            "dropout_hidden": 2048,
            "dropout_prime_steps": 1000,
            "dropout_fine_steps": 3000,
            "n_grid": 200,
            "predict_draws": 1000,
        },
        "smoke": {
            "steps": 1000,
            "advi_draws": 200,
            "draws": 100,
            "tune": 100,
            "chains": 2,
            "dropout_hidden": 128,
            "dropout_prime_steps": 100,
            "dropout_fine_steps": 100,
            "n_grid": 50,
            "predict_draws": 100,
        },
    },
    # fit's default steps, a minibatch of 100
    "reuse": {
        "full": {"steps": 30_000, "batch_size": 100, "advi_draws": 1000, "draws": 500, "tune": 500, "chains": 2},
        "smoke": {"steps": 600, "batch_size": 50, "advi_draws": 50, "draws": 30, "tune": 30, "chains": 1},
    },
    "mnist-mlp": {
        "full": {
            "n_train": None,
            "n_test": None,
            "n_ood": None,
            "steps": 8000,
            "batch_size": 256,
            **MNIST_FIT,
            "advi_draws": 200,
            "predict_draws": 100,
            "model": {"hidden": (400, 400), **MLP_MODEL, "temperature": MLP_TEMPERATURE},
        },
        "smoke": {
            "n_train": 1000,
            "n_test": 300,
            "n_ood": 300,
            "steps": 150,
            "batch_size": 128,
            **MNIST_FIT,
            "advi_draws": 20,
            "predict_draws": 20,
            "model": {"hidden": (32, 32), **MLP_MODEL, "temperature": MLP_TEMPERATURE},
        },
    },
    "mnist-cnn": {
        "full": {
            "n_train": None,
            "n_test": None,
            "n_ood": None,
            "steps": 6000,
            "batch_size": 128,
            **MNIST_FIT,
            # ten members, not five: five missed the NLL target
            # (benchmarks/results/approximations.json)
            "approximations": {**MNIST_FIT["approximations"], "ensemble": {"members": 10}},
            "advi_draws": 200,
            "predict_draws": 30,
            "model": {**MNIST_MODEL, **cnn.ARTICLE},
        },
        "smoke": {
            "n_train": 1000,
            "n_test": 300,
            "n_ood": 300,
            "steps": 100,
            "batch_size": 64,
            **MNIST_FIT,
            "advi_draws": 20,
            "predict_draws": 20,
            "model": {"filters": (8, 8), "dense": (32,), **MNIST_MODEL, **cnn.ARTICLE},
        },
    },
}


@dataclass(frozen=True)
class GalleryModel:
    """One gallery model family's run: everything the CLI, ``compare``, the notebooks and the
    benchmarks look up by its name. A new model is its run module and one record here.

    ``run`` and ``compare_data`` are ``"module:function"`` in :mod:`bnngallery.runs`, imported
    only when used; the builder is :func:`bnngallery.models.get_builder` of the same name.
    ``compare_data(size, random_seed)`` returns ``{"train": (X, y), "test": (X, y), "data": ...}``
    and ``compare_figures(spec, results, table, random_seed)`` the model's own figures.
    """

    name: str
    sizes: Mapping[str, dict]  #: ``{"full": ..., "smoke": ...}`` in the vocabulary above
    run: str | None = None  #: ``bnngallery run NAME``
    #: what ``bnngallery run NAME --method all`` fits
    run_methods: tuple[str, ...] = ("advi", "nuts")
    #: what ``bnngallery compare NAME`` fits, NUTS last as the reference; () for no comparison
    compare_methods: tuple[str, ...] = ()
    compare_data: str | None = None
    compare_figures: str | None = None
    #: methods ``--methods all`` leaves out for this model, with the reason beside the record
    compare_skip: tuple[str, ...] = ()
    task: str = "classification"  #: "classification" or "regression" (the predictive check drawn)
    minibatch: bool = True  #: False: too few rows for a minibatch (no SG-MCMC)
    extra_settings: tuple[str, ...] = ()  #: settings a run takes beyond its sizes

    def builder(self):
        return get_builder(self.name)


#: No full-rank ADVI for the regression net: its dense covariance over every weight diverged at
#: the default step size and stayed far below mean-field at a smaller one. The MNIST nets have
#: no NUTS reference, so no comparison; their runs skip NUTS with a logged note, and take any
#: method that scales (``run_mnist_mlp(methods=("ensemble",))``). ``holdout`` (MNIST): score
#: on the last N training images instead of the test set.
MODELS: dict[str, GalleryModel] = {
    m.name: m
    for m in (
        GalleryModel(
            "moons",
            _SIZES["moons"],
            run="moons:run_moons",
            run_methods=("advi", "fullrank_advi", "nuts"),
            compare_methods=("advi", "fullrank_advi", "nuts"),
            compare_data="moons:compare_data",
            compare_figures="moons:compare_figures",
        ),
        GalleryModel(
            "regression",
            _SIZES["regression"],
            run="regression:run_regression",
            compare_methods=("advi", "nuts"),
            compare_skip=("fullrank_advi",),
            compare_data="regression:compare_data",
            compare_figures="regression:compare_figures",
            task="regression",
        ),
        GalleryModel(
            "ode",
            _SIZES["ode"],
            run="ode:run_ode",
            compare_methods=("advi", "fullrank_advi", "nuts"),
            compare_data="ode:compare_data",
            task="regression",
            minibatch=False,
        ),
        GalleryModel("mnist-mlp", _SIZES["mnist-mlp"], run="mnist:run_mnist_mlp", extra_settings=("holdout",)),
        GalleryModel("mnist-cnn", _SIZES["mnist-cnn"], run="mnist:run_mnist_cnn", extra_settings=("holdout",)),
        # "bring your own data" (runs/reuse.py): no CLI run of its own
        GalleryModel("reuse", _SIZES["reuse"]),
    )
}
#: Each model's sizes by name (a view of :data:`MODELS`).
SETTINGS = {name: m.sizes for name, m in MODELS.items()}


def get_model(name: str) -> GalleryModel:
    """The record of gallery model ``name``; a clear error naming those there are."""
    check_choice(name, name="model", allowed=tuple(MODELS))
    return MODELS[name]


def load(target: str):
    """The function ``"module:function"`` of :mod:`bnngallery.runs`, imported now."""
    module, func = target.split(":")
    return getattr(import_module(f"bnngallery.runs.{module}"), func)


def compared_models() -> tuple[str, ...]:
    """The models ``bnngallery compare`` takes: those with a NUTS reference."""
    return tuple(n for n, m in MODELS.items() if m.compare_methods)


def all_compare_methods(name: str) -> tuple[str, ...]:
    """``bnngallery compare NAME --methods all``: the model's comparison and every other
    registered method, less SG-MCMC on a model too small for a minibatch, NUTS last."""
    model = get_model(name)
    base = model.compare_methods
    beyond = [
        m
        for m, spec in REGISTRY.items()
        if m not in base and m not in model.compare_skip and (model.minibatch or spec.kind != "sg_mcmc")
    ]
    return (*base[:-1], *beyond, base[-1])


def run_settings(model: str, *, smoke: bool = False, overrides: dict | None = None) -> dict:
    """A copy of the settings of ``model``'s run, with ``overrides`` applied.

    ``overrides`` replace entries; its ``"model"`` entries update the builder keywords
    instead of replacing them. A key the run does not know is an error, not ignored.
    """
    extra = get_model(model).extra_settings
    size = copy.deepcopy(SETTINGS[model]["smoke" if smoke else "full"])
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(size) - set(extra) - {"model", "approximations"})
    if unknown:
        raise ValueError(
            f"Unknown setting(s) {unknown} for the {model} run; it takes {sorted(size)} (and {list(extra)})."
        )
    size.update({k: v for k, v in overrides.items() if k != "model"})
    if "model" in size or "model" in overrides:
        size["model"] = {**size.get("model", {}), **overrides.get("model", {})}
    return size


def advi_options(size: dict, *, backend: str = "jax") -> dict:
    """The keywords of ``fit(model, "advi", ...)`` in run settings ``size``: one mapping for
    the CLI and the notebooks. The PyTensor backend runs in float64 from PyMC's own start
    (``pm.fit`` has no ``init_sd``)."""
    opts = {"steps": size["steps"], "draws": size["advi_draws"]}
    for key in ("learning_rate", "init_sd", "mc_samples"):
        if key in size and not (key == "init_sd" and backend != "jax"):
            opts[key] = size[key]
    if "precision" in size:
        opts["precision"] = size["precision"] if backend == "jax" else "float64"
    return opts


def method_options(method: str, size: dict, *, backend: str = "jax") -> dict:
    """The keywords of ``fit(model, method, ...)`` for any method but NUTS in run settings
    ``size``: of the run's ADVI options (:func:`advi_options`) those the method takes, then
    the method's own run options (its record's ``run_options``, then
    ``size["approximations"][method]``).

    ADVI's ``init_sd`` is the first posterior sd; the methods that start from random points
    spread them by the builder's fan-in-scaled ``advi_init_sd`` instead (fit's default), so
    that an ensemble's members and SGLD's chains start apart. A method whose draws count per
    chain gets the run's draws shared among its chains.
    """
    spec = get_method(method)
    own = {**spec.run_options, **size.get("approximations", {}).get(method, {})}
    opts = {
        k: v
        for k, v in advi_options(size, backend=backend).items()
        if k in spec.option_names and (k != "init_sd" or spec.kind == "gaussian_vi") and k not in own
    }
    if spec.draws_per_chain and "draws" in opts:
        opts["draws"] = max(1, opts["draws"] // (own.get("chains") or spec.defaults().get("chains") or 1))
    return {**opts, **own}


def nuts_options(size: dict, method: str = "nuts") -> dict:
    """The keywords of ``fit(model, method, ...)`` for a full-data MCMC reference (NUTS) in run
    settings ``size``: those of its draws, tune and chains it takes."""
    takes = get_method(method).option_names
    return {k: size[k] for k in ("draws", "tune", "chains") if k in takes}
