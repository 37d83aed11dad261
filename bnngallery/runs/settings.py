"""How big every gallery run is, in one table: ``"full"`` is the real run, ``"smoke"`` checks
the plumbing in seconds. ``bnngallery run``, ``bnngallery compare``, the notebooks and the
MNIST benchmarks read their sizes here (``benchmarks/sbc_ode.py``, which fits 200 simulated
data sets, and the GPU preset of ``benchmarks/mnist_full.py`` have sizes of their own).

One vocabulary for every model:

=======================  ==================================================================
``steps``                ADVI optimiser steps
``batch_size``           ADVI minibatch (absent: full-batch)
``advi_draws``           posterior draws kept from an ADVI fit
``draws``, ``tune``,     NUTS draws and warm-up per chain, and chains
``chains``
``fullrank_restarts``    full-rank ADVI fits, the best final ELBO kept (a full-rank fit of
                         a small net can stall in a poor optimum on some seeds)
``model``                builder keywords: the source articles' networks (``moons.ARTICLE``,
                         ``regression.ARTICLE``, ``cnn.ARTICLE``), whose recorded numbers
                         the runs reproduce, not the builders' defaults
=======================  ==================================================================

plus each model's data sizes (``n_train``, ``n_test``, ...) and its own extras.
"""

from __future__ import annotations

import copy

from ..fitting import SG_MCMC
from ..models import cnn, moons, regression
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

SETTINGS: dict[str, dict[str, dict]] = {
    "moons": {
        "full": {
            "steps": 30_000,
            "batch_size": 50,
            "advi_draws": 1000,
            "draws": 1000,
            "tune": 1000,
            "chains": 2,
            "fullrank_restarts": 3,
            "model": dict(moons.ARTICLE),
        },
        "smoke": {
            "steps": 1500,
            "batch_size": 50,
            "advi_draws": 100,
            "draws": 100,
            "tune": 100,
            "chains": 2,
            "fullrank_restarts": 2,
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
    # "bring your own data" (runs/reuse.py): fit's default steps, a minibatch of 100
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
            # ten members, not five: the five-member ensemble's NLL (0.0257) missed the 0.025
            # target (benchmarks/results/approximations.json)
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


#: The methods each run fits by default (``bnngallery run MODEL --method all``; the MNIST
#: runs skip NUTS with a logged note, and take any method that scales, e.g.
#: ``run_mnist_mlp(methods=("ensemble",))``) and each comparison fits (``bnngallery compare
#: MODEL``; ``--methods all`` adds every approximation, :data:`ALL_COMPARE_METHODS`). No
#: full-rank ADVI for the regression net: its dense covariance over every weight diverged at
#: the default step size and stayed far below mean-field at a smaller one. The MNIST nets
#: have no NUTS reference, so no comparison.
RUN_METHODS = {
    "moons": ("advi", "fullrank_advi", "nuts"),
    "regression": ("advi", "nuts"),
    "ode": ("advi", "nuts"),
    "mnist-mlp": ("advi", "nuts"),
    "mnist-cnn": ("advi", "nuts"),
}
COMPARE_METHODS = {
    "moons": ("advi", "fullrank_advi", "nuts"),
    "regression": ("advi", "nuts"),
    "ode": ("advi", "fullrank_advi", "nuts"),
}
#: Every approximation beyond those (``bnngallery compare MODEL --methods all``), NUTS last
#: as the reference.
BEYOND_ADVI = ("lowrank_advi", "flow_advi", "pathfinder", "laplace", "ensemble", "sgld", "sghmc")
#: SG-MCMC (``SG_MCMC``) needs a minibatch, which the ODE model's 20 points do not have.
ALL_COMPARE_METHODS = {
    name: (*methods[:-1], *(m for m in BEYOND_ADVI if name != "ode" or m not in SG_MCMC), "nuts")
    for name, methods in COMPARE_METHODS.items()
}

#: Settings a run accepts beyond its table entries: ``holdout`` (MNIST: score on the last N
#: training images instead of the test set); every run also takes ``approximations``
#: (per-method options over :data:`APPROXIMATIONS`).
EXTRA_SETTINGS = {"mnist-mlp": ("holdout",), "mnist-cnn": ("holdout",)}


def run_settings(model: str, *, smoke: bool = False, overrides: dict | None = None) -> dict:
    """A copy of the settings of ``model``'s run, with ``overrides`` applied.

    ``overrides`` replace entries; its ``"model"`` entries update the builder keywords
    instead of replacing them. A key the run does not know is an error, not ignored.
    """
    check_choice(model, name="model", allowed=sorted(SETTINGS))
    size = copy.deepcopy(SETTINGS[model]["smoke" if smoke else "full"])
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(size) - set(EXTRA_SETTINGS.get(model, ())) - {"model", "approximations"})
    if unknown:
        raise ValueError(
            f"Unknown setting(s) {unknown} for the {model} run; it takes {sorted(size)} "
            f"(and {list(EXTRA_SETTINGS.get(model, ()))})."
        )
    size.update({k: v for k, v in overrides.items() if k != "model"})
    if "model" in size or "model" in overrides:
        size["model"] = {**size.get("model", {}), **overrides.get("model", {})}
    return size


def advi_options(size: dict, *, backend: str = "jax") -> dict:
    """The keywords of ``fit(model, "advi", ...)`` in run settings ``size``: one mapping for
    the CLI and the notebooks. The PyTensor backend runs in float64."""
    opts = {"steps": size["steps"], "draws": size["advi_draws"]}
    for key in ("learning_rate", "init_sd", "mc_samples"):
        if key in size:
            opts[key] = size[key]
    if "precision" in size:
        opts["precision"] = size["precision"] if backend == "jax" else "float64"
    return opts


#: What each approximation beyond ADVI takes from the run's ADVI options, and its own
#: settings (a run's ``"approximations"`` entry overrides these per method). SG-MCMC's draws
#: are per chain, so a quarter of ADVI's.
APPROXIMATIONS = {
    "lowrank_advi": {"rank": 10},
    "ensemble": {"members": 5},
    "laplace": {},
    "sgld": {"chains": 4, "cycles": 4, "learning_rate": 0.03},
    "sghmc": {"chains": 4, "cycles": 4, "learning_rate": 0.01},
    "pathfinder": {"chains": 8, "steps": 200},
    "flow_advi": {},
}
#: The ADVI options each approximation uses (the rest do not apply to it). ADVI's
#: ``init_sd`` is the first posterior sd; the methods that start from random points spread
#: them by the builder's fan-in-scaled ``advi_init_sd`` instead (fit's default), so that an
#: ensemble's members and SGLD's chains start apart.
_TAKES = {
    "lowrank_advi": ("steps", "draws", "learning_rate", "init_sd", "mc_samples", "precision"),
    "ensemble": ("steps", "learning_rate", "precision"),
    "laplace": ("steps", "draws", "learning_rate", "precision"),
    "sgld": ("steps", "draws", "precision"),
    "sghmc": ("steps", "draws", "precision"),
    "pathfinder": ("draws",),
    "flow_advi": ("steps", "draws", "learning_rate"),
}


def method_options(method: str, size: dict, *, backend: str = "jax") -> dict:
    """The keywords of ``fit(model, method, ...)`` for any method but NUTS in run settings
    ``size``: ADVI's (:func:`advi_options`), or those an approximation takes of them plus
    its own (:data:`APPROXIMATIONS`, then ``size["approximations"][method]``)."""
    opts = advi_options(size, backend=backend)
    if method in ("advi", "fullrank_advi"):
        return opts
    own = {**APPROXIMATIONS[method], **size.get("approximations", {}).get(method, {})}
    opts = {k: v for k, v in opts.items() if k in _TAKES[method]}
    if method in SG_MCMC and "draws" in opts:
        opts["draws"] = max(1, opts["draws"] // own["chains"])
    return {**opts, **own}


def nuts_options(size: dict) -> dict:
    """The keywords of ``fit(model, "nuts", ...)`` in run settings ``size``."""
    return {"draws": size["draws"], "tune": size["tune"], "chains": size["chains"]}
