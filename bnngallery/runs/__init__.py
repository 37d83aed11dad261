"""What ``bnngallery run MODEL`` and ``bnngallery compare MODEL`` do: data -> model -> fits ->
metrics, figures and saved results.

======================  ===============================================================
:mod:`.settings`        the size of every run (one table), ``advi_options``
:mod:`.common`          the fit-each-method loop, the ``metrics.json`` row, the summary
:mod:`.moons`, ...      one module per gallery model (``regression``, ``mnist``, ``ode``)
:mod:`.compare`         ``bnngallery compare``
:mod:`.gallery`         the site: executes ``gallery/`` notebooks, builds it with Sphinx
======================  ===============================================================
"""

from __future__ import annotations

from importlib import import_module

#: CLI model name -> "module:function" of its run; imported only when that model is run.
RUNNERS = {
    "moons": "bnngallery.runs.moons:run_moons",
    "regression": "bnngallery.runs.regression:run_regression",
    "mnist-mlp": "bnngallery.runs.mnist:run_mnist_mlp",
    "mnist-cnn": "bnngallery.runs.mnist:run_mnist_cnn",
    "ode": "bnngallery.runs.ode:run_ode",
}


def get_runner(name: str):
    """The run function registered under ``name``."""
    if name not in RUNNERS:
        raise ValueError(f"Unknown model {name!r}; choose one of {sorted(RUNNERS)}.")
    module, func = RUNNERS[name].split(":")
    return getattr(import_module(module), func)
