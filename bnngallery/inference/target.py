"""The model's exact full-data log density as a function of one flat vector.

Minibatch ADVI, ensembles and SGLD follow unbiased minibatch estimates of the log density;
the Laplace Hessian, Pathfinder's L-BFGS and the flow fit need the exact one. A model built
with ``batch_size`` keeps its batch's static size in the graph, so the exact density is
the mean over windows of rows (:func:`full_data_batches`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .advi import Layout
from .jaxify import logp_graph


def full_data_batches(n_rows: int | None, batch_size: int | None, *, rows_once: bool = False):
    """Minibatches whose mean log density is exactly the full-data one, or None without a
    minibatch.

    A minibatch graph's log density is the prior plus the batch's likelihood scaled by
    ``total_size / batch_size``. Windows of ``batch_size`` consecutive rows (wrapping
    around), starting every ``gcd(n_rows, batch_size)`` rows, hold every row equally often,
    so their mean is the prior plus the whole likelihood, scaled as PyMC scales it (a
    tempered model stays tempered). That reads each row ``batch_size / gcd`` times (8 for
    60000 rows in batches of 256); ``rows_once`` starts the windows every ``batch_size``
    rows instead: the likelihood's total weight is still exact, but where ``batch_size``
    does not divide ``n_rows`` the rows the last window wraps onto count twice (160 of
    MNIST's 60000 in batches of 256: each row's weight within 0.3 %).
    """
    import jax.numpy as jnp

    if batch_size is None or n_rows is None:
        return None
    stride = batch_size if rows_once else math.gcd(n_rows, batch_size)
    starts = np.arange(0, n_rows, stride)
    return jnp.asarray((starts[:, None] + np.arange(batch_size)) % n_rows)


def window_logp(model, *, rows_once: bool = False) -> tuple[Callable, Any, Layout]:
    """``(logp, windows, layout)``: ``logp(values, rows)`` is the log density at the
    unconstrained ``values`` (one array per variable of ``layout``) on the minibatch ``rows``,
    one of ``windows`` (:func:`full_data_batches`, ``rows_once`` passed on), whose mean is the full-data density;
    without a minibatch, ``windows`` is None and ``logp(values, None)`` is the full-data
    density. Call it inside the :func:`~bnngallery.inference.precision.precision_scope` it
    should run in."""
    import jax.numpy as jnp

    graph = logp_graph(model)
    layout = Layout(graph.param_names, graph.param_shapes)
    data = [jnp.asarray(v) for v in graph.data_values]

    def logp(values, rows):
        return graph.logp(values, data, rows)

    return logp, full_data_batches(graph.n_rows, graph.batch_size, rows_once=rows_once), layout


def full_data_logp(model) -> tuple[Callable, Layout]:
    """``(logp, layout)``: ``logp(z)`` is the full-data log density (priors, Jacobians,
    likelihood) at the flat unconstrained vector ``z``, laid out by ``layout``. Call it
    inside the :func:`~bnngallery.inference.precision.precision_scope` it should run in."""
    import jax
    import jax.numpy as jnp

    window, batches, layout = window_logp(model)

    def logp(z):
        values = layout.unflatten(z)
        if batches is None:
            return window(values, None)
        return jnp.mean(jax.lax.map(lambda rows: window(values, rows), batches))

    return logp, layout
