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
def moons_data():
    from bnngallery.data import make_moons_data

    return make_moons_data()
