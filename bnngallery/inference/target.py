"""The model's exact full-data log density as a function of one flat vector.

Minibatch ADVI, ensembles and SGLD follow unbiased minibatch estimates of the log density;
the Laplace Hessian, Pathfinder's L-BFGS and the flow fit need the exact one. A model built
with ``batch_size`` keeps its batch's static size in the graph, so the exact density is
the mean over windows of rows (:func:`full_data_batches`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .advi import Layout
from .jaxify import logp_graph


def full_data_batches(n_rows: int | None, batch_size: int | None):
    """Minibatches whose mean log density is exactly the full-data one, or None without a
    minibatch.

    A minibatch graph's log density is the prior plus the batch's likelihood scaled by
    ``total_size / batch_size``. Windows of ``batch_size`` consecutive rows (wrapping
    around), starting every ``gcd(n_rows, batch_size)`` rows, hold every row equally often,
    so their mean is the prior plus the whole likelihood, scaled as PyMC scales it (a
    tempered model stays tempered).
    """
    import jax.numpy as jnp

    if batch_size is None or n_rows is None:
        return None
    stride = math.gcd(n_rows, batch_size)
    starts = np.arange(0, n_rows, stride)
    return jnp.asarray((starts[:, None] + np.arange(batch_size)) % n_rows)


def full_data_logp(model) -> tuple[Callable, Layout]:
    """``(logp, layout)``: ``logp(z)`` is the full-data log density (priors, Jacobians,
    likelihood) at the flat unconstrained vector ``z``, laid out by ``layout``. Call it
    inside the :func:`~bnngallery.inference.precision.precision_scope` it should run in."""
    import jax
    import jax.numpy as jnp

    graph = logp_graph(model)
    layout = Layout(graph.param_names, graph.param_shapes)
    data = [jnp.asarray(v) for v in graph.data_values]
    batches = full_data_batches(graph.n_rows, graph.batch_size)

    def logp(z):
        values = layout.unflatten(z)
        if batches is None:
            return graph.fn(*values, *data)[0]
        return jnp.mean(jax.lax.map(lambda idx: graph.fn(*values, *data, idx)[0], batches))

    return logp, layout
