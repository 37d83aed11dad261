"""``fullrank_advi``: Gaussian ADVI with a dense covariance (its Cholesky factor), for small
models whose posterior correlations mean-field ADVI cannot hold. ADVI's record, another family."""

from __future__ import annotations

import dataclasses

from . import advi
from .advi import fit_gaussian_vi

METHOD = dataclasses.replace(
    advi.METHOD,
    name="fullrank_advi",
    label="full-rank ADVI",
    summary="Gaussian ADVI with a dense covariance, for small models",
    fitter=lambda call, opts: fit_gaussian_vi(call, opts, "fullrank"),
    settings={"optimizer": "adam", "approximation": "fullrank"},
)
