"""bnngallery: Bayesian neural networks as PyMC graphs, fitted fast and checked honestly.

Layers, lowest first: ``bnngallery.data`` (data sets) -> ``bnngallery.models`` (PyMC model
builders) -> this package's engine (``fit``, ``predict``, results, metrics, plots) -> the
CLI and the gallery notebooks.
"""

from .engine import BACKENDS, METHODS, SAMPLERS, fit
from .predict import predict
from .results import load_result, save_result

__all__ = ["BACKENDS", "METHODS", "SAMPLERS", "fit", "load_result", "predict", "save_result"]
__version__ = "0.1.0"
