"""Building blocks shared by the gallery's PyMC models: data containers, dense layers, priors.

A builder composes these inside a ``pm.Model`` context. Every weight gets named dims,
and initial values are drawn from an explicit seed: a tanh network started at all-zero
weights sits on a saddle point, which is why the PyMC article draws random start values.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

OBS_DIM = "obs_id"

ACTIVATIONS = {
    "tanh": pt.tanh,
    "relu": lambda x: pt.maximum(x, 0.0),
    "sigmoid": pt.sigmoid,
    "softplus": pt.softplus,
    "mish": lambda x: x * pt.tanh(pt.softplus(x)),
}


def get_activation(name: str):
    """Return the activation function called ``name`` or raise a ValueError naming the choices."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {name!r}.") from None


def data_and_batches(X: np.ndarray, y: np.ndarray | None, *, batch_size: int | None, y_dims=OBS_DIM):
    """Register ``X`` (and ``y``) as ``pm.Data`` and return the tensors the likelihood should see.

    With ``batch_size`` set, both are wrapped in one ``pm.Minibatch`` so the rows of a batch
    stay paired; the returned tensors then hold ``batch_size`` random rows per step.

    Returns
    -------
    X_in, y_in, total_size
        ``y_in`` is None when ``y`` is None (a prediction model); ``total_size`` is the
        number of rows, to be passed to the likelihood so minibatch log-likelihoods are
        scaled up to the full data.
    """
    x_dims = (OBS_DIM, *[f"{OBS_DIM}_dim{i}" for i in range(1, X.ndim)])
    if X.ndim == 2:
        x_dims = (OBS_DIM, "feature")
    X_data = pm.Data("X", X, dims=x_dims)
    y_data = pm.Data("y", y, dims=y_dims) if y is not None else None
    if batch_size is None:
        return X_data, y_data, X.shape[0]
    if y_data is None:
        raise ValueError("batch_size only applies to a model with observed y; use batch_size=None to predict.")
    X_in, y_in = pm.Minibatch(X_data, y_data, batch_size=batch_size)
    return X_in, y_in, X.shape[0]


def init_weights(shape: tuple[int, ...], *, fan_in: int, rng: np.random.Generator, scale: float = 1.0):
    """Random start values, ``Normal(0, scale / sqrt(fan_in))``: keeps tanh units out of saturation."""
    return rng.normal(0.0, scale / np.sqrt(fan_in), size=shape)


def dense_layer(
    name: str,
    inputs,
    *,
    n_in: int,
    n_out: int,
    in_dim: str,
    out_dim: str,
    sigma,
    rng: np.random.Generator,
    bias: bool = False,
    init_scale: float = 1.0,
):
    """Add a Bayesian dense layer ``inputs @ W (+ b)`` with ``W ~ Normal(0, sigma)``.

    ``sigma`` may be a number or a random variable (a hierarchical scale). Returns the
    pre-activation tensor.
    """
    W = pm.Normal(
        f"w_{name}",
        0.0,
        sigma,
        dims=(in_dim, out_dim),
        initval=init_weights((n_in, n_out), fan_in=n_in, rng=rng, scale=init_scale),
    )
    out = pt.dot(inputs, W)
    if bias:
        b = pm.Normal(f"b_{name}", 0.0, sigma, dims=(out_dim,), initval=np.zeros(n_out))
        out = out + b
    return out


def tag_model(model: pm.Model, *, family: str, settings: dict, output: str, task: str,
              advi_init_sd: float | None = None, rows_independent: bool = True) -> pm.Model:
    """Record what the engine needs to know about a built model.

    ``family`` names the builder (``models.BUILDERS``), ``settings`` are the keyword
    arguments that rebuild the same network (stored with every fit so a result can be
    re-applied to new data and checked on load), ``output`` is the Deterministic holding
    the predictive parameter and ``task`` is ``"binary"``, ``"multiclass"`` or
    ``"regression"``. ``advi_init_sd`` is the initial posterior sd that suits this
    network (``fit`` uses it unless told otherwise): small for wide nets, whose units
    saturate under wide initial noise; near the prior scale for small ones, which a
    narrow start can trap in a solution with pruned hidden units. ``rows_independent``
    is False where the output for one row of X depends on the others (an ODE solution on a
    time grid), so prediction must not split X into chunks of rows.
    """
    model.gallery_info = {"family": family, "settings": dict(settings), "output": output, "task": task}
    model.gallery_info["rows_independent"] = bool(rows_independent)
    if advi_init_sd is not None:
        model.gallery_info["advi_init_sd"] = float(advi_init_sd)
    return model
