"""``fit``: one entry point for every approximation of a model's posterior.

``fit(model, method, **options)`` looks ``method`` up in the registry of methods
(:mod:`bnngallery.inference.methods`, one module and one record per method), checks the
options by one rule (each option by its name; one the method does not take is refused,
naming those it does), runs the method's fitter and assembles the result the same way for
every method (:mod:`bnngallery.results`). The methods, their options and defaults are listed
from the registry in the docs (``docs/api.md``) and by :func:`describe_methods`. (The module
is ``fitting`` so that ``bnngallery.fit`` stays the function.)
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from .inference.advi_loop import DEFAULT_INIT_SD, ADVIDivergenceError
from .inference.jaxify import require_jax_ops, require_observed
from .inference.methods import REGISTRY, SAMPLERS, Call, Method, get_method, parse_options, require_package
from .inference.methods.base import resolve_init_sd
from .inference.output import FitOutput, to_result
from .loglik import MAX_STORED_VALUES, add_log_likelihood, stored_values
from .models.info import model_info
from .results import final_elbo
from .validation import check_choice, check_flag, check_seed

BACKENDS = ("jax", "pytensor")
#: fit's own keywords, which every method takes.
FIT_KEYWORDS = ("backend", "random_seed", "progressbar", "check_collapse", "log_likelihood")
__all__ = ["BACKENDS", "FIT_KEYWORDS", "SAMPLERS", "describe_methods", "fit", "prepare", "refuse_discrete"]


def __getattr__(name: str):
    # METHODS reads the registry when asked, so a method registered later is listed too.
    if name == "METHODS":
        return tuple(REGISTRY)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def refuse_discrete(model: pm.Model, method: str) -> None:
    """Refuse a model with discrete free variables: ADVI's Gaussian families and NUTS need
    continuous ones (JAX ADVI would otherwise fit the labels as real numbers, silently)."""
    discrete = [rv.name for rv in model.free_RVs if rv.type.dtype.startswith(("int", "uint", "bool"))]
    if discrete:
        raise ValueError(
            f"method={method!r} needs continuous free variables, but {discrete} "
            f"{'is' if len(discrete) == 1 else 'are'} discrete, and no method of fit() handles that. "
            "Marginalise them out (pymc_extras.marginalize), or sample the model with pm.sample, which "
            "pairs NUTS with a Gibbs or Metropolis step for discrete variables."
        )


def prepare(model, method: str, backend: str, options: dict, *, random_seed=0, progressbar=True):
    """Check everything about a fit before anything compiles: the method's record, the
    :class:`~bnngallery.inference.methods.Call` and its options with every default filled."""
    if not isinstance(model, pm.Model):
        raise ValueError(f"model must be a pymc.Model (from a gallery builder); got {type(model).__name__}.")
    spec = get_method(method)
    check_choice(backend, name="backend", allowed=BACKENDS)
    if backend not in spec.backends:
        raise ValueError(
            f"method={method!r} runs on backend {' or '.join(map(repr, spec.backends))} only; got backend={backend!r}."
        )
    opts = parse_options(spec, model, options, fixed=FIT_KEYWORDS)
    require_observed(model)
    refuse_discrete(model, method)
    info = model_info(model)
    call = Call(model, info, backend, check_seed(random_seed), progressbar)
    given = frozenset(k for k, v in options.items() if v is not None)
    opts = dataclasses.replace(opts, **_model_defaults(opts, call))
    if spec.check is not None:
        spec.check(call, opts, given)
    if backend == "jax":
        for module in spec.needs:
            require_package(module, f"method={method!r} with backend='jax'")
        if getattr(opts, "sampler", None) != "pymc":  # PyMC's own NUTS compiles the model itself
            on_pytensor = ", ".join(n for n, m in REGISTRY.items() if "pytensor" in m.backends)
            require_jax_ops(
                model,
                f"method={method!r} with backend='jax'",
                f"Fit it with backend='pytensor' ({on_pytensor}), which PyMC compiles without JAX.",
            )
    return spec, call, opts


def _model_defaults(opts, call: Call) -> dict[str, Any]:
    """The defaults that depend on the backend or the model, for the options left at None."""
    names = {f.name for f in dataclasses.fields(opts)}
    out: dict[str, Any] = {}
    if "lr_schedule" in names and opts.lr_schedule is None:
        out["lr_schedule"] = "cosine" if call.backend == "jax" else "constant"
    if "init_sd" in names and opts.init_sd is None:  # the builder's, checked as a given one is
        builder_sd = call.info.advi_init_sd
        out["init_sd"] = DEFAULT_INIT_SD if builder_sd is None else resolve_init_sd(call.model, builder_sd)
    return out


def fit(
    model: pm.Model,
    method: str = "advi",
    *,
    backend: str = "jax",
    random_seed: int = 0,
    progressbar: bool = True,
    check_collapse: bool = True,
    log_likelihood: bool | None = None,
    **options,
) -> xr.DataTree:
    """Fit ``model`` by ADVI, another approximation, or NUTS and return a result DataTree.

    Parameters
    ----------
    model : pm.Model
        A model from a gallery builder (or any PyMC model with observed data).
    method : str
        A registered method (:data:`METHODS`; ``docs/api.md`` lists each with its options).
    backend : {"jax", "pytensor"}
        ``"jax"`` compiles the fit to JAX (NUTS: NumPyro's sampler); ``"pytensor"`` uses
        PyMC's own ``pm.fit`` and ``pm.sample`` (ADVI and NUTS only).
    random_seed : int
        Seeds everything random in the fit; same seed, same backend -> same numbers.
    progressbar : bool
        Show progress bars.
    check_collapse : bool
        On a gallery model, score the fit's posterior predictive on (up to 1000) training
        rows against a constant predictor and warn with a
        :class:`~bnngallery.collapse.CollapseWarning` when it is no better; the numbers go
        into ``attrs["collapse"]`` (:mod:`bnngallery.collapse`).
    log_likelihood : bool, optional
        Store the pointwise log-likelihood at every draw (and for ADVI ``lp`` and ``log_q``)
        so ArviZ's LOO runs on the result. Default: when draws x observations stay under
        :data:`bnngallery.loglik.MAX_STORED_VALUES`.
    **options
        The method's own options (``steps``, ``learning_rate``, ``draws``, ``chains``, ...),
        each checked; one the method does not take is refused, naming those it takes. A
        value of None means the method's default.

    Returns
    -------
    xarray.DataTree
        See :mod:`bnngallery.results`.
    """
    spec, call, opts = prepare(model, method, backend, options, random_seed=random_seed, progressbar=progressbar)
    if log_likelihood is not None:
        check_flag(log_likelihood, name="log_likelihood")
    restarts = getattr(opts, "restarts", 1)
    if restarts > 1:
        result = _best_of_restarts(spec, call, opts, restarts)
    else:
        result = _fit_once(spec, call, opts)
    if log_likelihood:
        result = add_log_likelihood(result, model)
    elif log_likelihood is None and stored_values(model, result) <= MAX_STORED_VALUES:
        try:
            result = add_log_likelihood(result, model)
        except Exception as err:  # noqa: BLE001 - a model PyMC cannot score pointwise still gets its fit
            warnings.warn(
                f"The fit is complete, but its pointwise log-likelihood could not be computed ({err}); "
                "ArviZ's LOO will not run on this result. fit(..., log_likelihood=True) raises the error.",
                stacklevel=2,
            )
    if check_collapse and not int(result.attrs.get("interrupted", 0)):
        from .collapse import flag_collapse

        flag_collapse(model, result, method=method, random_seed=call.random_seed)
    return result


def recorded_settings(spec: Method, call: Call, opts) -> dict:
    """The settings a result records: the method's options (those set), its fixed settings
    (optimiser, family) and the seed."""
    out = {k: v for k, v in dataclasses.asdict(opts).items() if v is not None and k != "devices"}
    if out.get("restarts") == 1:
        del out["restarts"]
    return {**out, **spec.settings, "random_seed": call.random_seed}


def _fit_once(spec: Method, call: Call, opts) -> xr.DataTree:
    """One fit by ``spec``'s fitter, as a result DataTree (a diverged ADVI fit's partial
    result too, on the error)."""

    def result_of(out) -> xr.DataTree:
        return to_result(
            call.model,
            out,
            info=call.info,
            method=spec.name,
            backend=call.backend,
            settings=recorded_settings(spec, call, opts),
        )

    try:
        out = spec.fitter(call, opts)
    except ADVIDivergenceError as err:
        # an ADVI fit's state up to the divergence is that fit's result; a MAP method's is one
        # MAP run of several steps, left as the engine's output
        if isinstance(err.result, FitOutput) and spec.kind == "gaussian_vi":
            err.result = result_of(err.result)
        raise
    return result_of(out)


def _best_of_restarts(spec: Method, call: Call, opts, restarts: int) -> xr.DataTree:
    """Fit ``restarts`` times with consecutive seeds; keep the highest final ELBO."""
    results = []
    for i in range(restarts):
        results.append(_fit_once(spec, dataclasses.replace(call, random_seed=call.random_seed + i), opts))
        if int(results[-1].attrs.get("interrupted", 0)):
            break  # Ctrl-C: hand back the interrupted fit, marked so
    elbos = [-np.inf if (e := final_elbo(r)) is None else e for r in results]
    best = len(results) - 1 if int(results[-1].attrs.get("interrupted", 0)) else int(np.argmax(elbos))
    out = results[best]
    out.attrs["settings"] = json.dumps(
        {**json.loads(out.attrs["settings"]), "restarts": restarts, "random_seed": call.random_seed}, sort_keys=True
    )
    out.attrs["restart_elbos"] = json.dumps([float(e) for e in elbos])
    out.attrs["restart_chosen"] = best
    out.attrs["compile_seconds"] = float(sum(float(r.attrs["compile_seconds"]) for r in results))
    out.attrs["run_seconds"] = float(sum(float(r.attrs["run_seconds"]) for r in results))
    out.attrs["fit_seconds"] = out.attrs["compile_seconds"] + out.attrs["run_seconds"]
    return out


def describe_methods() -> str:
    """The registered methods as a Markdown table: name, what it is, backends, data, options
    with their defaults (None: chosen from the model or backend at fit time). The docs'
    API page is generated from it, so it cannot drift from the code."""
    lines = [
        "| method | what it is | backends | data | options (default) |",
        "|---|---|---|---|---|",
    ]
    for spec in REGISTRY.values():
        options = ", ".join(f"`{k}` ({v!r})" for k, v in spec.defaults().items())
        data = "minibatch" if spec.minibatch else "full data"
        lines.append(f"| `{spec.name}` | {spec.summary} | {', '.join(spec.backends)} | {data} | {options} |")
    return "\n".join(lines)
