"""``lowrank_advi``: Gaussian ADVI with covariance ``diag(d**2) + W W^T``, ``W`` of ``rank``
columns: correlations along a few directions at mean-field's cost per weight."""

from __future__ import annotations

from dataclasses import dataclass

from .advi import ADVIOptions, fit_gaussian_vi
from .base import Method


@dataclass(frozen=True)
class LowRankOptions(ADVIOptions):
    """ADVI's options and ``rank``, the number of correlated directions."""

    rank: int = 10


METHOD = Method(
    name="lowrank_advi",
    label="low-rank ADVI",
    summary="Gaussian ADVI with a diagonal plus rank-r covariance",
    options=LowRankOptions,
    fitter=lambda call, opts: fit_gaussian_vi(call, opts, "lowrank"),
    kind="gaussian_vi",
    multi_device=True,
)
