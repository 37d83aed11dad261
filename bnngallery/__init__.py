"""bnngallery: Bayesian neural networks as PyMC graphs, fitted fast and checked honestly.

Layers, lowest first: ``bnngallery.data`` (data sets) -> ``bnngallery.models`` (PyMC model
builders) -> ``bnngallery.inference`` (the registry of fit methods, PyMC graph to JAX, the ADVI engine,
PyMC's samplers)
-> :func:`fit`, :func:`predict` and the result files (this package's top) ->
``bnngallery.diagnostics`` -> ``bnngallery.plots`` -> ``bnngallery.runs`` (what the CLI and
the notebooks run) and ``bnngallery.cli``. Nothing lower imports higher. Beneath them all,
``bnngallery.validation`` (the argument checks every layer shares) and ``bnngallery.files``
(safe writes) import nothing of the package.
"""

from .fitting import BACKENDS, SAMPLERS, fit
from .models.info import ModelInfo, model_info
from .predict import predict
from .results import load_result, save_result

__all__ = ["BACKENDS", "METHODS", "SAMPLERS", "ModelInfo", "fit", "load_result", "model_info", "predict", "save_result"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # METHODS is fitting's, read when asked, so a method registered later is listed too
    if name == "METHODS":
        from . import fitting

        return fitting.METHODS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
