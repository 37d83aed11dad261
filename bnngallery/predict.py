"""Posterior predictive probabilities (or means) for new inputs, per posterior draw.

The model's output Deterministic is compiled to JAX as a function of the free random
variables and the data, vmapped over draws, and evaluated in chunks of rows and draws so
memory stays bounded however many images and draws are asked for.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pymc as pm
import xarray as xr

from .jaxify import forward_graph
from .results import model_settings_of

#: Refuse predictions whose output alone would exceed this many bytes (float32).
MAX_OUTPUT_BYTES = 8 * 1024**3


def _stacked_draws(result: xr.DataTree, names: list[str], draws: int | None, random_seed: int) -> dict[str, np.ndarray]:
    post = result["posterior"].to_dataset() if isinstance(result, xr.DataTree) else result
    missing = [n for n in names if n not in post]
    if missing:
        raise ValueError(f"The result's posterior lacks {missing}; was it fitted on this model family?")
    total = post.sizes["chain"] * post.sizes["draw"]
    sel = np.arange(total)
    if draws is not None:
        if draws > total:
            raise ValueError(f"draws={draws} but the result holds only {total} posterior draws.")
        sel = np.sort(np.random.default_rng(random_seed).choice(total, size=draws, replace=False))
    out = {}
    for n in names:
        arr = post[n].values
        out[n] = arr.reshape(total, *arr.shape[2:])[sel]
    return out


def prediction_model(model_or_builder, result: xr.DataTree, X_new) -> pm.Model:
    """The model to predict with: a builder is called on ``X_new`` with the result's settings."""
    if isinstance(model_or_builder, pm.Model):
        if X_new is None:
            return model_or_builder
        with model_or_builder:
            try:
                pm.set_data({"X": X_new})
            except Exception as err:
                raise ValueError(
                    f"Could not swap X_new into the model ({err}); pass the builder instead, "
                    "e.g. predict(build_model, result, X_new)."
                ) from err
        return model_or_builder
    if not callable(model_or_builder):
        raise ValueError(f"predict needs a pm.Model or a builder function; got {type(model_or_builder).__name__}.")
    if X_new is None:
        raise ValueError("X_new is required when predicting with a builder.")
    settings = {k: v for k, v in model_settings_of(result).items() if k != "batch_size"}
    return model_or_builder(X_new, None, **settings)


def predict(
    model_or_builder: pm.Model | Callable[..., pm.Model],
    result: xr.DataTree,
    X_new=None,
    *,
    output: str | None = None,
    draws: int | None = None,
    chunk_rows: int = 4096,
    chunk_draws: int = 100,
    random_seed: int = 0,
) -> np.ndarray:
    """Evaluate the model's output for every posterior draw.

    Parameters
    ----------
    model_or_builder : pm.Model or callable
        A builder (``models.moons.build_model``) is called as ``builder(X_new, None, **settings)``
        with the builder settings stored in ``result``; a model is used as it is, with
        ``X_new`` swapped into its ``X`` container when given.
    result : xarray.DataTree
        A fit result.
    X_new : array, optional
        Inputs to predict for.
    output : str, optional
        The Deterministic to evaluate; defaults to the model's declared output (``p``).
    draws : int, optional
        Use a random subset of this many posterior draws (all by default).
    chunk_rows, chunk_draws : int
        Evaluate at most this many rows x draws at once.
    random_seed : int
        Seed of the draw subset.

    Returns
    -------
    np.ndarray
        float32, shape ``(n_draws, n_rows, ...)``, e.g. P(y = 1) per draw for moons.
    """
    import jax
    import jax.numpy as jnp

    for name, v in {"chunk_rows": chunk_rows, "chunk_draws": chunk_draws}.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
            raise ValueError(f"{name} must be a positive integer; got {v!r}.")
    model = prediction_model(model_or_builder, result, X_new)
    output = output or getattr(model, "gallery_info", {}).get("output")
    if output is None:
        raise ValueError("The model declares no output; pass output='<Deterministic name>'.")
    graph = forward_graph(model, output)
    params = _stacked_draws(result, graph.param_names, draws, random_seed)
    for name, shape in zip(graph.param_names, graph.param_shapes, strict=True):
        stored = params[name].shape[1:]
        if any(a is not None and a != b for a, b in zip(shape, stored, strict=True)):
            raise ValueError(
                f"The result's {name} has shape {stored} but this model needs {tuple(shape)}: X_new must "
                "have the same columns (features) as the data the result was fitted on."
            )
    n_draws = next(iter(params.values())).shape[0]
    x_pos = graph.data_names.index("X") if "X" in graph.data_names else None
    X_all = graph.data_values[x_pos] if x_pos is not None else None
    n_rows = X_all.shape[0] if X_all is not None else 1

    fn = graph.fn
    data = list(graph.data_values)

    def one(theta, X):
        d = list(data)
        if x_pos is not None:
            d[x_pos] = X
        return fn(*theta, *d)[0]

    batched = jax.jit(jax.vmap(one, in_axes=(0, None)))
    if not getattr(model, "gallery_info", {}).get("rows_independent", True):
        chunk_rows = max(n_rows, 1)  # e.g. an ODE solution: each row depends on the whole grid
    probe = jax.eval_shape(lambda th, X: one([t[0] for t in th], X),
                           [jnp.asarray(params[n]) for n in graph.param_names],
                           X_all[:chunk_rows] if X_all is not None else None)
    per_row = probe.shape[1:] if X_all is not None else probe.shape
    need = 4 * n_draws * n_rows * int(np.prod(per_row, dtype=int))
    if need > MAX_OUTPUT_BYTES:
        raise MemoryError(
            f"Predicting {n_draws} draws x {n_rows} rows x {per_row} would need {need / 1024**3:.1f} GiB; "
            "pass draws=<fewer> or predict on fewer rows at a time."
        )
    out = np.empty((n_draws, n_rows, *per_row), dtype=np.float32)
    theta_all = [params[n] for n in graph.param_names]
    for d0 in range(0, n_draws, chunk_draws):
        theta = [jnp.asarray(t[d0:d0 + chunk_draws]) for t in theta_all]
        for r0 in range(0, n_rows, chunk_rows):
            X = X_all[r0:r0 + chunk_rows] if X_all is not None else None
            out[d0:d0 + chunk_draws, r0:r0 + chunk_rows] = np.asarray(batched(theta, X))
    return out
