"""Gaussian variational families and the pure ADVI step, in JAX.

An ADVI fit is a state (:class:`ADVIState`: variational parameters, optimiser state, random
key) moved by pure functions, in the manner of blackjax's ``vi`` module and NumPyro's SVI:

- :func:`init` builds the first state from the model's initial point;
- :func:`make_step` returns the step ``(state, data) -> (state, negative ELBO)``: one
  stochastic-gradient step on a Monte Carlo estimate of the ELBO;
- :func:`sample` draws from the fitted approximation.

What tells mean-field from full-rank ADVI is the family (:class:`MeanField`,
:class:`FullRank`, :class:`LowRank`, registered in :data:`FAMILIES`): how its parameters start, how a
standard-normal draw becomes a draw of the model's variables (with the entropy of q), and
its means, sds and draws once fitted. A new family is one more class with those methods;
the step, the loop (:mod:`bnngallery.inference.advi_loop`) and the results are shared.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Protocol

import numpy as np

from .devices import shard_rows
from .noise import step_noise

#: log(2 pi e): the Gaussian entropy is 0.5 * D * LOG_2PI_E + log |det scale|.
LOG_2PI_E = float(np.log(2 * np.pi) + 1.0)


def softplus_inv(x: float) -> float:
    """The inverse of softplus, ``log(exp(x) - 1)``: the parameter whose softplus is the sd ``x``."""
    return float(np.log(np.expm1(x)))


class Layout:
    """Where each model variable sits in one flat parameter vector of length :attr:`dim`."""

    def __init__(self, names: Sequence[str], shapes: Sequence[tuple[int, ...]]):
        self.names = list(names)
        self.shapes = [tuple(s) for s in shapes]
        self.sizes = [int(np.prod(s, dtype=int)) for s in self.shapes]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.dim = int(self.offsets[-1])

    def unflatten(self, z):
        """Split the last axis of ``z`` into one array per variable (leading axes kept)."""
        lead = z.shape[:-1]
        return [
            z[..., a:b].reshape((*lead, *s))
            for a, b, s in zip(self.offsets[:-1], self.offsets[1:], self.shapes, strict=True)
        ]

    def indices(self, names: Sequence[str]) -> np.ndarray:
        """The flat coordinates of the variables ``names``, in layout order."""
        return np.concatenate(
            [
                np.arange(a, b)
                for n, a, b in zip(self.names, self.offsets[:-1], self.offsets[1:], strict=True)
                if n in names
            ]
        )

    def names_at(self, mask: np.ndarray) -> list[str]:
        """The variables with at least one flat coordinate set in ``mask``."""
        return [n for n, a, b in zip(self.names, self.offsets[:-1], self.offsets[1:], strict=True) if mask[a:b].any()]


class ADVIState(NamedTuple):
    """Everything one ADVI step reads and writes."""

    params: Any  #: the family's variational parameters (a pytree)
    opt_state: Any  #: the optax optimiser's state
    key: Any  #: the JAX random key of the next step


class Moments(NamedTuple):
    """A fitted approximation in the unconstrained space, flattened in :class:`Layout` order."""

    mean: np.ndarray
    sd: np.ndarray  #: marginal sds
    cholesky: np.ndarray | None = None  #: full-rank families only
    factor: np.ndarray | None = None  #: low-rank families: covariance diag(diag_sd**2) + factor factor^T
    diag_sd: np.ndarray | None = None


class Family(Protocol):
    """A Gaussian variational family over the model's flattened value variables."""

    name: ClassVar[str]
    layout: Layout

    def init_params(self, mu0: list, init_sd: list[float]) -> Any:
        """Parameters at means ``mu0`` and sds ``init_sd`` (one array and one sd per variable)."""

    def reparameterize(self, params, eps) -> tuple[list, Any]:
        """Standard-normal ``eps`` (draws, dim) -> one array per variable (leading draw axis),
        and ``log |det scale|`` (the entropy of q without its constant)."""

    def sample(self, params, eps):
        """Flat draws ``mean + scale(eps)``, shape (draws, dim). Called eagerly, outside ``jit``,
        so that the draws are the same to the bit whatever XLA would fuse in a compiled one."""

    def moments(self, params) -> Moments:
        """Means, marginal sds (and the Cholesky factor, if any) as float64 arrays."""

    def nonfinite(self, params) -> np.ndarray:
        """A (dim,) mask of the coordinates whose parameters hold NaN or inf."""


def noise_dim(family) -> int:
    """Standard normals one draw of ``family`` takes: one per coordinate, unless the family
    says otherwise with a ``noise_dim`` attribute (:class:`LowRank` takes ``dim + rank``)."""
    return int(getattr(family, "noise_dim", family.layout.dim))


@functools.cache
def _softplus_with_jvp():
    import jax
    import jax.numpy as jnp

    def forward(x):
        e = jnp.exp(-jnp.abs(x))
        return jnp.maximum(x, 0) + jnp.log1p(e), e

    @jax.custom_jvp
    def softplus(x):
        return forward(x)[0]

    @softplus.defjvp
    def _(primals, tangents):
        (x,), (t,) = primals, tangents
        y, e = forward(x)
        return y, t * (jnp.where(x >= 0, 1.0, e) / (1.0 + e))  # the sigmoid, from the same exp

    return softplus


def _softplus(x):
    """``jax.nn.softplus`` with a derivative that reuses the forward pass's ``exp(-|x|)``:
    JAX differentiates softplus through ``logaddexp`` with an ``exp`` of its own, one more
    transcendental per coordinate and step (``benchmarks/advi_speed.py`` times the step)."""
    return _softplus_with_jvp()(x)


@dataclass(frozen=True)
class MeanField:
    """Independent Gaussians: a mean and a softplus-sd parameter per coordinate.

    The parameters are one array per model variable, never one flat vector: slicing a flat
    vector and gathering its gradient back makes a step far dearer on networks with many
    weights.
    """

    layout: Layout
    name: ClassVar[str] = "meanfield"

    def init_params(self, mu0, init_sd):
        import jax.numpy as jnp

        return {
            "mu": list(mu0),
            "rho": [
                jnp.full(s, softplus_inv(sd), dtype=m.dtype)
                for m, s, sd in zip(mu0, self.layout.shapes, init_sd, strict=True)
            ],
        }

    def _sds(self, params) -> list:
        return [_softplus(r) for r in params["rho"]]

    def reparameterize(self, params, eps):
        import jax.numpy as jnp

        sd = self._sds(params)
        z = [m + e * s for m, e, s in zip(params["mu"], self.layout.unflatten(eps), sd, strict=True)]
        return z, sum(jnp.sum(jnp.log(s)) for s in sd)

    def sample(self, params, eps):
        import jax.numpy as jnp

        mu = jnp.concatenate([m.ravel() for m in params["mu"]])
        return mu + eps * jnp.concatenate([s.ravel() for s in self._sds(params)])

    def moments(self, params):
        sd = np.concatenate([np.asarray(s, dtype=np.float64).ravel() for s in self._sds(params)])
        mean = np.concatenate([np.asarray(m, dtype=np.float64).ravel() for m in params["mu"]])
        return Moments(mean=mean, sd=sd)

    def nonfinite(self, params):
        return np.concatenate(
            [
                ~(np.isfinite(np.asarray(m)) & np.isfinite(np.asarray(r))).ravel()
                for m, r in zip(params["mu"], params["rho"], strict=True)
            ]
        )


@dataclass(frozen=True)
class FullRank:
    """One multivariate Gaussian: a flat mean and a lower-triangular Cholesky factor whose
    diagonal is a softplus (so it stays positive)."""

    layout: Layout
    name: ClassVar[str] = "fullrank"

    def init_params(self, mu0, init_sd):
        import jax.numpy as jnp

        mu = jnp.concatenate([m.ravel() for m in mu0])
        dim = self.layout.dim
        return {
            "mu": mu,
            "L_off": jnp.zeros((dim, dim), dtype=mu.dtype),
            "L_diag": jnp.asarray(
                np.repeat([softplus_inv(sd) for sd in init_sd], self.layout.sizes), dtype=mu.dtype
            ).reshape(dim),
        }

    def cholesky(self, params):
        """The Cholesky factor L (q's covariance is L L^T) and its diagonal."""
        import jax.numpy as jnp

        diag = _softplus(params["L_diag"])
        return jnp.tril(params["L_off"], -1) + jnp.diag(diag), diag

    def reparameterize(self, params, eps):
        import jax.numpy as jnp

        L, diag = self.cholesky(params)
        return self.layout.unflatten(params["mu"] + eps @ L.T), jnp.sum(jnp.log(diag))

    def sample(self, params, eps):
        return params["mu"] + eps @ self.cholesky(params)[0].T

    def moments(self, params):
        L = np.asarray(self.cholesky(params)[0], dtype=np.float64)
        return Moments(mean=np.asarray(params["mu"], dtype=np.float64), sd=np.sqrt(np.sum(L**2, axis=1)), cholesky=L)

    def nonfinite(self, params):
        bad = np.zeros(self.layout.dim, dtype=bool)
        for value in params.values():
            finite = np.isfinite(np.asarray(value))
            bad |= ~(finite if finite.ndim == 1 else finite.all(axis=1))
        return bad


@dataclass(frozen=True)
class LowRank:
    """A Gaussian whose covariance is a diagonal plus a rank-``rank`` factor,
    ``diag(d**2) + W W^T`` (NumPyro's ``AutoLowRankMultivariateNormal``): ``rank`` directions
    of correlation at ``dim * (rank + 2)`` parameters, so it fits nets far too big for
    :class:`FullRank`.

    The factor is learned relative to the diagonal, ``W = d * V``: a draw is
    ``mu + d * (e1 + V e2)`` with ``e1`` of length ``dim`` and ``e2`` of length ``rank``, and
    the entropy comes from the matrix determinant lemma, ``log det = 2 sum(log d) +
    log det(I + V^T V)``. Learned directly, ``W``'s Adam steps (about the step size per
    entry, whatever the scale of the weight) swamped the small sds of a network's weights:
    on the MNIST MLP the fit collapsed. The means, ``d`` and ``V`` are one array per
    variable, as in :class:`MeanField`.
    """

    layout: Layout
    rank: int = 5
    name: ClassVar[str] = "lowrank"

    @property
    def noise_dim(self) -> int:
        return self.layout.dim + self.rank

    def init_params(self, mu0, init_sd):
        import jax.numpy as jnp

        # V = 0 is a stationary point of the expected ELBO (its gradient there is zero on
        # average), so V starts small and random (fixed seed: init stays pure).
        rng = np.random.default_rng(0)
        return {
            "mu": list(mu0),
            "rho": [
                jnp.full(s, softplus_inv(v), dtype=m.dtype)
                for m, s, v in zip(mu0, self.layout.shapes, init_sd, strict=True)
            ],
            "V": [
                jnp.asarray(rng.standard_normal((*s, self.rank)) * 0.1 / np.sqrt(self.rank), dtype=m.dtype)
                for m, s in zip(mu0, self.layout.shapes, strict=True)
            ],
        }

    def _draw(self, params, eps) -> list:
        """One array per variable, leading axis the draws of ``eps`` (draws, noise_dim)."""
        import jax.numpy as jnp

        e2 = eps[..., self.layout.dim :]
        return [
            m + _softplus(r) * (e1 + jnp.einsum("...k,nk->n...", v, e2))
            for m, r, v, e1 in zip(
                params["mu"],
                params["rho"],
                params["V"],
                self.layout.unflatten(eps[..., : self.layout.dim]),
                strict=True,
            )
        ]

    def _log_det_scale(self, params):
        import jax.numpy as jnp

        VtV = sum(v.reshape(-1, self.rank).T @ v.reshape(-1, self.rank) for v in params["V"])
        log_d = sum(jnp.sum(jnp.log(_softplus(r))) for r in params["rho"])
        return log_d + 0.5 * jnp.linalg.slogdet(jnp.eye(self.rank, dtype=VtV.dtype) + VtV)[1]

    def sample(self, params, eps):
        import jax.numpy as jnp

        return jnp.concatenate([z.reshape(z.shape[0], -1) for z in self._draw(params, eps)], axis=1)

    def reparameterize(self, params, eps):
        return self._draw(params, eps), self._log_det_scale(params)

    def moments(self, params):
        d = np.concatenate([np.asarray(_softplus(r), dtype=np.float64).ravel() for r in params["rho"]])
        V = np.concatenate([np.asarray(v, dtype=np.float64).reshape(-1, self.rank) for v in params["V"]])
        W = d[:, None] * V
        mean = np.concatenate([np.asarray(m, dtype=np.float64).ravel() for m in params["mu"]])
        return Moments(mean=mean, sd=np.sqrt(d**2 + np.sum(W**2, axis=1)), factor=W, diag_sd=d)

    def nonfinite(self, params):
        return np.concatenate(
            [
                ~(
                    np.isfinite(np.asarray(m)) & np.isfinite(np.asarray(r)) & np.isfinite(np.asarray(v)).all(axis=-1)
                ).ravel()
                for m, r, v in zip(params["mu"], params["rho"], params["V"], strict=True)
            ]
        )


@dataclass(frozen=True)
class Point:
    """A point mass at the means: its "ELBO" is the log density itself, so the ADVI step
    on this family is a MAP fit by minibatch Adam, with the engine's loop, minibatching,
    precision, devices and NaN guard. The building block of ``fit(method="ensemble")`` and
    ``fit(method="laplace")``."""

    layout: Layout
    name: ClassVar[str] = "point"
    noise_dim: ClassVar[int] = 0

    def init_params(self, mu0, init_sd):
        return {"mu": list(mu0)}

    def reparameterize(self, params, eps):
        # no entropy: this cancels the Gaussian constant the step adds, so the loss is
        # exactly the negative log density
        return [m[None] for m in params["mu"]], -0.5 * self.layout.dim * LOG_2PI_E

    def sample(self, params, eps):
        import jax.numpy as jnp

        mu = jnp.concatenate([m.ravel() for m in params["mu"]])
        return jnp.broadcast_to(mu, (eps.shape[0], mu.size))

    def moments(self, params):
        mean = np.concatenate([np.asarray(m, dtype=np.float64).ravel() for m in params["mu"]])
        return Moments(mean=mean, sd=np.zeros_like(mean))

    def nonfinite(self, params):
        return np.concatenate([~np.isfinite(np.asarray(m)).ravel() for m in params["mu"]])


#: Family name -> class; ``fit(method=...)`` maps ``"advi"`` to ``"meanfield"``,
#: ``"fullrank_advi"`` to ``"fullrank"`` and ``"lowrank_advi"`` to ``"lowrank"`` (with its ``rank``).
FAMILIES: dict[str, type] = {"meanfield": MeanField, "fullrank": FullRank, "lowrank": LowRank, "point": Point}


def init(family: Family, mu0: list, *, init_sd, optimizer, random_seed: int) -> ADVIState:
    """The first state: means at ``mu0`` (one array per variable), sds ``init_sd``: one number
    for every variable, or one per variable in layout order."""
    import jax

    sds = [float(init_sd)] * len(mu0) if isinstance(init_sd, (int, float)) else [float(v) for v in init_sd]
    if len(sds) != len(mu0):
        raise ValueError(f"init_sd holds {len(sds)} values for {len(mu0)} variables.")
    params = family.init_params(mu0, sds)
    return ADVIState(params, optimizer.init(params), jax.random.PRNGKey(random_seed))


def params_dtype(params):
    """The floating dtype of a family's parameters (the loop's precision)."""
    import jax

    return jax.tree_util.tree_leaves(params)[0].dtype


def make_step(
    family: Family, logp: Callable, optimizer, *, mc_samples: int, batch_size: int | None, n_rows: int | None, mesh=None
) -> Callable:
    """The pure ADVI step ``(state, data) -> (state, negative ELBO)`` for ``jit`` and ``lax.scan``.

    ``logp(values, data, idx)`` is the model's log density at one draw (one array per
    variable); ``idx`` are the rows of a minibatch of ``batch_size`` drawn from ``n_rows``
    (None without a minibatch). Each step draws ``mc_samples`` standard normals per
    coordinate and, with a minibatch, the batch's rows; with a device ``mesh`` the rows are
    split over its devices and XLA sums the gradient across them.
    """
    import jax
    import jax.numpy as jnp
    import optax

    dim, n_noise = family.layout.dim, noise_dim(family)

    def negative_elbo(params, eps, data, idx):
        z, log_det = family.reparameterize(params, eps)
        if mc_samples == 1:  # vmap would turn every matmul into a batched one: slower on CPU
            lp = logp([v[0] for v in z], data, idx)
        else:
            lp = jnp.mean(jax.vmap(lambda *zz: logp(zz, data, idx))(*z))
        return -(lp + log_det + 0.5 * dim * LOG_2PI_E)

    def step(state: ADVIState, data) -> tuple[ADVIState, Any]:
        key, eps, idx = step_noise(
            state.key,
            params_dtype(state.params),
            dim=n_noise,
            mc_samples=mc_samples,
            batch_size=batch_size,
            n_rows=n_rows,
        )
        loss, grads = jax.value_and_grad(negative_elbo)(state.params, eps, data, shard_rows(idx, mesh))
        # Gradients to memory before Adam: otherwise XLA fuses the whole elementwise gradient
        # of the prior into each of Adam's four moment updates and computes it four times
        # (``benchmarks/advi_speed.py`` times the step).
        grads = jax.lax.optimization_barrier(grads)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        return ADVIState(optax.apply_updates(state.params, updates), opt_state, key), loss

    return step


def sample(family: Family, params, key, *, draws: int):
    """``draws`` flat draws from the fitted approximation, shape (draws, dim), in the loop's precision."""
    import jax

    return family.sample(params, jax.random.normal(key, (draws, noise_dim(family))))
