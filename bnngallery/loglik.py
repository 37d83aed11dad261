"""The log-likelihood of every observation at a result's posterior draws, and the log densities
of a variational fit at those draws: what ArviZ's LOO needs (``arviz_stats.loo`` on any fit,
``loo_approximate_posterior`` on an ADVI fit).

:func:`add_log_likelihood` returns a copy of a result with

- a ``log_likelihood`` group: ``log p(y_i | theta_s)`` for each observed variable, per draw
  and observation, untempered (a tempered posterior's likelihood is scaled in the fit, not
  here), on the model's full data, minibatch or not;
- for an ADVI fit, ``sample_stats`` with ``lp`` (the log density the fit approximates:
  priors, the likelihood as the fit weighted it, the transforms' Jacobians, in the
  unconstrained space) and ``log_q`` (the fitted Gaussian's log density) at the same draws.

``fit`` calls it for every result whose draws x observations stay under
:data:`MAX_STORED_VALUES` (all the small gallery models); for a larger one (MNIST) pass
``draws`` to keep the first draws of each chain, recorded in the group's attributes.

PyMC's ``pm.compute_log_likelihood`` refuses the gallery's models (it cannot rebuild a model
whose builder set initial values), hence this module: the same JAX path as ``predict``.
:func:`add_posterior_predictive` adds replicated data (PyMC's ``sample_posterior_predictive``)
and the observations, for ArviZ's predictive checks, when asked.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pymc as pm
import xarray as xr

from .inference.jaxify import (
    JaxGraph,
    likelihood_weights,
    loglik_graph,
    minibatch_nodes,
    observed_shape,
    prior_graph,
)
from .inference.precision import precision_scope
from .results import check_result, is_vi, stored_gaussian
from .validation import check_positive_int, check_seed

#: ``fit`` stores the log-likelihood group without being asked up to this many values
#: (draws x observations; 8 bytes each).
MAX_STORED_VALUES = 5_000_000
#: Draws x observations evaluated in one call (bounds the forward pass's working memory).
VALUES_PER_CALL = 100_000


def _draws(result: xr.DataTree, names: list[str], draws: int | None) -> tuple[dict[str, np.ndarray], int, int]:
    """The posterior draws of ``names`` as ``(chain * kept, ...)`` arrays, and (chains, kept)."""
    post = result["posterior"]
    missing = [n for n in names if n not in post]
    if missing:
        raise ValueError(f"The result's posterior lacks {missing}; was it fitted on this model?")
    chains, total = post.sizes["chain"], post.sizes["draw"]
    kept = total if draws is None else min(check_positive_int(draws, name="draws"), total)
    out = {n: np.asarray(post[n].values[:, :kept]).reshape(chains * kept, *post[n].shape[2:]) for n in names}
    return out, chains, kept


def _evaluate(graph: JaxGraph, params: dict[str, np.ndarray]) -> list[np.ndarray]:
    """``graph`` at every draw of ``params`` (and every row of the data): one array per output,
    ``(draws, ...)``."""
    import jax
    import jax.numpy as jnp

    theta = [params[n] for n in graph.param_names]
    data = [jnp.asarray(v) for v in graph.data_values]
    n_draws = theta[0].shape[0]
    if graph.batch_size is None:
        row_calls: list[np.ndarray | None] = [None]
        probe = jax.eval_shape(lambda th: graph.fn(*th, *data), [jnp.asarray(t[0]) for t in theta])
        rows_per_call = max(int(np.prod(o.shape)) for o in probe)
    else:  # the graph keeps the minibatch's static size: batch_size rows per call, the last padded
        n, b = graph.n_rows or 0, graph.batch_size
        starts = range(0, n, b)
        row_calls = [np.minimum(np.arange(s, s + b), n - 1) for s in starts]
        rows_per_call = b

    def one(th, idx):
        return graph.fn(*th, *data, *([] if idx is None else [idx]))

    batched = jax.jit(jax.vmap(one, in_axes=(0, None)))
    chunk = max(1, VALUES_PER_CALL // max(rows_per_call, 1))
    outs: list[list[np.ndarray]] = []
    for d0 in range(0, n_draws, chunk):
        th = [jnp.asarray(t[d0 : d0 + chunk]) for t in theta]
        parts = [batched(th, None if idx is None else jnp.asarray(idx)) for idx in row_calls]
        if graph.batch_size is None:
            outs.append([np.asarray(o) for o in parts[0]])
        else:  # concatenate the row calls along the observation axis, dropping the padding
            n = graph.n_rows or 0
            joined = [np.concatenate([np.asarray(p[k]) for p in parts], axis=1) for k in range(len(parts[0]))]
            outs.append([j[:, :n] for j in joined])
    return [np.concatenate([o[k] for o in outs], axis=0) for k in range(len(outs[0]))]


def log_likelihood_dataset(model: pm.Model, result: xr.DataTree, *, draws: int | None = None) -> xr.Dataset:
    """``log p(y_i | theta_s)`` of each observed variable of ``model`` at the result's draws:
    dims ``(chain, draw, *the observed variable's dims)``.

    Parameters
    ----------
    model : pm.Model
        The model the result was fitted on (its data are the observations scored), or the same
        network built on other data of the same shape.
    result : xr.DataTree
        A result of :func:`bnngallery.fit`.
    draws : int, optional
        Keep the first ``draws`` draws of each chain (all by default).
    """
    result = check_result(result)
    with precision_scope("float64"):
        graph = loglik_graph(model)
        params, chains, kept = _draws(result, graph.param_names, draws)
        values = _evaluate(graph, params)
    out = {}
    for name, v in zip(graph.output_names, values, strict=True):
        dims = list(model.named_vars_to_dims.get(name, ()))
        if len(dims) != v.ndim - 1:
            dims = [f"{name}_dim_{i}" for i in range(v.ndim - 1)]
        out[name] = (["chain", "draw", *dims], v.reshape(chains, kept, *v.shape[1:]))
    coords = {"chain": result["posterior"]["chain"].values, "draw": result["posterior"]["draw"].values[:kept]}
    return xr.Dataset(out, coords=coords)


def approximation_log_densities(model: pm.Model, result: xr.DataTree, log_lik: xr.Dataset) -> xr.Dataset:
    """``lp`` (the log density an ADVI fit approximates) and ``log_q`` (the fitted Gaussian's),
    both in the unconstrained space, at the draws of ``log_lik`` (from
    :func:`log_likelihood_dataset` on the same model)."""
    if not is_vi(result):
        raise ValueError("lp and log_q apply to ADVI fits (a result with an 'approximation' group).")
    kept = log_lik.sizes["draw"]
    with precision_scope("float64"):
        graph = prior_graph(model)
        params, chains, _ = _draws(result, graph.param_names, kept)
        logprior, *unconstrained = _evaluate(graph, params)
    weights = likelihood_weights(model)
    lp = logprior + sum(
        weights[name] * log_lik[name].values.reshape(chains * kept, -1).sum(axis=1) for name in log_lik.data_vars
    )
    values = dict(zip(graph.output_names[1:], unconstrained, strict=True))
    order = json.loads(result["approximation"].attrs.get("flat_order", "[]")) or list(values)
    z = np.concatenate([values[k].reshape(len(lp), -1) for k in order], axis=1)
    log_q = stored_gaussian(result, order).log_density(z)
    sample = ("chain", "draw")
    return xr.Dataset(
        {"lp": (sample, lp.reshape(chains, kept)), "log_q": (sample, log_q.reshape(chains, kept))},
        coords={"chain": log_lik["chain"].values, "draw": log_lik["draw"].values},
    )


def add_log_likelihood(result: xr.DataTree, model: pm.Model, *, draws: int | None = None) -> xr.DataTree:
    """A copy of ``result`` with a ``log_likelihood`` group (and, for an ADVI fit,
    ``sample_stats`` with ``lp`` and ``log_q``), ready for ``arviz_stats.loo`` /
    ``loo_approximate_posterior`` / ``compare``.

    Parameters
    ----------
    result : xr.DataTree
        A result of :func:`bnngallery.fit` (or :func:`bnngallery.load_result`).
    model : pm.Model
        The model it was fitted on (minibatch or not: the full data are scored).
    draws : int, optional
        Keep only the first ``draws`` draws of each chain in the new groups (bounds memory on
        MNIST-size data); recorded in ``attrs["log_likelihood_draws"]``.
    """
    log_lik = log_likelihood_dataset(model, result, draws=draws)
    out = result.copy()
    out["log_likelihood"] = xr.DataTree(log_lik)
    if is_vi(result):
        stats = approximation_log_densities(model, result, log_lik)
        if "sample_stats" in result.children:
            stats = xr.merge([result["sample_stats"].to_dataset(), stats])
        out["sample_stats"] = xr.DataTree(stats)
    out.attrs["log_likelihood_draws"] = int(log_lik.sizes["draw"])
    return out


def stored_values(model: pm.Model, result: xr.DataTree) -> int:
    """How many values :func:`add_log_likelihood` would store for all draws: draws x observations."""
    post = result["posterior"]
    n_obs = sum(int(np.prod(observed_shape(model, rv))) for rv in model.observed_RVs)
    return int(post.sizes["chain"] * post.sizes["draw"] * n_obs)


def add_posterior_predictive(
    result: xr.DataTree, model: pm.Model, *, draws: int | None = None, random_seed: int = 0
) -> xr.DataTree:
    """A copy of ``result`` with ``posterior_predictive`` (replicated observations, one set
    per draw, by ``pm.sample_posterior_predictive``) and ``observed_data`` groups for the data
    of ``model``: the model the result was fitted on (a check on the training data) or the
    same network built on held-out data (``build_model(X_test, y_test, **settings)``), for
    ArviZ's predictive checks (``plot_ppc_pava``, ``plot_ppc_pit``, ...).

    ``model`` must be built without ``batch_size`` (a minibatch model would replicate one
    random batch). ``draws`` keeps the first draws of each chain (bounds the memory on large
    data; recorded in ``attrs["posterior_predictive_draws"]``).
    """
    result = check_result(result)
    if minibatch_nodes([model.rvs_to_values[rv] for rv in model.observed_RVs]):
        raise ValueError(
            "add_posterior_predictive needs a model built with batch_size=None: a minibatch model "
            "would replicate one random batch of the data."
        )
    post = result["posterior"].to_dataset()
    if draws is not None:
        post = post.isel(draw=slice(0, check_positive_int(draws, name="draws")))
    names = [rv.name for rv in model.free_RVs]
    source = xr.DataTree.from_dict({"posterior": post[names]})
    with warnings.catch_warnings():
        # PyMC samples the total_size wrapper of the observed variable in Numba's object mode:
        # a speed notice, not a fault.
        warnings.filterwarnings("ignore", message="Numba will use object mode", category=UserWarning)
        pp = pm.sample_posterior_predictive(
            source,
            model=model,
            var_names=[rv.name for rv in model.observed_RVs],
            random_seed=check_seed(random_seed),
            progressbar=False,
            extend_inferencedata=False,
        )
    out = result.copy()
    out["posterior_predictive"] = xr.DataTree(pp["posterior_predictive"].to_dataset())
    out["observed_data"] = xr.DataTree(pp["observed_data"].to_dataset())
    out.attrs["posterior_predictive_draws"] = int(post.sizes["draw"])
    return out
