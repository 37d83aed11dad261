"""Model builders of the gallery: each returns a ``pm.Model`` built from data.

Import a family by name (``from bnngallery.models import moons``) and call its
``build_model``. ``get_builder(name)`` resolves the CLI's model names lazily, so importing
this package does not import every family.
"""

from importlib import import_module

from . import layers, moons

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


__all__ = ["BUILDERS", "get_builder", "layers", "moons"]
