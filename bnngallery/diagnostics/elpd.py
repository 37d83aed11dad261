"""Expected log predictive density by leave-one-out (PSIS-LOO), computed by ArviZ.

Every fit gets ``arviz_stats.loo`` on its ``log_likelihood`` group (stored by ``fit``; see
:mod:`bnngallery.loglik`). An ADVI fit also gets ``arviz_stats.loo_approximate_posterior``,
which reweights its draws by ``lp - log_q`` so the estimate is of the true posterior's ELPD,
not the approximation's; its Pareto k values say whether that reweighting can be trusted
(on a network's weight space it rarely can: hundreds of dimensions). The fits are ranked by
``arviz_stats.compare``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np
import xarray as xr

from ..results import fit_label, is_vi

#: ArviZ warns when a Pareto k passes its threshold; the tables report the k values instead.
_PARETO_WARNING = "Estimated shape parameter of Pareto distribution"


@contextmanager
def _quiet_pareto() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_PARETO_WARNING, category=UserWarning)
        yield


def has_log_likelihood(result: xr.DataTree) -> bool:
    """Whether ``result`` carries the pointwise log-likelihood ArviZ's LOO needs."""
    return "log_likelihood" in result.children


def _require(result: xr.DataTree) -> None:
    if not has_log_likelihood(result):
        raise ValueError(
            f"{fit_label(result)} has no log_likelihood group; add it with "
            "bnngallery.loglik.add_log_likelihood(result, model) (fit stores it for models up to "
            "bnngallery.loglik.MAX_STORED_VALUES draws x observations)."
        )


def elpd_loo(result: xr.DataTree, *, approximate: bool = False):
    """PSIS-LOO of ``result`` (``arviz_stats.ELPDData``, pointwise). With ``approximate``
    (ADVI fits), ``loo_approximate_posterior`` with the result's ``lp`` and ``log_q``."""
    import arviz_stats as azs

    _require(result)
    post = result["posterior"]
    if post.sizes.get("chain", 1) * post.sizes.get("draw", 1) < 2:  # ArviZ's tail fit dies with an IndexError
        raise ValueError(f"{fit_label(result)}: {ONE_DRAW}")
    with _quiet_pareto():
        if not approximate:
            return azs.loo(result, pointwise=True)
        if not _has_log_q(result):
            raise ValueError(f"{fit_label(result)} is not an ADVI fit with lp and log_q; use approximate=False.")
        stats = result["sample_stats"]
        return azs.loo_approximate_posterior(result, log_p=stats["lp"], log_q=stats["log_q"], pointwise=True)


def _summary(elpd, prefix: str) -> dict:
    k = np.asarray(elpd.pareto_k).ravel()
    return {
        f"{prefix}": float(elpd.elpd),
        f"{prefix}_se": float(elpd.se),
        f"{prefix}_p": float(elpd.p),
        f"{prefix}_khat_max": float(np.nanmax(k)),
        f"{prefix}_khat_bad": int(np.sum(k > elpd.good_k)),
        f"{prefix}_good_k": float(elpd.good_k),
    }


def loo_summary(result: xr.DataTree) -> dict:
    """The numbers of a fit's LOO for a table: ``elpd_loo`` with ``_se``, ``_p`` (effective
    parameters), ``_khat_max`` and ``_khat_bad`` (observations above ArviZ's ``_good_k``); an
    ADVI fit adds the same under ``elpd_loo_vi`` (approximation-corrected). Empty without a
    log_likelihood group; ``elpd_loo_skipped`` with ArviZ's reason where PSIS cannot run (too
    few draws for its tail fit)."""
    if not has_log_likelihood(result):
        return {}
    try:
        out = _summary(elpd_loo(result), "elpd_loo")
        if _has_log_q(result):
            out.update(_summary(elpd_loo(result, approximate=True), "elpd_loo_vi"))
    except ValueError as err:
        if not _psis_refused(err):
            raise
        return {"elpd_loo_skipped": f"ArviZ's PSIS-LOO refused this fit: {err}"}
    return out


def _has_log_q(result: xr.DataTree) -> bool:
    return is_vi(result) and "sample_stats" in result.children and "log_q" in result["sample_stats"].data_vars


#: Why a fit of one draw (a point mass) has no PSIS-LOO.
ONE_DRAW = "PSIS-LOO needs more than one draw, and this fit has one (a point mass)."


def _psis_refused(err: ValueError) -> bool:
    """ArviZ's refusal to fit a Pareto tail: too few draws (a smoke run's 20), or a tail of
    one repeated value (Pathfinder's importance resampling draws with replacement); or one draw."""
    return any(s in str(err) for s in ("n_draws_tail", "All tail values are the same", ONE_DRAW))


def loo_ranking(results: Mapping[str, xr.DataTree]):
    """``arviz_stats.compare`` of the fits that carry a log-likelihood (plain PSIS-LOO for each,
    so an ADVI fit is scored by its own draws): a DataFrame, best first, or None with fewer
    than two fits PSIS can run on (a fit it refuses, e.g. for too few draws, is left out; its
    :func:`loo_summary` says why)."""
    import arviz_stats as azs

    elpds = {}
    for key, result in results.items():
        if not has_log_likelihood(result):
            continue
        try:
            elpds[key] = elpd_loo(result)
        except ValueError as err:
            if not _psis_refused(err):
                raise
    if len(elpds) < 2:
        return None
    with _quiet_pareto():
        return azs.compare(elpds, round_to="6g")
