"""The Laplace approximation: a Gaussian at the MAP whose precision is the curvature there.

``fit(method="laplace")`` finds the MAP with the ADVI engine's point-mass family (minibatch
Adam, :class:`bnngallery.inference.advi.Point`), then takes the exact Hessian of the
full-data log density at it in the unconstrained space (one Hessian-vector product per
coordinate, by forward-over-reverse differentiation in float64). The covariance is its
inverse: a dense matrix, so this is for models of up to :data:`FULL_HESSIAN_MAX`
parameters (the moons and regression nets, the ODE model); MNIST-size nets have
``lowrank_advi`` and ``ensemble``.

A neural net's MAP found by a stochastic optimiser is rarely a strict maximum: the Hessian
can have directions of zero or negative curvature. Those eigenvalues are replaced by their
absolute values, floored (as saddle-free Newton methods do), and the fit says how many.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .advi import Layout
from .jaxify import logp_graph
from .precision import precision_scope
from .target import full_data_logp

#: Most parameters a full-Hessian Laplace fit takes: the covariance is dim x dim.
FULL_HESSIAN_MAX = 5000
#: Eigenvalues of the negative Hessian below this fraction of the largest are floored to it.
EIGEN_FLOOR = 1e-8


class LaplaceWarning(UserWarning):
    """The MAP is not a strict maximum: some curvature was not positive."""


@dataclass
class LaplaceGaussian:
    """The Laplace Gaussian over the flat unconstrained vector (``Layout`` order)."""

    mean: np.ndarray
    cholesky: np.ndarray
    nonpositive: int  #: eigenvalues of the negative Hessian that were <= 0 (replaced)
    seconds: float

    @property
    def sd(self) -> np.ndarray:
        return np.sqrt(np.sum(self.cholesky**2, axis=1))


def check_size(dim: int) -> None:
    """Refuse a model too big for a dense Hessian, naming what to use instead."""
    if dim > FULL_HESSIAN_MAX:
        raise ValueError(
            f"method='laplace' builds the dense {dim} x {dim} Hessian of this model's {dim} parameters, "
            f"more than it takes ({FULL_HESSIAN_MAX}). For a net this size use method='lowrank_advi' "
            "(correlations in a few directions) or method='ensemble'."
        )


def laplace_at(model, mode: np.ndarray) -> LaplaceGaussian:
    """The Laplace Gaussian of ``model``'s full-data log density at the flat point ``mode``."""
    import time

    import jax
    import jax.numpy as jnp

    t0 = time.perf_counter()
    with precision_scope("float64"):
        logp, layout = full_data_logp(model)
        check_size(layout.dim)
        z = jnp.asarray(mode, dtype=jnp.float64)
        grad = jax.grad(logp)

        @jax.jit
        def hessian():
            hvp = lambda v: jax.jvp(grad, (z,), (v,))[1]  # noqa: E731
            return jax.lax.map(hvp, jnp.eye(layout.dim), batch_size=min(layout.dim, 64))

        H = np.asarray(hessian(), dtype=np.float64)
    precision = -0.5 * (H + H.T)
    lam, V = np.linalg.eigh(precision)
    nonpositive = int(np.sum(lam <= 0))
    lam = np.maximum(np.abs(lam), EIGEN_FLOOR * max(float(np.abs(lam).max()), 1.0))
    cov = (V / lam) @ V.T
    L = np.linalg.cholesky(0.5 * (cov + cov.T))
    if nonpositive:
        warnings.warn(
            f"The MAP is not a strict maximum of the log density: {nonpositive} of {layout.dim} directions "
            "have zero or negative curvature there, and their variance comes from the absolute curvature "
            "instead. More optimiser steps (steps=...) usually reach a better mode; compare with NUTS before "
            "trusting the bands.",
            LaplaceWarning,
            stacklevel=3,
        )
    return LaplaceGaussian(
        mean=np.asarray(mode, dtype=np.float64), cholesky=L, nonpositive=nonpositive, seconds=time.perf_counter() - t0
    )


def fit_laplace(model, *, draws: int, random_seed: int, precision: str, **opts):
    """The MAP by :func:`fit_advi_jax` (``opts``), then the Laplace Gaussian there, with
    ``draws`` draws from it."""
    import jax.numpy as jnp

    from .advi_loop import ADVIOutput, constrained_draws, fit_advi_jax

    fit = fit_advi_jax(
        model, family="point", draws=1, random_seed=random_seed, jitter_start=True, precision=precision, **opts
    )
    graph = logp_graph(model)
    layout = Layout(graph.param_names, graph.param_shapes)
    mode = np.concatenate([np.asarray(fit.mean[n], dtype=np.float64).ravel() for n in layout.names])
    q = laplace_at(model, mode)
    rng = np.random.default_rng(random_seed)
    z = q.mean + rng.standard_normal((draws, layout.dim)) @ q.cholesky.T
    with precision_scope("float64"):
        out_draws = constrained_draws(model, layout, jnp.asarray(z), "float64")
    return ADVIOutput(
        draws=out_draws,
        loss=fit.loss,
        objective="log density",
        mean=dict(zip(layout.names, layout.unflatten(q.mean), strict=True)),
        std=dict(zip(layout.names, layout.unflatten(q.sd), strict=True)),
        cholesky=q.cholesky,
        order=list(layout.names),
        compile_seconds=fit.compile_seconds,
        run_seconds=fit.run_seconds + q.seconds,
        steps_done=fit.steps_done,
        interrupted=fit.interrupted,
        batch_size=fit.batch_size,
        device=fit.device,
        extra={"laplace_nonpositive": q.nonpositive, "laplace_seconds": q.seconds},
    )
