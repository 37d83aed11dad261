"""Pareto k-hat of a Gaussian approximation (ADVI, Laplace): did the fit work?

Draws from the Gaussian q are importance-weighted against the model's full-data log
density and a generalised Pareto distribution is fitted to the weights' upper tail
(Yao, Vehtari, Simpson and Gelman 2018, "Yes, but did it work?"): below 0.5 the
approximation is good, below 0.7 usable (importance-weighted estimates are reliable),
above 0.7 it is too far from the posterior to be trusted as one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from ..inference.advi import Layout
from ..inference.jaxify import logp_graph
from ..inference.precision import precision_scope
from ..models import call_builder
from ..results import fit_label, is_vi, model_settings_of, stored_gaussian
from ..validation import check_positive_int

#: Yao et al. (2018): k-hat below this, the approximation is good.
KHAT_GOOD = 0.5


#: Above this the importance weights have too heavy a tail: the approximation is not usable.
KHAT_USABLE = 0.7


def verdict(khat: float) -> str:
    """Yao et al.'s reading of a k-hat value."""
    if np.isnan(khat):
        return "undetermined"
    if khat < KHAT_GOOD:
        return "good"
    if khat < KHAT_USABLE:
        return "usable"
    return "unreliable"


def full_data_model(builder: Callable, result: xr.DataTree, X, y):
    """Rebuild the model a result was fitted on, on full data (``batch_size=None``).

    A minibatch ELBO only estimates the full-data one; k-hat needs the exact log density.
    """
    settings = {k: v for k, v in model_settings_of(result).items() if k != "batch_size"}
    return call_builder(builder, X, y, **settings, batch_size=None)


def vi_khat(result: xr.DataTree, model, *, draws: int = 2000, random_seed: int = 0) -> dict:
    """Pareto k-hat of an ADVI approximation q against the model's log density p.

    Draws ``z_s ~ q`` in the unconstrained space, computes the log importance ratios
    ``log p(z_s) - log q(z_s)`` (``p`` = joint density with Jacobians, on the data of
    ``model``, which should be the full-data model: see :func:`full_data_model`), and fits a
    generalised Pareto distribution to their upper tail (``arviz_stats`` PSIS).

    Parameters
    ----------
    result : xarray.DataTree
        An ADVI result (with an ``approximation`` group).
    model : pm.Model
        The model whose log density is the target, built without ``batch_size``.
    draws : int
        Number of draws from q (Yao et al. use thousands).
    random_seed : int
        Seed of the draws.

    Returns
    -------
    dict
        ``khat``, ``khat_verdict`` ("good" < 0.5 <= "usable" < 0.7 <= "unreliable"),
        ``khat_ess`` (relative effective sample size of the smoothed weights),
        ``khat_draws`` and ``khat_q``: "mean-field", "full-rank" or "low-rank" (the fit's
        stored covariance), or "marginal" (the diagonal Gaussian with the fit's marginal
        sds) when the covariance was stored in another variable order.
    """
    from arviz_stats.base import array_stats

    if check_positive_int(draws, name="draws") < 100:
        raise ValueError(f"draws must be an integer >= 100 for a stable Pareto fit; got {draws!r}.")
    if not is_vi(result):
        raise ValueError(f"{fit_label(result)} has no 'approximation' group; k-hat applies to Gaussian fits only.")
    with precision_scope("float64"):  # the model's own precision
        log_p, log_q, q = _log_ratios(result, model, draws=int(draws), random_seed=random_seed)
    log_ratio = log_p - log_q
    if not np.all(np.isfinite(log_ratio)):
        khat, ess = float("inf"), 0.0
    elif np.ptp(log_ratio) < 1e-8 * max(1.0, float(np.abs(log_ratio).max())):
        khat, ess = float("-inf"), 1.0  # equal weights up to rounding: q is the posterior
    else:
        try:
            # arviz_stats' PSIS takes negated log ratios (its input is a log-likelihood,
            # whose negative is the LOO log ratio).
            lw, khat = array_stats.psislw(-log_ratio, r_eff=1.0)
            w = np.exp(lw - lw.max())
            w /= w.sum()
            ess = float(1.0 / np.sum(w**2) / len(w))
        except ValueError:  # all ratios equal: q is the posterior
            khat, ess = float("-inf"), 1.0
    return {
        "khat": float(khat),
        "khat_verdict": verdict(float(khat)),
        "khat_ess": ess,
        "khat_draws": int(draws),
        "khat_q": q,
    }


def _log_ratios(result, model, *, draws: int, random_seed: int):
    """``log p(z_s)`` and ``log q(z_s)`` at ``draws`` draws from q, and the kind of q used."""
    import jax
    import jax.numpy as jnp

    graph = logp_graph(model)
    if graph.batch_size is not None:
        raise ValueError(
            "k-hat needs the full-data log density; build the model with batch_size=None (full_data_model does this)."
        )
    q = stored_gaussian(result, graph.param_names)
    layout = Layout(graph.param_names, graph.param_shapes)
    data = [jnp.asarray(v) for v in graph.data_values]

    def logp(z):
        return graph.fn(*layout.unflatten(z), *data)[0]

    z = q.draw(np.random.default_rng(random_seed), int(draws))
    log_q = q.log_density(z)
    log_p = np.asarray(jax.jit(lambda zz: jax.lax.map(logp, zz, batch_size=256))(jnp.asarray(z)))
    return log_p, log_q, q.kind
