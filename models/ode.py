"""ODE-parameter model (article E): recover the rate ``r`` and initial value ``y0`` of
``dy/dt = -r y`` from noisy observations, with a differentiable RK4 solver in PyTensor.

The likelihood integrates the ODE numerically, so the same graph runs on every PyTensor
backend: C/Numba (``pm.fit``, PyMC's NUTS) and JAX (the JAX ADVI engine, NumPyro NUTS).
The closed form ``y0 exp(-r t)`` is the solver's test oracle, never part of the model.

The solver
----------
``odeint_rk4(rhs, y0, t, theta)`` integrates ``dy/dt = rhs(y, t, theta)`` (vector state,
parameter vector) from ``t0`` to every time in ``t``. It walks the grid interval by
interval with a ``pytensor.scan`` and takes ``substeps`` RK4 steps inside each interval,
unrolled into the scan's body; :func:`substeps_for` picks the number so that no step is
longer than ``max_step`` (RK4's error shrinks as the fourth power of the step). A system of
ODEs is a new right-hand side, not a new solver: :func:`decay_rhs` (one state, one rate)
and :func:`lotka_volterra_rhs` (two states, four parameters) go through the same function,
and :func:`build_lotka_volterra_model` is the two-state model.

JAX needs the number of scan steps at trace time, so the scan runs over a constant index
range of the grid's length at build time (``n_times``): predict on a new grid by rebuilding
the model (``predict(build_model, result, t_new)``, which is what ``predict`` does with a
builder), not by ``pm.set_data`` with a grid of another length. Keep a prediction grid
within ``predict``'s ``chunk_rows`` (4096 by default): rows of an ODE solution are not
independent, and a grid cut into chunks would be solved with the wrong length.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt

from ..validation import check_positive, check_positive_int
from .info import tag_model
from .layers import OBS_DIM

#: Name of the Deterministic holding the ODE solution at the data's times.
OUTPUT = "y_hat"

#: Default longest RK4 step. For dy/dt = -r y the relative error after time T is about
#: T * r^5 * h^4 / 120: 2.7e-7 on the default data (r = 0.4, T = 10, 4 steps of 0.13 per
#: interval; 5.2e-8 with h = 0.1, at the cost of more steps per interval). RK4 stays stable while
#: r * h < 2.78, i.e. for rates up to ~20 on the default grid.
DEFAULT_MAX_STEP = 0.15


def decay_rhs(y, t, theta):
    """``dy/dt = -r y`` with ``theta = [r]`` (article E's model)."""
    return -theta[0] * y


def lotka_volterra_rhs(y, t, theta):
    """Lotka-Volterra predator-prey system with ``theta = [alpha, beta, gamma, delta]``.

    ``dx/dt = alpha x - beta x z``, ``dz/dt = delta x z - gamma z`` for prey ``x = y[0]``
    and predators ``z = y[1]``.
    """
    x, z = y[0], y[1]
    alpha, beta, gamma, delta = theta[0], theta[1], theta[2], theta[3]
    return pt.stack([alpha * x - beta * x * z, delta * x * z - gamma * z])


#: Most RK4 steps per interval the builders write into the graph. The steps of one interval
#: are unrolled into the scan's body, so the graph (and its build time and memory) grows with
#: them: a few dozen steps already made the build slow and memory-hungry; a gap of 150 time
#: units at the default step would have needed 1000.
MAX_SUBSTEPS = 32


def substeps_for(t, *, t0: float = 0.0, max_step: float = DEFAULT_MAX_STEP) -> int:
    """The number of RK4 substeps per interval so no step on the grid ``[t0, *t]`` exceeds
    ``max_step``; refused beyond :data:`MAX_SUBSTEPS`, with the widest gap and the fixes."""
    t = np.asarray(t, dtype=np.float64)
    if max_step <= 0 or not np.isfinite(max_step):
        raise ValueError(f"max_step must be a positive finite number; got {max_step!r}.")
    gaps = np.diff(np.concatenate([[t0], t]))
    widest = float(np.max(gaps)) if t.size else 0.0
    steps = max(1, math.ceil(widest / max_step - 1e-9))
    if steps > MAX_SUBSTEPS:
        at = float(np.concatenate([[t0], t])[int(np.argmax(gaps))])
        raise ValueError(
            f"The widest gap between observation times (t0 and t), {widest:g} from t = {at:g}, needs {steps} RK4 "
            f"steps of at most max_step={max_step:g}, more than the {MAX_SUBSTEPS} the solver builds into the "
            f"graph per interval. Add output times inside the gap (predict at a finer t), or pass a larger "
            f"max_step (at least {widest / MAX_SUBSTEPS:.3g}; the solver's error grows as max_step**4)."
        )
    return steps


def rk4_step(rhs: Callable, y, t, h, theta):
    """One classical Runge-Kutta step of size ``h`` from ``(t, y)``."""
    k1 = rhs(y, t, theta)
    k2 = rhs(y + 0.5 * h * k1, t + 0.5 * h, theta)
    k3 = rhs(y + 0.5 * h * k2, t + 0.5 * h, theta)
    k4 = rhs(y + h * k3, t + h, theta)
    return y + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def odeint_rk4(rhs: Callable, y0, t, theta, *, t0: float = 0.0, substeps: int = 8, n_times: int | None = None):
    """Integrate ``dy/dt = rhs(y, t, theta)`` from ``y(t0) = y0`` and return ``y`` at the times ``t``.

    Parameters
    ----------
    rhs : callable
        ``rhs(y, t, theta) -> dy/dt``, written with PyTensor operations; ``y`` is the state
        vector (length ``n_states``), ``t`` a scalar and ``theta`` the parameter vector.
    y0 : tensor of shape (n_states,)
        State at ``t0``.
    t : tensor of shape (n_times,)
        Output times, non-decreasing and not before ``t0`` (checked by the model builders,
        not here: a symbolic grid cannot be checked at build time).
    theta : tensor of shape (n_params,)
        Parameters passed to ``rhs``.
    t0 : float
        Time at which ``y0`` holds.
    substeps : int
        RK4 steps per interval between consecutive output times (see :func:`substeps_for`).
    n_times : int, optional
        Length of ``t``; needed when ``t`` is symbolic with an unknown length (a ``pm.Data``
        container). It fixes the number of solver steps in the graph, as JAX requires.

    Returns
    -------
    tensor of shape (n_times, n_states)
        ``y`` at every time in ``t``.
    """
    substeps = check_positive_int(substeps, name="substeps")
    y0 = pt.as_tensor_variable(y0)
    t = pt.as_tensor_variable(t)
    theta = pt.as_tensor_variable(theta)
    if y0.ndim != 1:
        raise ValueError(f"y0 must be a state vector (1-D); got a tensor of {y0.ndim} dimension(s).")
    if t.ndim != 1:
        raise ValueError(f"t must be a 1-D grid of times; got a tensor of {t.ndim} dimension(s).")
    y0 = pt.cast(y0, "float64")
    theta = pt.cast(theta, "float64")
    t = pt.cast(t, "float64")
    starts = pt.concatenate([pt.as_tensor_variable(np.array([t0], dtype=np.float64)), t[:-1]])
    h = (t - starts) / substeps

    if n_times is None:
        n_times = t.type.shape[0]
    if n_times is None:
        raise ValueError(
            "The length of t must be known when the graph is built: pass a NumPy array, or "
            "n_times=len(t) with a symbolic grid (pm.Data); JAX needs the number of solver "
            "steps at trace time."
        )

    def interval(i, y, starts_, h_, theta_):
        t_start, h_i = starts_[i], h_[i]
        for k in range(substeps):
            y = rk4_step(rhs, y, t_start + k * h_i, h_i, theta_)
        return y

    # The scan runs over a constant index range rather than over the grid itself, so its
    # length is a constant of the graph: JAX needs it at trace time, and a length computed
    # from the grid's (symbolic) shape would be a traced value.
    ys = pytensor.scan(
        interval,
        sequences=[pt.arange(n_times, dtype="int64")],
        outputs_info=[y0],
        non_sequences=[starts, h, theta],
        return_updates=False,
        name="rk4",
    )
    return ys


# ---------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------


def check_times(t, *, name: str = "t", t0: float = 0.0) -> np.ndarray:
    """Return ``t`` as a finite, non-decreasing float64 grid of at least one time, none before ``t0``."""
    try:
        arr = np.asarray(t, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a 1-D array of times; could not convert it: {err}") from err
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of times; got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass at least one observation time.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite times; every time must be a finite number.")
    if np.any(np.diff(arr) < 0):
        i = int(np.argmax(np.diff(arr) < 0))
        raise ValueError(
            f"{name} must be sorted in increasing order; {name}[{i + 1}] = {arr[i + 1]} "
            f"comes after {name}[{i}] = {arr[i]}. Sort t and y together (np.argsort)."
        )
    if arr[0] < t0:
        raise ValueError(
            f"{name} starts at {arr[0]}, before the initial time t0 = {t0}; the ODE is "
            "integrated forward from t0, so every time must be >= t0."
        )
    return arr


def check_observations(y, *, n_times: int, n_states: int = 1, name: str = "y") -> np.ndarray:
    """Return ``y`` as finite float64 values, one per time (``(n,)``) or one row per time (``(n, n_states)``)."""
    try:
        arr = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an array of numbers; could not convert it: {err}") from err
    want = (n_times,) if n_states == 1 else (n_times, n_states)
    if arr.shape != want:
        raise ValueError(
            f"{name} must have shape {want} (one value per time in t"
            + ("" if n_states == 1 else ", one column per state")
            + f"); got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values; drop those times from t and y.")
    return arr


def _check_t0(t0) -> float:
    try:
        v = float(t0)
    except (TypeError, ValueError):
        raise ValueError(f"t0 must be a finite number; got {t0!r}.") from None
    if not np.isfinite(v):
        raise ValueError(f"t0 must be a finite number; got {t0!r}.")
    return v


def _check_series(t, y, t0, *, n_states: int = 1) -> tuple[np.ndarray, np.ndarray | None, float]:
    """A builder's times, observations (or None) and ``t0``, checked."""
    t0 = _check_t0(t0)
    t = check_times(t, t0=t0)
    if y is not None:
        y = check_observations(y, n_times=len(t), n_states=n_states)
    return t, y, t0


def _solver_settings(t, priors: dict, *, sigma_scale, t0: float, max_step) -> tuple[dict, int]:
    """A builder's settings (its checked prior scales ``priors``, then ``sigma_scale``, ``t0``
    and ``max_step``, in that order) and the RK4 substeps per interval of ``t``."""
    settings = {
        **priors,
        "sigma_scale": check_positive(sigma_scale, name="sigma_scale"),
        "t0": t0,
        "max_step": check_positive(max_step, name="max_step"),
    }
    return settings, substeps_for(t, t0=t0, max_step=settings["max_step"])


# ---------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------


def build_model(
    t,
    y=None,
    *,
    y0_scale: float = 10.0,
    r_scale: float = 1.0,
    sigma_scale: float = 1.0,
    t0: float = 0.0,
    max_step: float = DEFAULT_MAX_STEP,
) -> pm.Model:
    """Build the decay model ``dy/dt = -r y``, ``y(t0) = y0``, observed with Gaussian noise.

    Priors are weakly informative and positive: ``y0 ~ HalfNormal(y0_scale)``,
    ``r ~ HalfNormal(r_scale)``, ``sigma ~ HalfNormal(sigma_scale)``. The likelihood is
    ``y ~ Normal(y_hat, sigma)`` with ``y_hat`` the RK4 solution at the times ``t``.

    Parameters
    ----------
    t : array of shape (n,)
        Observation times: finite, sorted, none before ``t0``.
    y : array of shape (n,), optional
        Observations; ``None`` builds a prediction model whose ``y_obs`` is unobserved.
    y0_scale, r_scale, sigma_scale : float
        Scales of the half-normal priors on the initial value, the rate and the noise sd.
    t0 : float
        Time at which ``y0`` holds.
    max_step : float
        Longest RK4 step; the number of steps per interval of ``t`` follows from it.

    Returns
    -------
    pm.Model
        With data containers ``X`` (the times) and ``y``, free variables ``y0``, ``r``,
        ``sigma``, the Deterministic ``y_hat`` (dims ``obs_id``) and the likelihood ``y_obs``.
    """
    t, y, t0 = _check_series(t, y, t0)
    priors = {"y0_scale": check_positive(y0_scale, name="y0_scale"), "r_scale": check_positive(r_scale, name="r_scale")}
    settings, substeps = _solver_settings(t, priors, sigma_scale=sigma_scale, t0=t0, max_step=max_step)
    n = len(t)
    with pm.Model(coords={OBS_DIM: np.arange(n)}) as model:
        t_data = pm.Data("X", t, dims=(OBS_DIM,))
        y0 = pm.HalfNormal("y0", settings["y0_scale"])
        r = pm.HalfNormal("r", settings["r_scale"])
        sigma = pm.HalfNormal("sigma", settings["sigma_scale"])
        # A static length lets JAX trace the scan (see the module docstring).
        states = odeint_rk4(decay_rhs, pt.stack([y0]), t_data, pt.stack([r]), t0=t0, substeps=substeps, n_times=n)
        y_hat = pm.Deterministic(OUTPUT, states[:, 0], dims=(OBS_DIM,))
        y_in = pm.Data("y", y, dims=(OBS_DIM,)) if y is not None else None
        pm.Normal("y_obs", mu=y_hat, sigma=sigma, observed=y_in, dims=(OBS_DIM,))
    # the solver integrates across the whole grid: rows of X are not independent
    return tag_model(model, family="ode", settings=settings, output=OUTPUT, task="regression", rows_independent=False)


#: Parameter names of the Lotka-Volterra model, in the order ``lotka_volterra_rhs`` reads them.
LV_PARAMS = ("alpha", "beta", "gamma", "delta")


def build_lotka_volterra_model(
    t,
    y=None,
    *,
    rate_medians=(1.0, 0.1, 1.5, 0.1),
    rate_log_sd: float = 1.0,
    state_scale: float = 20.0,
    sigma_scale: float = 2.0,
    t0: float = 0.0,
    max_step: float = 0.1,
) -> pm.Model:
    """The two-state Lotka-Volterra model through the same RK4 solver as :func:`build_model`.

    Priors: each rate ``alpha, beta, gamma, delta ~ LogNormal(log(median), rate_log_sd)``
    (positive; with the default sd of 1 on the log scale a median of 0.1 still allows 0.01
    to 0.7 at 95 %), initial prey and predators ``x0, z0 ~ HalfNormal(state_scale)``, noise
    ``sigma ~ HalfNormal(sigma_scale)``. The initial states start at the first observation
    (a start value, not a prior), which keeps the optimiser out of the far-off oscillations.

    Parameters
    ----------
    t : array of shape (n,)
        Observation times: finite, sorted, none before ``t0``.
    y : array of shape (n, 2), optional
        Prey (column 0) and predator (column 1) counts; ``None`` builds a prediction model.
    rate_medians : 4 floats
        Prior medians of alpha, beta, gamma, delta (rough domain knowledge, as in PyMC's
        Lotka-Volterra example).
    rate_log_sd, state_scale, sigma_scale : float
        Prior scales.
    t0 : float
        Time of the initial state.
    max_step : float
        Longest RK4 step.

    Returns
    -------
    pm.Model
        With ``X`` (times), ``y``, free variables ``alpha, beta, gamma, delta, x0, z0, sigma``,
        the Deterministic ``y_hat`` (dims ``obs_id, state``) and ``y_obs``.
    """
    t, y, t0 = _check_series(t, y, t0, n_states=2)
    try:
        medians = [check_positive(m, name="rate_medians") for m in rate_medians]
    except TypeError:
        raise ValueError(f"rate_medians must be 4 positive numbers; got {rate_medians!r}.") from None
    if len(medians) != 4:
        raise ValueError(f"rate_medians must be 4 positive numbers (alpha, beta, gamma, delta); got {rate_medians!r}.")
    priors = {
        "rate_medians": medians,
        "rate_log_sd": check_positive(rate_log_sd, name="rate_log_sd"),
        "state_scale": check_positive(state_scale, name="state_scale"),
    }
    settings, substeps = _solver_settings(t, priors, sigma_scale=sigma_scale, t0=t0, max_step=max_step)
    n = len(t)
    start = np.maximum(y[0], 1.0) if y is not None else np.array([settings["state_scale"]] * 2)
    with pm.Model(coords={OBS_DIM: np.arange(n), "state": ["prey", "predator"]}) as model:
        t_data = pm.Data("X", t, dims=(OBS_DIM,))
        rates = [
            pm.LogNormal(name, mu=np.log(m), sigma=settings["rate_log_sd"])
            for name, m in zip(LV_PARAMS, medians, strict=True)
        ]
        x0 = pm.HalfNormal("x0", settings["state_scale"], initval=float(start[0]))
        z0 = pm.HalfNormal("z0", settings["state_scale"], initval=float(start[1]))
        sigma = pm.HalfNormal("sigma", settings["sigma_scale"])
        states = odeint_rk4(
            lotka_volterra_rhs, pt.stack([x0, z0]), t_data, pt.stack(rates), t0=t0, substeps=substeps, n_times=n
        )
        y_hat = pm.Deterministic(OUTPUT, states, dims=(OBS_DIM, "state"))
        y_in = pm.Data("y", y, dims=(OBS_DIM, "state")) if y is not None else None
        pm.Normal("y_obs", mu=y_hat, sigma=sigma, observed=y_in, dims=(OBS_DIM, "state"))
    return tag_model(
        model, family="ode-lotka-volterra", settings=settings, output=OUTPUT, task="regression", rows_independent=False
    )
