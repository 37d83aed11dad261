"""MCMC convergence, by ArviZ."""

from __future__ import annotations


def max_rhat(result) -> float:
    """Largest rank-normalised R-hat over every posterior scalar (needs 2+ chains)."""
    import arviz_stats

    r = arviz_stats.rhat(result)
    return float(max(float(v.max()) for v in r.data_vars.values()))
