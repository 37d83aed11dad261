"""Synthetic data sets with known truth: the two-moons classification problem.

Every generator takes an explicit ``random_state`` and returns named arrays, so a
notebook, a test and the CLI all see exactly the same data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..validation import check_flag, check_nonnegative, check_open_unit, check_positive_int, check_seed


@dataclass(frozen=True)
class SplitData:
    """A train/test split of features ``X`` and targets ``y``."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @property
    def n_test(self) -> int:
        return len(self.y_test)


def make_moons_data(
    n_samples: int = 1000,
    *,
    noise: float = 0.2,
    random_state: int = 0,
    test_fraction: float = 0.5,
    standardize: bool = True,
) -> SplitData:
    """Two interleaving half-moons, as in the PyMC Bayesian deep learning article.

    Parameters
    ----------
    n_samples : int
        Total number of points (train + test). The article uses 1000.
    noise : float
        Standard deviation of the Gaussian noise added to the points (article: 0.2).
    random_state : int
        Seed for both the generator and the split (article: 0).
    test_fraction : float
        Share of points held out for testing (article: 0.5).
    standardize : bool
        Scale each feature to zero mean and unit variance (statistics of the full sample,
        as the article's ``scale`` call does).

    Returns
    -------
    SplitData
        ``X_*`` float64 of shape (n, 2); ``y_*`` int64 labels in {0, 1}.
    """
    from sklearn.datasets import make_moons
    from sklearn.model_selection import train_test_split

    if check_positive_int(n_samples, name="n_samples") < 4:
        raise ValueError(f"n_samples must be at least 4 to split into train and test; got {n_samples}.")
    check_open_unit(test_fraction, name="test_fraction")
    check_nonnegative(noise, name="noise")
    check_seed(random_state, name="random_state")
    check_flag(standardize, name="standardize")
    X, y = make_moons(noise=noise, n_samples=n_samples, random_state=random_state)
    X = X.astype(np.float64)
    if standardize:
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_fraction, random_state=random_state)
    return SplitData(X_train, y_train.astype(np.int64), X_test, y_test.astype(np.int64))
