"""Shared test set-up: headless plots, the shared data sets, small moons data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]
_shared = REPO.parent / "shared" / "datasets"
if "BNNGALLERY_DATA_DIR" not in os.environ and _shared.is_dir():
    os.environ["BNNGALLERY_DATA_DIR"] = str(_shared)


@pytest.fixture(scope="session")
def benchmark_script():
    """Import a script of ``benchmarks/`` (not a package) by name, e.g. ``benchmark_script("mnist_full")``."""
    import importlib.util

    def load(name: str):
        spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", REPO / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture(scope="session")
def moons_data():
    from bnngallery.data import make_moons_data

    return make_moons_data()


@pytest.fixture(scope="session")
def smoke_site(tmp_path_factory):
    """The gallery site built in smoke mode (every notebook executed once, then Sphinx), shared by
    the notebook checks (``test_gallery``) and the browser checks (``test_site``)."""
    from bnngallery.runs.gallery import build_site

    out = tmp_path_factory.mktemp("site")
    index = build_site(REPO / "gallery", out, smoke=True)
    return out, index
