"""Article E's non-Bayesian baseline: a dropout network that outputs the ODE's parameters.

A network with one wide hidden layer (2048 Mish units, dropout 0.1) maps a constant input
to the two parameters (r, y0) of ``dy/dt = -r y``. It is trained in two phases with
Adamax: a *priming* phase (step 2e-3) pulls its output to a good first guess (a log-linear
fit of the data), then a *fine* phase (step 2e-5) fits the ODE solution at those
parameters to the noisy observations under a Huber loss. Dropout stays on at prediction:
each of 200 forward passes is one draw of (r, y0) and of the path y(t) (Gal & Ghahramani,
"Dropout as a Bayesian approximation", arXiv 1506.02142).

The ODE is solved with the same fixed-step RK4 scheme as the PyMC model
(:mod:`bnngallery.models.ode`), here in plain JAX because the network is trained in JAX,
in float64 like the PyMC model.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..inference.precision import precision_scope
from ..models.ode import DEFAULT_MAX_STEP, check_observations, check_times, substeps_for
from ..validation import check_positive_int


@dataclass
class DropoutODEResult:
    """Samples of the dropout network, and how it was trained.

    ``r`` and ``y0`` hold one value per dropout sample; ``y_paths`` is (n_samples, len(t_grid)).
    """

    r: np.ndarray
    y0: np.ndarray
    t_grid: np.ndarray
    y_paths: np.ndarray
    loss_prime: np.ndarray
    loss_fine: np.ndarray
    guess: dict
    fit_seconds: float
    settings: dict = field(default_factory=dict)


def rk4_decay_jax(y0, r, t, *, t0: float = 0.0, substeps: int):
    """``y`` at the times ``t`` for ``dy/dt = -r y`` by RK4 in JAX (same scheme as the PyMC solver)."""
    import jax
    import jax.numpy as jnp

    t = jnp.asarray(t)
    starts = jnp.concatenate([jnp.full((1,), t0), t[:-1]])
    h = (t - starts) / substeps

    def f(y):
        return -r * y

    def interval(y, hh):
        for _ in range(substeps):
            k1 = f(y)
            k2 = f(y + 0.5 * hh * k1)
            k3 = f(y + 0.5 * hh * k2)
            k4 = f(y + hh * k3)
            y = y + hh / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        return y, y

    return jax.lax.scan(interval, y0, h)[1]


def log_linear_guess(t, y) -> dict:
    """First guess of (r, y0) from a straight-line fit of log y on t (positive observations only)."""
    t, y = np.asarray(t, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = y > 0
    if keep.sum() < 2:
        return {"r": 0.5, "y0": float(max(np.max(y), 1.0))}
    slope, intercept = np.polyfit(t[keep], np.log(y[keep]), 1)
    return {"r": float(max(-slope, 1e-3)), "y0": float(np.exp(intercept))}


def _softplus_inv(x: float) -> float:
    # The form that stays finite for large x (the output's y0 can be large); the engine's
    # advi.softplus_inv is log(expm1(x)), and each keeps its own so that neither's results move.
    return float(x + np.log(-np.expm1(-x)))


def fit_dropout_ode(
    t,
    y,
    *,
    hidden: int = 2048,
    dropout: float = 0.1,
    prime_steps: int = 1000,
    prime_lr: float = 2e-3,
    fine_steps: int = 3000,
    fine_lr: float = 2e-5,
    masks_per_step: int = 16,
    huber_delta: float = 1.0,
    n_samples: int = 200,
    t_grid=None,
    t0: float = 0.0,
    max_step: float = DEFAULT_MAX_STEP,
    random_seed: int = 0,
) -> DropoutODEResult:
    """Train article E's dropout network on ``(t, y)`` and draw ``n_samples`` dropout samples.

    Parameters
    ----------
    t, y : array of shape (n,)
        Observation times (sorted, >= ``t0``) and noisy values.
    hidden : int
        Width of the single hidden layer (article: 2048).
    dropout : float
        Dropout rate on the hidden layer, in training and at prediction (article: 0.1).
    prime_steps, prime_lr : int, float
        Priming phase: Adamax steps and step size pulling the output to the log-linear guess.
    fine_steps, fine_lr : int, float
        Fine phase: Adamax steps and step size on the Huber loss of the ODE fit.
    masks_per_step : int
        Dropout masks averaged per training step (a batch of copies of the constant input).
    huber_delta : float
        Where the Huber loss turns from quadratic to linear.
    n_samples : int
        Dropout forward passes at prediction (article: 200).
    t_grid : array, optional
        Times for the predicted paths; default 200 points over ``[t0, max(t)]``.
    t0, max_step : float
        Initial time and longest RK4 step.
    random_seed : int
        Seeds the initial weights, the dropout masks in training and at prediction.

    Returns
    -------
    DropoutODEResult
    """
    with precision_scope("float64"):  # the same precision as the PyMC model it is compared with
        return _fit(
            t,
            y,
            hidden=hidden,
            dropout=dropout,
            prime_steps=prime_steps,
            prime_lr=prime_lr,
            fine_steps=fine_steps,
            fine_lr=fine_lr,
            masks_per_step=masks_per_step,
            huber_delta=huber_delta,
            n_samples=n_samples,
            t_grid=t_grid,
            t0=t0,
            max_step=max_step,
            random_seed=random_seed,
        )


def _fit(
    t,
    y,
    *,
    hidden,
    dropout,
    prime_steps,
    prime_lr,
    fine_steps,
    fine_lr,
    masks_per_step,
    huber_delta,
    n_samples,
    t_grid,
    t0,
    max_step,
    random_seed,
) -> DropoutODEResult:
    import jax
    import jax.numpy as jnp
    import optax

    t = check_times(t, t0=t0)
    y = check_observations(y, n_times=len(t))
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1); got {dropout!r}.")
    for name, v in {
        "hidden": hidden,
        "prime_steps": prime_steps,
        "fine_steps": fine_steps,
        "masks_per_step": masks_per_step,
        "n_samples": n_samples,
    }.items():
        check_positive_int(v, name=name, allow_zero="steps" in name)
    t_grid = np.linspace(t0, float(t.max()), 200) if t_grid is None else check_times(t_grid, name="t_grid", t0=t0)
    sub_obs = substeps_for(t, t0=t0, max_step=max_step)
    sub_grid = substeps_for(t_grid, t0=t0, max_step=max_step)
    guess = log_linear_guess(t, y)
    target = jnp.array([guess["r"], guess["y0"]])
    t_j, y_j = jnp.asarray(t), jnp.asarray(y)

    key = jax.random.PRNGKey(random_seed)
    k1, k2, key = jax.random.split(key, 3)
    n_in = 1
    params = {
        "W1": jax.random.normal(k1, (n_in, hidden)) * math.sqrt(2.0 / n_in),
        "b1": jnp.zeros(hidden),
        "W2": jax.random.normal(k2, (hidden, 2)) * math.sqrt(1.0 / hidden) * 0.1,
        # start the output near the guess so priming refines rather than searches
        "b2": jnp.array([_softplus_inv(guess["r"]), _softplus_inv(guess["y0"])]),
    }
    x = jnp.ones((n_in,))

    def mish(a):
        return a * jnp.tanh(jax.nn.softplus(a))

    def forward(p, mask_key):
        h = mish(x @ p["W1"] + p["b1"])
        if dropout > 0:
            keep = jax.random.bernoulli(mask_key, 1.0 - dropout, h.shape)
            h = jnp.where(keep, h / (1.0 - dropout), 0.0)
        out = jax.nn.softplus(h @ p["W2"] + p["b2"])
        return out  # (r, y0)

    def batch_out(p, k):
        return jax.vmap(lambda kk: forward(p, kk))(jax.random.split(k, masks_per_step))

    def prime_loss(p, k):
        return jnp.mean(optax.huber_loss(batch_out(p, k), target, delta=huber_delta))

    def fine_loss(p, k):
        outs = batch_out(p, k)
        pred = jax.vmap(lambda o: rk4_decay_jax(o[1], o[0], t_j, t0=t0, substeps=sub_obs))(outs)
        return jnp.mean(optax.huber_loss(pred, y_j[None, :], delta=huber_delta))

    def train(p, loss_fn, lr, steps, k):
        opt = optax.adamax(lr)

        def step(carry, kk):
            pp, st = carry
            loss, g = jax.value_and_grad(loss_fn)(pp, kk)
            upd, st = opt.update(g, st, pp)
            return (optax.apply_updates(pp, upd), st), loss

        (p, _), losses = jax.lax.scan(step, (p, opt.init(p)), jax.random.split(k, steps))
        return p, losses

    train_jit = jax.jit(train, static_argnums=(1, 3))
    t_start = time.perf_counter()
    kp, kf, ks = jax.random.split(key, 3)
    params, loss_prime = (
        train_jit(params, prime_loss, prime_lr, prime_steps, kp) if prime_steps else (params, jnp.zeros(0))
    )
    params, loss_fine = train_jit(params, fine_loss, fine_lr, fine_steps, kf) if fine_steps else (params, jnp.zeros(0))
    samples = jax.vmap(lambda kk: forward(params, kk))(jax.random.split(ks, n_samples))
    paths = jax.vmap(lambda o: rk4_decay_jax(o[1], o[0], jnp.asarray(t_grid), t0=t0, substeps=sub_grid))(samples)
    samples, paths = np.asarray(samples), np.asarray(paths)
    seconds = time.perf_counter() - t_start
    settings = {
        "hidden": hidden,
        "dropout": dropout,
        "activation": "mish",
        "optimizer": "adamax",
        "prime_steps": prime_steps,
        "prime_lr": prime_lr,
        "fine_steps": fine_steps,
        "fine_lr": fine_lr,
        "masks_per_step": masks_per_step,
        "loss": f"huber(delta={huber_delta})",
        "n_samples": n_samples,
        "random_seed": random_seed,
    }
    return DropoutODEResult(
        r=samples[:, 0],
        y0=samples[:, 1],
        t_grid=np.asarray(t_grid),
        y_paths=paths,
        loss_prime=np.asarray(loss_prime),
        loss_fine=np.asarray(loss_fine),
        guess=guess,
        fit_seconds=seconds,
        settings=settings,
    )
