"""Model builders of the gallery: each returns a ``pm.Model`` built from data.

Import a family by name (``from bnngallery.models import moons``) and call its
``build_model``. ``get_builder(name)`` resolves the CLI's model names lazily, so importing
this package does not import every family.
"""

import inspect
from importlib import import_module

from . import layers, moons
from .info import ModelInfo, model_info, tag_model

#: CLI model name -> (module in bnngallery.models, builder function)
BUILDERS = {
    "moons": ("moons", "build_model"),
    "regression": ("regression", "build_model"),
    "mnist-mlp": ("mnist_mlp", "build_model"),
    "mnist-cnn": ("cnn", "build_model"),
    "ode": ("ode", "build_model"),
}


def get_builder(name: str):
    """The builder function registered under ``name``."""
    try:
        module, func = BUILDERS[name]
    except KeyError:
        raise ValueError(f"Unknown model {name!r}; choose one of {sorted(BUILDERS)}.") from None
    return getattr(import_module(f"{__name__}.{module}"), func)


#: Keywords that generic code passes to any builder; dropped for a builder that has no such
#: setting (the ODE model has neither a minibatch nor random initial weights).
OPTIONAL_KEYWORDS = ("batch_size", "random_seed")


def call_builder(builder, X, y, **kwargs):
    """Call ``builder(X, y, **kwargs)``, dropping :data:`OPTIONAL_KEYWORDS` it does not take.

    Every other keyword goes through as it is, so a misspelt setting still fails loudly.
    """
    params = inspect.signature(builder).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in kwargs.items() if k in params or k not in OPTIONAL_KEYWORDS}
    return builder(X, y, **kwargs)


__all__ = ["BUILDERS", "ModelInfo", "call_builder", "get_builder", "layers", "model_info", "moons", "tag_model"]
