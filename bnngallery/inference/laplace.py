"""The Laplace approximation: a Gaussian at the MAP whose precision is the curvature there.

``fit(method="laplace")`` finds the MAP with the ADVI engine's point-mass family (minibatch
Adam, :class:`bnngallery.inference.advi.Point`), then takes the exact Hessian of the
full-data log density at it in the unconstrained space (one Hessian-vector product per
coordinate, by forward-over-reverse differentiation in float64). The covariance is its
inverse: a dense matrix, so this is for models of up to :data:`FULL_HESSIAN_MAX`
parameters (the moons and regression nets, the ODE model).

MNIST-size nets take ``subset="last_layer"``: the Gaussian covers the output layer's weights
and bias and every other parameter stays at the MAP (Kristiadi, Hein and Hennig 2020,
"Being Bayesian, even just a bit"; laplace-torch's default). The logits are linear in those
weights, so their Hessian is also the generalised Gauss-Newton one, never indefinite for a
softmax or Gaussian likelihood, and sampling them is the linearised predictive.

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
from .target import window_logp

#: Most parameters a full-Hessian Laplace fit takes: the covariance is dim x dim.
FULL_HESSIAN_MAX = 5000
#: Eigenvalues of the negative Hessian below this fraction of the largest are floored to it.
EIGEN_FLOOR = 1e-8
#: Hessian-vector products evaluated together (bounds the memory of the tangents).
HVP_BATCH = 256


class LaplaceWarning(UserWarning):
    """The MAP is not a strict maximum: some curvature was not positive."""


@dataclass
class LaplaceGaussian:
    """The Laplace Gaussian over the flat unconstrained vector (``Layout`` order)."""

    mean: np.ndarray
    cholesky: np.ndarray
    index: np.ndarray  #: the flat coordinates the Gaussian covers (all of them without a subset)
    nonpositive: int  #: eigenvalues of the negative Hessian that were <= 0 (replaced)
    seconds: float

    @property
    def sd(self) -> np.ndarray:
        return np.sqrt(np.sum(self.cholesky**2, axis=1))


def check_size(dim: int, subset: bool) -> None:
    """Refuse a Gaussian too big for a dense Hessian, naming what to use instead."""
    if dim > FULL_HESSIAN_MAX:
        what = "the chosen subset's" if subset else "this model's"
        raise ValueError(
            f"method='laplace' builds the dense {dim} x {dim} Hessian of {what} {dim} parameters, "
            f"more than it takes ({FULL_HESSIAN_MAX}). For a net this size use subset='last_layer' "
            "(a Gaussian over the output layer, the rest at the MAP), method='lowrank_advi' "
            "(correlations in a few directions) or method='ensemble'."
        )


def laplace_at(model, mode: np.ndarray, *, subset: list[str] | None = None) -> LaplaceGaussian:
    """The Laplace Gaussian of ``model``'s full-data log density at the flat point ``mode``;
    with ``subset`` (value-variable names), over those variables only, the rest held at
    ``mode`` (a last-layer Laplace when they are the output layer's). The Hessian is summed
    over the minibatch windows whose mean is the full-data density, one linearisation of
    the gradient per window (:data:`HVP_BATCH` products at a time); a subset's windows
    read each row once (:func:`~bnngallery.inference.target.full_data_batches`)."""
    import time

    import jax
    import jax.numpy as jnp

    t0 = time.perf_counter()
    with precision_scope("float64"):
        # a subset is for big data sets: read each row once, not batch / gcd times
        window, windows, layout = window_logp(model, rows_once=subset is not None)
        names = layout.names if subset is None else [n for n in layout.names if n in subset]
        idx = layout.indices(names)
        check_size(idx.size, subset is not None)
        held = dict(zip(layout.names, layout.unflatten(jnp.asarray(mode, dtype=jnp.float64)), strict=True))
        part = Layout(names, [layout.shapes[layout.names.index(n)] for n in names])
        z = jnp.asarray(mode, dtype=jnp.float64)[idx]
        basis = jnp.eye(idx.size)

        def values(s):  # the subset's variables from s, the others held (no tangents through them)
            free = dict(zip(names, part.unflatten(s), strict=True))
            return [free.get(n, held[n]) for n in layout.names]

        def window_hessian(rows):
            grad = jax.grad(lambda s: window(values(s), rows))
            hvp = jax.linearize(grad, z)[1]  # the primal pass once, then only tangents
            return jax.lax.map(hvp, basis, batch_size=min(idx.size, HVP_BATCH))

        @jax.jit
        def hessian():
            if windows is None:
                return window_hessian(None)
            total = jax.lax.scan(lambda acc, rows: (acc + window_hessian(rows), None), jnp.zeros_like(basis), windows)
            return total[0] / windows.shape[0]

        H = np.asarray(hessian(), dtype=np.float64)
    precision = -0.5 * (H + H.T)
    lam, V = np.linalg.eigh(precision)
    nonpositive = int(np.sum(lam <= 0))
    lam = np.maximum(np.abs(lam), EIGEN_FLOOR * max(float(np.abs(lam).max()), 1.0))
    cov = (V / lam) @ V.T
    L = np.linalg.cholesky(0.5 * (cov + cov.T))
    if nonpositive:
        warnings.warn(
            f"The MAP is not a strict maximum of the log density: {nonpositive} of {idx.size} directions "
            "have zero or negative curvature there, and their variance comes from the absolute curvature "
            "instead. More optimiser steps (steps=...) usually reach a better mode; compare with NUTS before "
            "trusting the bands.",
            LaplaceWarning,
            stacklevel=3,
        )
    return LaplaceGaussian(
        mean=np.asarray(mode, dtype=np.float64)[idx],
        cholesky=L,
        index=idx,
        nonpositive=nonpositive,
        seconds=time.perf_counter() - t0,
    )


def fit_laplace(model, *, draws: int, random_seed: int, precision: str, subset: list[str] | None = None, **opts):
    """The MAP by :func:`fit_advi_jax` (``opts``), then the Laplace Gaussian there (over the
    value variables ``subset`` only, when given), with ``draws`` draws from it.

    A subset's Gaussian is no density over the whole vector (the rest is a point), so that
    fit keeps its draws and no ``approximation`` group: k-hat and ``log_q`` do not apply."""
    import jax.numpy as jnp

    from .advi_loop import constrained_draws, fit_advi_jax
    from .output import FitOutput

    fit = fit_advi_jax(
        model, family="point", draws=1, random_seed=random_seed, jitter_start=True, precision=precision, **opts
    )
    graph = logp_graph(model)
    layout = Layout(graph.param_names, graph.param_shapes)
    mode = np.concatenate([np.asarray(fit.mean[n], dtype=np.float64).ravel() for n in layout.names])
    q = laplace_at(model, mode, subset=subset)
    rng = np.random.default_rng(random_seed)
    z = np.tile(mode, (draws, 1))
    z[:, q.index] = q.mean + rng.standard_normal((draws, q.index.size)) @ q.cholesky.T
    with precision_scope("float64"):
        out_draws = constrained_draws(model, layout, jnp.asarray(z), "float64")
    whole = subset is None
    return FitOutput(
        draws=out_draws,
        loss=fit.loss,
        objective="log density",
        mean=dict(zip(layout.names, layout.unflatten(q.mean), strict=True)) if whole else {},
        std=dict(zip(layout.names, layout.unflatten(q.sd), strict=True)) if whole else {},
        cholesky=q.cholesky if whole else None,
        order=list(layout.names) if whole else None,
        compile_seconds=fit.compile_seconds,
        run_seconds=fit.run_seconds + q.seconds,
        steps_done=fit.steps_done,
        interrupted=fit.interrupted,
        batch_size=fit.batch_size,
        device=fit.device,
        extra={"laplace_nonpositive": q.nonpositive, "laplace_seconds": q.seconds},
    )
