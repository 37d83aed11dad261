"""Is a fit any better than a constant? The check ``fit`` runs on every gallery model.

A collapsed fit is the silent failure of variational inference on neural nets: stochastic
ELBO ascent can settle on the prior, where the network predicts the class frequencies (or the
target's mean) for every input, and the loss curve looks converged. So after each fit the
approximation's posterior predictive on (up to :data:`MAX_ROWS` of) the training rows is
scored against the trivial predictor's, and for ADVI the share of weights whose fitted
Gaussian still sits on its prior is measured. A fit that gains less than
:data:`MIN_GAIN` nats per row is flagged with a :class:`CollapseWarning` that names the
likely causes and their fixes, and the numbers go into the result's ``collapse`` attribute.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pymc as pm
import xarray as xr
from scipy.special import logsumexp

from .inference.methods import REGISTRY
from .models import BUILDERS, get_builder
from .models.dense import NOISE
from .models.info import model_info
from .predict import predict

#: Training rows (a fixed random subset) and posterior draws the check predicts with.
MAX_ROWS = 1000
DRAWS = 30
#: A fit whose mean log predictive density on the training rows beats the trivial predictor's
#: by less than this many nats per row is flagged (a good fit gains far more).
MIN_GAIN = 0.01
#: A weight "sits on its prior" when its fitted sd is at least this share of the prior's and
#: its mean is within half a prior sd of the prior's centre.
ON_PRIOR_SD = 0.8


class CollapseWarning(UserWarning):
    """A fit that predicts its own training data no better than a constant."""


def _training_data(model: pm.Model):
    try:
        return np.asarray(model["X"].get_value()), np.asarray(model["y"].get_value())
    except (KeyError, AttributeError, TypeError):
        return None


def _log_scores(task: str, out: np.ndarray, y: np.ndarray, rows: np.ndarray, sigma: np.ndarray | None):
    """Per-row log predictive densities of the fit and of the trivial predictor, and the
    fit's and the trivial predictor's accuracy (None for regression). ``out`` holds the
    output per draw and row; ``sigma`` the regression noise sd per draw."""
    if task == "regression":
        assert sigma is not None
        mu, ys = out, y[rows]
        ll = -0.5 * ((ys - mu) / sigma[:, None]) ** 2 - np.log(sigma[:, None]) - 0.5 * np.log(2 * np.pi)
        fit_ll = logsumexp(ll, axis=0) - np.log(mu.shape[0])
        sd = y.std() if y.std() > 0 else 1.0
        trivial_ll = -0.5 * ((ys - y.mean()) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)
        return fit_ll, trivial_ll, None, None
    labels = y.astype(int)
    probs = out.mean(axis=0)
    if task == "binary":
        probs = np.stack([1.0 - probs, probs], axis=-1)
    k = probs.shape[-1]
    freq = np.bincount(labels, minlength=k) / len(labels)
    ys = labels[rows]
    fit_ll = np.log(np.clip(probs[np.arange(len(ys)), ys], 1e-300, None))
    trivial_ll = np.log(freq[ys])
    return fit_ll, trivial_ll, float(np.mean(probs.argmax(-1) == ys)), float(np.mean(ys == freq.argmax()))


def prior_sd(name: str, settings: dict) -> float | None:
    """The marginal prior sd of weight variable ``name`` of a gallery network, from its
    builder ``settings`` (None where they do not say): ``prior_sigma``, or ``scale_prior``
    when the layer scale is learned (``sigma ~ HalfNormal(c)`` gives ``w`` a marginal sd of
    ``c``), 1 for a non-centred ``_raw`` weight; the scale mixture shrinks it by
    ``sqrt(slab_weight + (1 - slab_weight) * spike_ratio**2)``. Every weight prior has mean 0."""
    if "prior_sigma" not in settings:
        return None
    if name.endswith("_raw"):
        sd = 1.0
    elif settings.get("hierarchical"):
        sd = float(settings["scale_prior"])
    else:
        sd = float(settings["prior_sigma"])
    if settings.get("prior") == "scale-mixture":
        w, r = float(settings["slab_weight"]), float(settings["spike_ratio"])
        sd *= float(np.sqrt(w + (1.0 - w) * r**2))
    return sd


def on_prior_fraction(model: pm.Model, result: xr.DataTree) -> float | None:
    """Share of the weight coordinates (``w_*`` variables) whose fitted Gaussian sits on the
    prior: sd at least :data:`ON_PRIOR_SD` of the prior's and mean within half a prior sd of 0.
    Computed from the prior's sd in closed form (:func:`prior_sd`): drawing from the prior
    compiled a sampler per layer, slow for the MNIST CNN on a CPU."""
    if "approximation" not in result.children:
        return None
    approx = result["approximation"]
    settings = model_info(model).settings
    hits = total = 0
    for rv in model.free_RVs:
        name = rv.name
        p_sd = prior_sd(name, settings)
        if not name.startswith("w_") or f"{name}_sd" not in approx or p_sd is None:
            continue
        sd, mean = np.asarray(approx[f"{name}_sd"].values), np.asarray(approx[f"{name}_mean"].values)
        on = (sd >= ON_PRIOR_SD * p_sd) & (np.abs(mean) <= 0.5 * p_sd)
        hits += int(on.sum())
        total += on.size
    return hits / total if total else None


def check_collapse(model: pm.Model, result: xr.DataTree, *, random_seed: int = 0) -> dict | None:
    """Score ``result`` on the training rows of ``model`` against the trivial predictor.

    Returns None for a model the check cannot read (not built by a gallery builder, or
    without ``X`` / ``y`` data); else a dict with the mean log predictive densities
    (``fit_lpd``, ``trivial_lpd``), their difference ``gain`` (nats per row), the
    accuracies for classifiers, ``on_prior`` (ADVI: share of weights on their prior),
    ``rows`` and ``collapsed``.
    """
    info = model_info(model)
    if info.task is None or info.family not in BUILDERS or info.output is None:
        return None
    data = _training_data(model)
    if data is None:
        return None
    X, y = data
    rng = np.random.default_rng(random_seed)
    rows = np.sort(rng.choice(len(X), size=min(MAX_ROWS, len(X)), replace=False))
    post = result["posterior"]
    total = post.sizes["chain"] * post.sizes["draw"]
    draws = min(DRAWS, total)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = predict(get_builder(info.family), result, X[rows], draws=draws, random_seed=random_seed)
    sigma = None
    if info.task == "regression":  # the same draws as predict's
        sel = np.sort(np.random.default_rng(random_seed).choice(total, size=draws, replace=False))
        sigma = np.asarray(post[NOISE].values).reshape(total)[sel]
    fit_ll, trivial_ll, acc, base_acc = _log_scores(info.task, np.asarray(out, dtype=np.float64), y, rows, sigma)
    gain = float(np.mean(fit_ll) - np.mean(trivial_ll))
    report = {
        "rows": int(len(rows)),
        "fit_lpd": float(np.mean(fit_ll)),
        "trivial_lpd": float(np.mean(trivial_ll)),
        "gain": gain,
        "accuracy": acc,
        "trivial_accuracy": base_acc,
        "on_prior": on_prior_fraction(model, result),
        "collapsed": bool(gain < MIN_GAIN),
    }
    return report


def collapse_message(report: dict, *, method: str, settings: dict, model_settings: dict) -> str:
    """The warning for a collapsed fit: what was measured, the likely causes, the fixes."""
    acc = (
        f", training accuracy {report['accuracy']:.3f} against {report['trivial_accuracy']:.3f} for the majority class"
        if report["accuracy"] is not None
        else ""
    )
    on_prior = (
        f"; {report['on_prior']:.0%} of the weights sit on their prior" if report.get("on_prior") is not None else ""
    )
    lines = [
        f"The {method} fit predicts its training data no better than a constant: mean log predictive "
        f"density {report['fit_lpd']:.4f} against {report['trivial_lpd']:.4f} for the class frequencies / "
        f"the mean (a gain of {report['gain']:.4f} nats per row){acc}{on_prior}. Likely causes and fixes:"
    ]
    if model_settings.get("bias") is False:
        lines.append(
            "- the network has no biases, so it may not be able to represent the data (a tanh net without "
            "biases has an odd logit and cannot separate data symmetric about the origin): bias=True;"
        )
    takes = REGISTRY[method].option_names if method in REGISTRY else ()  # advise only what the method takes
    if "init_sd" in takes:
        sd = settings.get("init_sd")
        shown = f"{sd:g}" if isinstance(sd, (int, float)) else "per layer"
        lines.append(
            f"- the initial posterior sd is too wide and the fit settled on the prior: a smaller init_sd (now {shown});"
        )
    if "restarts" in takes:
        lines.append("- a poor local optimum of the ELBO: restarts=3 keeps the best of three fits;")
    if "steps" in takes:
        lines.append(f"- too few steps (now {settings.get('steps')}) or too small a learning_rate: more steps;")
    lines.append(
        "- features without signal, or a network too small for the data: compare with NUTS or a "
        "non-Bayesian baseline on the same data."
    )
    return "\n".join(lines)


def flag_collapse(model: pm.Model, result: xr.DataTree, *, method: str, random_seed: int = 0) -> xr.DataTree:
    """Run :func:`check_collapse`, store its report in ``result.attrs["collapse"]`` and warn
    (:class:`CollapseWarning`) when the fit collapsed. Returns ``result``."""
    report = check_collapse(model, result, random_seed=random_seed)
    if report is None:
        return result
    result.attrs["collapse"] = json.dumps(report, sort_keys=True)
    if report["collapsed"]:
        settings = json.loads(result.attrs.get("settings", "{}"))
        message = collapse_message(report, method=method, settings=settings, model_settings=model_info(model).settings)
        warnings.warn(message, CollapseWarning, stacklevel=3)
    return result
