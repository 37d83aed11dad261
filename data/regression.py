"""Article D's 1-D regression data: ``y = x^5 - 10 x + noise`` on ``x in [-2, 2]``.

The torchbnn article fits 500 points on ``[-2, 2]``. Here the noise is Gaussian (sd 1 by
default), so a Gaussian-likelihood model is correctly specified and its 90 % predictive
band should cover about 90 % of held-out points; the article's ``2 * U(0, 1)`` noise would
make coverage a test of the likelihood instead of the posterior. Extrapolation points on
``[-3, -2) U (2, 3]`` have no training data nearby: there the epistemic uncertainty of a
Bayesian network must grow.

Every call takes an explicit ``random_state``; nothing here imports the models or the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..validation import check_positive, check_positive_int, check_seed
from .synthetic import SplitData


def true_function(x) -> np.ndarray:
    """The noise-free curve ``x^5 - 10 x`` of article D."""
    x = np.asarray(x, dtype=np.float64)
    return x**5 - 10.0 * x


@dataclass(frozen=True)
class RegressionData(SplitData):
    """Train/test split on ``[lo, hi]`` plus extrapolation points outside it.

    ``X_*`` are float64 of shape (n, 1), ``y_*`` float64 of shape (n,); ``f_extrap`` is the
    noise-free curve at ``X_extrap``.
    """

    X_extrap: np.ndarray
    y_extrap: np.ndarray
    f_extrap: np.ndarray
    noise_sd: float
    x_range: tuple[float, float]


def make_regression_data(
    n_train: int = 500,
    n_test: int = 500,
    *,
    noise_sd: float = 1.0,
    x_range: tuple[float, float] = (-2.0, 2.0),
    extrap_width: float = 1.0,
    n_extrap: int = 100,
    random_state: int = 0,
) -> RegressionData:
    """Draw article D's data set.

    Parameters
    ----------
    n_train, n_test : int
        Points drawn uniformly on ``x_range`` for fitting and for held-out scoring
        (article: 500 training points).
    noise_sd : float
        Standard deviation of the Gaussian noise added to ``x^5 - 10 x``.
    x_range : (float, float)
        Interval the training and test inputs come from (article: ``[-2, 2]``).
    extrap_width : float
        Extrapolation points lie within this distance outside ``x_range`` on both sides.
    n_extrap : int
        Number of extrapolation points (half on each side, evenly spaced).
    random_state : int
        Seed of the inputs and the noise.

    Returns
    -------
    RegressionData
    """
    check_positive_int(n_train, name="n_train")
    check_positive_int(n_test, name="n_test")
    if check_positive_int(n_extrap, name="n_extrap") < 2:
        raise ValueError(f"n_extrap must be at least 2 (one point on each side); got {n_extrap!r}.")
    check_positive(noise_sd, name="noise_sd")
    lo, hi = (float(v) for v in x_range)
    if not lo < hi:
        raise ValueError(f"x_range must be (low, high) with low < high; got {x_range!r}.")
    check_positive(extrap_width, name="extrap_width")
    rng = np.random.default_rng(check_seed(random_state, name="random_state"))

    def draw(n):
        x = np.sort(rng.uniform(lo, hi, size=n))
        return x[:, None], true_function(x) + rng.normal(0.0, noise_sd, size=n)

    X_train, y_train = draw(int(n_train))
    X_test, y_test = draw(int(n_test))
    half = int(n_extrap) // 2
    x_ext = np.concatenate(
        [
            np.linspace(lo - extrap_width, lo, half, endpoint=False),
            np.linspace(hi, hi + extrap_width, int(n_extrap) - half + 1)[1:],
        ]
    )
    f_ext = true_function(x_ext)
    y_ext = f_ext + rng.normal(0.0, noise_sd, size=x_ext.size)
    return RegressionData(X_train, y_train, X_test, y_test, x_ext[:, None], y_ext, f_ext, float(noise_sd), (lo, hi))
