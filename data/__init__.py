"""Data sets of the gallery: synthetic generators with known truth and the IDX image sets.

The lowest layer of the project: nothing here imports the models or the engine.
"""

from .cache import DataUnavailableError, resolve_data_dir
from .download import fetch_file
from .idx import IDXFormatError, load_idx_dataset, load_mnist, read_idx
from .manifest import ChecksumError
from .synthetic import SplitData, make_moons_data

__all__ = [
    "ChecksumError",
    "DataUnavailableError",
    "IDXFormatError",
    "SplitData",
    "fetch_file",
    "load_idx_dataset",
    "load_mnist",
    "make_moons_data",
    "read_idx",
    "resolve_data_dir",
]
