"""Synthetic ODE data with known truth: exponential decay (article E) and Lotka-Volterra.

The generators solve the ODE in closed form (decay) or with SciPy's adaptive solver at a
tight tolerance (Lotka-Volterra), add Gaussian noise from an explicit seed and return the
truth with the data, so a fit can be scored against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..validation import check_nonnegative, check_positive_int, check_seed


@dataclass(frozen=True)
class ODEData:
    """Noisy observations ``y`` of an ODE solution at times ``t``, with the parameters that made them.

    ``truth`` maps parameter names to the true values (``y0``, ``r``, ``sigma`` for the
    decay model); ``y_true`` is the noise-free solution at ``t``.
    """

    t: np.ndarray
    y: np.ndarray
    y_true: np.ndarray
    truth: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.t)


def _check_grid(n_points, t_max, t_min=0.0):
    check_positive_int(n_points, name="n_points")
    if check_nonnegative(t_max, name="t_max") <= t_min:
        raise ValueError(f"t_max must be a finite number above t_min={t_min}; got {t_max!r}.")


def _observed(t: np.ndarray, y_true: np.ndarray, truth: dict, random_state) -> ODEData:
    """``y_true`` plus Gaussian noise of sd ``truth["sigma"]`` drawn from the seed ``random_state``."""
    rng = np.random.default_rng(check_seed(random_state, name="random_state"))
    y = y_true + rng.normal(0.0, truth["sigma"], size=y_true.shape)
    return ODEData(t=t, y=y, y_true=y_true, truth={k: float(v) for k, v in truth.items()})


def decay_solution(t, *, y0: float, r: float) -> np.ndarray:
    """The closed form ``y0 * exp(-r t)`` of ``dy/dt = -r y`` (the solver's test oracle)."""
    return y0 * np.exp(-r * np.asarray(t, dtype=np.float64))


def make_decay_data(
    n_points: int = 20,
    *,
    y0: float = 5.0,
    r: float = 0.4,
    sigma: float = 0.2,
    t_max: float = 10.0,
    random_state: int = 0,
) -> ODEData:
    """Noisy observations of ``y(t) = y0 exp(-r t)`` on an even grid over ``[0, t_max]``.

    Parameters
    ----------
    n_points : int
        Number of observation times (default 20).
    y0, r : float
        Initial value and decay rate (defaults 5 and 0.4, the article's setting).
    sigma : float
        Standard deviation of the Gaussian observation noise (default 0.2).
    t_max : float
        Last observation time; the grid starts at 0.
    random_state : int
        Seed of the noise.

    Returns
    -------
    ODEData
        ``t`` and ``y`` of shape (n_points,), ``truth = {"y0", "r", "sigma"}``.
    """
    _check_grid(n_points, t_max)
    truth = {"y0": y0, "r": r, "sigma": sigma}
    for name, v in truth.items():
        check_nonnegative(v, name=name)
    t = np.linspace(0.0, float(t_max), int(n_points))
    return _observed(t, decay_solution(t, y0=y0, r=r), truth, random_state)


def lotka_volterra_solution(
    t, *, x0: float, z0: float, alpha: float, beta: float, gamma: float, delta: float
) -> np.ndarray:
    """Prey and predator numbers at times ``t`` (shape (n, 2)), solved by SciPy at rtol 1e-10."""
    from scipy.integrate import solve_ivp

    t = np.asarray(t, dtype=np.float64)

    def f(_, s):
        x, z = s
        return [alpha * x - beta * x * z, delta * x * z - gamma * z]

    sol = solve_ivp(f, (0.0, float(t.max())), [x0, z0], t_eval=t, method="DOP853", rtol=1e-10, atol=1e-10)
    if not sol.success:  # pragma: no cover - the defaults are well inside the solver's range
        raise RuntimeError(f"SciPy could not solve the Lotka-Volterra system: {sol.message}")
    return sol.y.T


def make_lotka_volterra_data(
    n_points: int = 30,
    *,
    x0: float = 10.0,
    z0: float = 5.0,
    alpha: float = 1.0,
    beta: float = 0.1,
    gamma: float = 1.5,
    delta: float = 0.075,
    sigma: float = 1.0,
    t_max: float = 15.0,
    random_state: int = 0,
) -> ODEData:
    """Noisy prey/predator counts from the Lotka-Volterra system on an even grid over ``(0, t_max]``.

    Parameters
    ----------
    n_points : int
        Number of observation times.
    x0, z0 : float
        Initial prey and predator numbers.
    alpha, beta, gamma, delta : float
        Prey growth, predation, predator death and predator growth rates.
    sigma : float
        Standard deviation of the Gaussian noise on both series.
    t_max : float
        Last observation time.
    random_state : int
        Seed of the noise.

    Returns
    -------
    ODEData
        ``t`` (n,), ``y`` (n, 2) with columns prey, predator; ``truth`` holds every argument
        above except the grid.
    """
    _check_grid(n_points, t_max)
    truth = {"x0": x0, "z0": z0, "alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta, "sigma": sigma}
    for name, v in truth.items():
        check_nonnegative(v, name=name)
    t = np.linspace(float(t_max) / n_points, float(t_max), int(n_points))
    y_true = lotka_volterra_solution(t, x0=x0, z0=z0, alpha=alpha, beta=beta, gamma=gamma, delta=delta)
    return _observed(t, y_true, truth, random_state)
