"""``fullrank_advi``: Gaussian ADVI with a dense covariance (its Cholesky factor), for small
models whose posterior correlations mean-field ADVI cannot hold."""

from __future__ import annotations

from .advi import ADVIOptions, check_pytensor, fit_gaussian_vi
from .base import Method

METHOD = Method(
    name="fullrank_advi",
    label="full-rank ADVI",
    summary="Gaussian ADVI with a dense covariance, for small models",
    options=ADVIOptions,
    fitter=lambda call, opts: fit_gaussian_vi(call, opts, "fullrank"),
    kind="gaussian_vi",
    backends=("jax", "pytensor"),
    multi_device=True,
    check=check_pytensor,
)
