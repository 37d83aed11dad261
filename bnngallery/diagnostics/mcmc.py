"""MCMC convergence, by ArviZ (``arviz_stats``).

A BNN's weights are not identifiable (permuting hidden units, flipping signs give the same
function), so chains that explore different modes give weight R-hat far above 1 while the
predictions agree: :func:`function_space_convergence` reads R-hat and ESS of the predictions at
test points, where the chains should agree, and :func:`nuts_diagnostics` those of the weights
only as a record, next to divergences and BFMI.
"""

from __future__ import annotations

import numpy as np


def max_rhat(result) -> float:
    """Largest rank-normalised R-hat over every posterior scalar (needs 2+ chains)."""
    import arviz_stats

    r = arviz_stats.rhat(result)
    return float(max(float(v.max()) for v in r.data_vars.values()))


def nuts_diagnostics(result) -> dict:
    """``arviz_stats.diagnose`` of a NUTS fit, as numbers for a metrics file: ``divergences``,
    ``bfmi_min`` (below 0.3: the energy distribution shows poor exploration), ``max_rhat``
    and the least ``ess_bulk`` / ``ess_tail`` over every posterior scalar (for network weights
    a record only: label switching inflates their R-hat; see the module docstring)."""
    import arviz_stats

    _, found = arviz_stats.diagnose(result, return_diagnostics=True, show_diagnostics=False)
    ess_bulk = arviz_stats.ess(result, method="bulk")
    ess_tail = arviz_stats.ess(result, method="tail")
    return {
        "divergences": int(found["divergent"]["n_divergent"]),
        "bfmi_min": float(np.min(found["bfmi"]["bfmi_values"])),
        "max_rhat": max_rhat(result),
        "ess_bulk_min": float(min(float(v.min()) for v in ess_bulk.data_vars.values())),
        "ess_tail_min": float(min(float(v.min()) for v in ess_tail.data_vars.values())),
    }


def function_space_convergence(draws, chains: int) -> dict:
    """R-hat and ESS of predictions: ``draws`` as ``predict`` returns them for *all* draws
    (``predict(..., draws=None)``): ``(chains * draws, rows, ...)`` with each chain's draws
    together (a random subset mixes the chains). Returns ``function_rhat_max`` and
    ``function_ess_bulk_min`` over the rows (and outputs)."""
    from arviz_stats.base import array_stats

    d = np.asarray(draws, dtype=np.float64)
    if chains < 2 or d.shape[0] % chains:
        raise ValueError(f"draws must hold whole chains of 2 or more; got {d.shape[0]} draws for chains={chains}.")
    d = d.reshape(chains, d.shape[0] // chains, -1)
    keep = np.ptp(d, axis=(0, 1)) > 0  # a constant prediction (P = 1 everywhere) has no R-hat
    if not keep.any():
        return {"function_rhat_max": 1.0, "function_ess_bulk_min": float(d.shape[0] * d.shape[1])}
    d = d[..., keep]
    return {
        "function_rhat_max": float(np.max(array_stats.rhat(d, chain_axis=0, draw_axis=1))),
        "function_ess_bulk_min": float(np.min(array_stats.ess(d, chain_axis=0, draw_axis=1, method="bulk"))),
    }
