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

from .files import jsonable
from .inference.jaxify import forward_graph
from .inference.precision import precision_scope
from .models import BUILDERS, get_builder
from .models.info import model_info
from .results import check_result, model_settings_of
from .validation import check_positive_int, check_seed

#: Refuse predictions whose output alone would exceed this many bytes (float32).
MAX_OUTPUT_BYTES = 8 * 1024**3

#: Working memory one chunk may use: chunks of rows x draws are shrunk until the compiled
#: evaluation's temporaries fit (a CNN's im2col patches take ~0.4 MB per image and draw).
WORK_BYTES = 2 * 1024**3

#: Builder settings that shape only a fit's start or its minibatches, not the network a
#: posterior draw defines: a prediction model may differ from the fitted one in these.
START_ONLY = ("batch_size", "random_seed", "advi_init_sd", "init_scale", "bias_init_sd")


def _stacked_draws(result: xr.DataTree, names: list[str], draws: int | None, random_seed: int) -> dict[str, np.ndarray]:
    post = result["posterior"].to_dataset() if isinstance(result, xr.DataTree) else result
    missing = [n for n in names if n not in post]
    if missing:
        raise ValueError(f"The result's posterior lacks {missing}; was it fitted on this model family?")
    total = post.sizes["chain"] * post.sizes["draw"]
    sel = np.arange(total)
    if draws is not None:
        draws = check_positive_int(draws, name="draws")
        if draws > total:
            raise ValueError(f"draws={draws} but the result holds only {total} posterior draws.")
        sel = np.sort(np.random.default_rng(random_seed).choice(total, size=draws, replace=False))
    out = {}
    for n in names:
        arr = post[n].values
        out[n] = arr.reshape(total, *arr.shape[2:])[sel]
        bad = int(np.size(out[n]) - np.count_nonzero(np.isfinite(out[n])))
        if bad:
            raise ValueError(
                f"The result's posterior draws of {n!r} hold {bad} NaN or infinite value(s), so every prediction "
                "would be NaN; the fit diverged or the file is damaged. Fit again (a smaller learning_rate, "
                "or float64) or load an intact result."
            )
    return out


def builder_family(builder) -> str | None:
    """The gallery name of a builder function (``"moons"``), or None for a user's own."""
    for name in BUILDERS:
        if get_builder(name) is builder:
            return name
    return None


def check_same_network(result: xr.DataTree, family: str | None, settings: dict | None = None) -> None:
    """Refuse to apply ``result`` to a network other than the one it was fitted on: another
    model family, or builder ``settings`` that differ (beyond :data:`START_ONLY`) from the
    ones stored in the result, with both shown."""
    stored_family = result.attrs.get("model_family")
    if family is not None and stored_family is not None and family != stored_family:
        raise ValueError(
            f"This result is a fit of the {stored_family!r} model, not {family!r}; predict with its builder, "
            f"bnngallery.models.get_builder({stored_family!r}), or with the model it was fitted on."
        )
    stored = model_settings_of(result)
    if settings is None or not stored:
        return
    current = jsonable(settings)
    diff = {
        k: (stored.get(k), current.get(k))
        for k in sorted(set(stored) | set(current))
        if k not in START_ONLY and stored.get(k) != current.get(k)
    }
    if diff:
        shown = "; ".join(f"{k}: fitted {a!r}, this model {b!r}" for k, (a, b) in diff.items())
        raise ValueError(
            f"This model was built with other settings than the fit ({shown}), so the posterior draws would "
            "be applied to another network. Predict with the builder, predict(build_model, result, X_new), "
            "which rebuilds the fitted network from the result's settings."
        )


def prediction_model(model_or_builder, result: xr.DataTree, X_new) -> pm.Model:
    """The model to predict with: a builder is called on ``X_new`` with the result's settings
    (after checking it is the builder of the result's model family); a model is checked
    against the result's stored builder settings (:func:`check_same_network`)."""
    if isinstance(model_or_builder, pm.Model):
        info = model_info(model_or_builder)
        check_same_network(result, info.family, info.settings if info.family is not None else None)
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
    check_same_network(result, builder_family(model_or_builder))
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
        Evaluate at most this many rows x draws at once; both shrink further when XLA's
        memory analysis says a chunk's temporaries would exceed ``WORK_BYTES``.
    random_seed : int
        Seed of the draw subset.

    Returns
    -------
    np.ndarray
        float32, shape ``(n_draws, n_rows, ...)``, e.g. P(y = 1) per draw for moons.
    """
    chunk_rows = check_positive_int(chunk_rows, name="chunk_rows")
    chunk_draws = check_positive_int(chunk_draws, name="chunk_draws")
    random_seed = check_seed(random_seed)
    result = check_result(result)
    model = prediction_model(model_or_builder, result, X_new)
    with precision_scope("float64"):  # the PyMC graph's own precision
        return _predict(
            model,
            result,
            output=output,
            draws=draws,
            chunk_rows=chunk_rows,
            chunk_draws=chunk_draws,
            random_seed=random_seed,
        )


def _predict(model, result, *, output, draws, chunk_rows, chunk_draws, random_seed) -> np.ndarray:
    import jax
    import jax.numpy as jnp

    info = model_info(model)
    output = output or info.output
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
    if not info.rows_independent:
        chunk_rows = max(n_rows, 1)  # e.g. an ODE solution: each row depends on the whole grid
    probe = jax.eval_shape(
        lambda th, X: one([t[0] for t in th], X),
        [jnp.asarray(params[n]) for n in graph.param_names],
        X_all[:chunk_rows] if X_all is not None else None,
    )
    per_row = probe.shape[1:] if X_all is not None else probe.shape
    need = 4 * n_draws * n_rows * int(np.prod(per_row, dtype=int))
    if need > MAX_OUTPUT_BYTES:
        raise MemoryError(
            f"Predicting {n_draws} draws x {n_rows} rows x {per_row} would need {need / 1024**3:.1f} GiB; "
            "pass draws=<fewer> or predict on fewer rows at a time."
        )
    out = np.empty((n_draws, n_rows, *per_row), dtype=np.float32)
    theta_all = [params[n] for n in graph.param_names]
    rows_fixed = not info.rows_independent or X_all is None
    chunk_draws, chunk_rows = _fit_chunks(
        batched, theta_all, X_all, min(chunk_draws, n_draws), min(chunk_rows, n_rows), rows_fixed=rows_fixed
    )
    for d0 in range(0, n_draws, chunk_draws):
        theta = [jnp.asarray(t[d0 : d0 + chunk_draws]) for t in theta_all]
        for r0 in range(0, n_rows, chunk_rows):
            X = X_all[r0 : r0 + chunk_rows] if X_all is not None else None
            out[d0 : d0 + chunk_draws, r0 : r0 + chunk_rows] = np.asarray(batched(theta, X))
    return out


def _fit_chunks(batched, theta_all, X_all, chunk_draws: int, chunk_rows: int, *, rows_fixed: bool) -> tuple[int, int]:
    """Shrink (draws, rows) per chunk until the compiled chunk's temporaries fit in ``WORK_BYTES``.

    Compiles one small probe chunk and reads XLA's memory analysis; the working memory of
    an evaluation grows linearly with draws x rows. Backends without the analysis keep the
    requested sizes.
    """
    import jax.numpy as jnp

    d_probe = min(chunk_draws, 2)
    r_probe = chunk_rows if rows_fixed else min(chunk_rows, 16)
    theta = [jnp.asarray(t[:d_probe]) for t in theta_all]
    X = X_all[:r_probe] if X_all is not None else None
    try:
        analysis = batched.lower(theta, X).compile().memory_analysis()
        per_cell = (analysis.temp_size_in_bytes + analysis.output_size_in_bytes) / (d_probe * r_probe)
    except Exception:  # noqa: BLE001 - no analysis on this backend: keep the requested sizes
        return chunk_draws, chunk_rows
    cells = max(1, int(WORK_BYTES // max(per_cell, 1.0)))
    if rows_fixed:  # rows depend on each other (an ODE grid): only the draws can shrink
        return max(1, min(chunk_draws, cells // max(chunk_rows, 1))), chunk_rows
    rows = max(1, min(chunk_rows, cells // chunk_draws if cells >= chunk_draws else 1))
    draws = max(1, min(chunk_draws, cells // rows))
    return draws, rows
