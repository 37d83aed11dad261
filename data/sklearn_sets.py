"""Small public data sets that ship with scikit-learn (generated or bundled: no download), split
into train and test halves: the data of the "bring your own data" gallery and its tests.

None of them was used to choose a builder default. Each loader returns a
:class:`~bnngallery.data.synthetic.SplitData`; the split is stratified for labels.
"""

from __future__ import annotations

import numpy as np

from ..validation import check_choice, check_seed
from .synthetic import SplitData

#: name -> (kind, what it tests)
REUSE_SETS = {
    "circles": ("binary", "two concentric rings: symmetric about the origin (a bias-free tanh net cannot fit it)"),
    "breast-cancer": ("binary", "30 features on scales from 1e-3 to 1e3, classes 37 / 63 %"),
    "imbalanced": ("binary", "8 features, 90 / 10 % classes"),
    "wine": ("multiclass", "13 features, 3 classes"),
    "digits": ("multiclass", "8x8 images, 10 classes"),
    "digits-rgb": ("multiclass", "8x8 images in 3 colour channels (a random tint per image), 10 classes"),
    "friedman": (
        "regression",
        "10 features (5 used), known function 10 sin(pi x1 x2) + 20 (x3 - 1/2)^2 + 10 x4 + 5 x5",
    ),
    "diabetes": ("regression", "10 features, 442 patients"),
}


def friedman_function(X: np.ndarray) -> np.ndarray:
    """The noise-free Friedman #1 function that ``make_friedman1`` adds noise to."""
    return 10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2 + 10 * X[:, 3] + 5 * X[:, 4]


def load_reuse_set(name: str, *, random_state: int = 0) -> SplitData:
    """The train/test halves of data set ``name`` (one of :data:`REUSE_SETS`)."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    check_choice(name, name="name", allowed=sorted(REUSE_SETS))
    check_seed(random_state, name="random_state")
    if name == "circles":
        X, y = datasets.make_circles(600, noise=0.1, factor=0.5, random_state=random_state)
    elif name == "breast-cancer":
        X, y = datasets.load_breast_cancer(return_X_y=True)
    elif name == "imbalanced":
        X, y = datasets.make_classification(
            1000, n_features=8, n_informative=4, weights=[0.9, 0.1], random_state=random_state
        )
    elif name == "wine":
        X, y = datasets.load_wine(return_X_y=True)
    elif name in ("digits", "digits-rgb"):
        X, y = datasets.load_digits(return_X_y=True)
        X = X.reshape(-1, 8, 8) / 16.0
        if name == "digits-rgb":
            tint = np.random.default_rng(random_state).uniform(0.3, 1.0, size=(len(X), 1, 1, 3))
            X = X[..., None] * tint
    elif name == "friedman":
        X, y = datasets.make_friedman1(600, n_features=10, noise=1.0, random_state=random_state)
    else:
        X, y = datasets.load_diabetes(return_X_y=True)
    stratify = y if REUSE_SETS[name][0] != "regression" else None
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.5, random_state=random_state, stratify=stratify)
    return SplitData(np.asarray(X_tr), np.asarray(y_tr), np.asarray(X_te), np.asarray(y_te))
