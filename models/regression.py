"""The 1-D regression BNN of the torchbnn article (source D): ``y = x^5 - 10 x + noise``.

Hidden dense layers with biases (ReLU by default) map ``x`` to the mean ``mu`` of a Gaussian
likelihood whose noise ``sigma`` is learned. The network works on a standardised target:
``mu = y_loc + y_scale * net(x)``, where ``y_loc`` / ``y_scale`` are the training target's
mean and sd. They are stored in the builder settings, so a prediction model rebuilt from a
result (``predict(build_model, result, X_new)``) uses the same constants. ``sigma`` is
reported on the data's scale, with a ``HalfNormal(noise_prior * y_scale)`` prior.

The article uses one hidden layer of 1000 ReLU units with Normal(0, 0.1) priors; the
default here (50 units, Normal(0, 1) on the standardised scale) is small enough for NUTS
to check in about a minute on a laptop CPU.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from .info import tag_model
from .layers import OBS_DIM, data_and_batches, get_activation
from .validation import check_batch_size, check_features, check_hidden, check_positive

#: Name of the Deterministic holding the predictive mean of y.
OUTPUT = "mu"
#: Name of the observation-noise standard deviation (on the data's scale).
NOISE = "sigma"


def _check_targets(y, *, n_rows: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"y must be a 1-D array of real targets; got shape {arr.shape}.")
    if len(arr) != n_rows:
        raise ValueError(f"y has {len(arr)} values but X has {n_rows} rows; they must match.")
    if not (np.issubdtype(arr.dtype, np.number) and not np.issubdtype(arr.dtype, np.complexfloating)):
        raise ValueError(f"y must hold real numbers; got dtype {arr.dtype}.")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("y contains NaN or infinite values; drop them before building the model.")
    return arr


def build_model(
    X,
    y=None,
    *,
    hidden=(50,),
    activation: str = "relu",
    prior_sigma: float = 1.0,
    noise_prior: float = 1.0,
    y_loc: float | None = None,
    y_scale: float | None = None,
    batch_size: int | None = None,
    random_seed: int = 0,
) -> pm.Model:
    """Build the Gaussian-likelihood regression BNN.

    Parameters
    ----------
    X : array of shape (n, 1)
        Inputs; finite numbers.
    y : array of shape (n,), optional
        Targets. ``None`` builds a prediction model whose ``y_obs`` is unobserved.
    hidden : sequence of int
        Hidden-layer widths (article: one layer of 1000).
    activation : str
        One of ``models.layers.ACTIVATIONS``; ``"relu"`` (article) or ``"tanh"``.
    prior_sigma : float
        Standard deviation of the Normal prior on every weight and bias (standardised scale).
    noise_prior : float
        Scale of the HalfNormal prior on ``sigma``, in units of ``y_scale``.
    y_loc, y_scale : float, optional
        Centre and scale of the target. Default: the mean and sd of ``y`` (or 0 and 1 when
        ``y`` is None). A prediction model must get the values the fit used; ``predict``
        passes them from the result's stored settings.
    batch_size : int, optional
        Minibatch size for the likelihood; ``None`` uses all rows every step.
    random_seed : int
        Seed of the random initial weights and biases.

    Returns
    -------
    pm.Model
        With data containers ``X``/``y``, weights ``w_in``, ``w_1``, ..., ``w_out``, biases
        ``b_in``, ..., ``b_out``, the noise ``sigma``, the Deterministic ``mu`` and the
        likelihood ``y_obs``.
    """
    X = check_features(X, n_features=1)
    hidden = check_hidden(hidden)
    act = get_activation(activation)
    prior_sigma = check_positive(prior_sigma, name="prior_sigma")
    noise_prior = check_positive(noise_prior, name="noise_prior")
    n = X.shape[0]
    if y is not None:
        y = _check_targets(y, n_rows=n)
        batch_size = check_batch_size(batch_size, n_rows=n)
    else:
        batch_size = None  # a prediction model evaluates every row
    if y_loc is None:
        y_loc = float(y.mean()) if y is not None else 0.0
    if y_scale is None:
        y_scale = float(y.std()) if y is not None and y.std() > 0 else 1.0
    y_loc = float(y_loc)
    if not np.isfinite(y_loc):
        raise ValueError(f"y_loc must be a finite number; got {y_loc!r}.")
    y_scale = check_positive(y_scale, name="y_scale")
    rng = np.random.default_rng(random_seed)

    coords = {"feature": np.arange(1)}
    coords.update({f"hidden_{i}": np.arange(w) for i, w in enumerate(hidden)})
    dims = ["feature", *[f"hidden_{i}" for i in range(len(hidden))]]
    widths = [1, *hidden]
    with pm.Model(coords=coords) as model:
        X_in, y_in, total_size = data_and_batches(X, y, batch_size=batch_size)
        h = X_in
        for i in range(len(hidden)):
            name = "in" if i == 0 else str(i)
            W = pm.Normal(
                f"w_{name}",
                0.0,
                prior_sigma,
                dims=(dims[i], dims[i + 1]),
                initval=rng.normal(0.0, np.sqrt(2.0 / widths[i]), size=(widths[i], widths[i + 1])),
            )
            # Random start biases spread the ReLU kinks over the inputs; all-zero biases
            # would put every kink at x = 0 and start the optimiser on a symmetric point.
            b = pm.Normal(
                f"b_{name}", 0.0, prior_sigma, dims=(dims[i + 1],), initval=rng.normal(0.0, 1.0, size=widths[i + 1])
            )
            h = act(pt.dot(h, W) + b)
        W_out = pm.Normal(
            "w_out",
            0.0,
            prior_sigma,
            dims=(dims[-1],),
            initval=rng.normal(0.0, 1.0 / np.sqrt(widths[-1]), size=widths[-1]),
        )
        b_out = pm.Normal("b_out", 0.0, prior_sigma, initval=0.0)
        sigma = pm.HalfNormal(NOISE, sigma=noise_prior * y_scale, initval=0.5 * y_scale)
        obs_dims = OBS_DIM if batch_size is None else None
        mu = pm.Deterministic(OUTPUT, y_loc + y_scale * (pt.dot(h, W_out) + b_out), dims=obs_dims)
        size_kw = {"total_size": total_size} if y is not None else {}
        pm.Normal("y_obs", mu=mu, sigma=sigma, observed=y_in, dims=obs_dims, **size_kw)
    settings = {
        "hidden": list(hidden),
        "activation": activation,
        "prior_sigma": prior_sigma,
        "noise_prior": noise_prior,
        "y_loc": y_loc,
        "y_scale": y_scale,
        "batch_size": batch_size,
        "random_seed": int(random_seed),
    }
    return tag_model(model, family="regression", settings=settings, output=OUTPUT, task="regression")
