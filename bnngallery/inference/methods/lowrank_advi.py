"""``lowrank_advi``: Gaussian ADVI with covariance ``diag(d**2) + W W^T``, ``W`` of ``rank``
columns: correlations along a few directions at mean-field's cost per weight. ADVI's record,
another family, on the JAX backend only."""

from __future__ import annotations

import dataclasses

from . import advi
from .advi import ADVIOptions, fit_gaussian_vi


@dataclasses.dataclass(frozen=True)
class LowRankOptions(ADVIOptions):
    """ADVI's options and ``rank``, the number of correlated directions."""

    rank: int = 10


METHOD = dataclasses.replace(
    advi.METHOD,
    name="lowrank_advi",
    label="low-rank ADVI",
    summary="Gaussian ADVI with a diagonal plus rank-r covariance",
    options=LowRankOptions,
    fitter=lambda call, opts: fit_gaussian_vi(call, opts, "lowrank"),
    backends=("jax",),
    settings={"optimizer": "adam", "approximation": "lowrank"},
    check=None,
)
