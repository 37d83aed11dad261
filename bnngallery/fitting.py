"""``fit``: one entry point for every approximation of a gallery model's posterior.

The vocabulary is closed and checked before anything compiles:

==========================  ===========================================================
``method``                  Gaussian VI: ``"advi"`` (mean-field), ``"fullrank_advi"``,
                            ``"lowrank_advi"`` (diagonal plus rank ``rank``);
                            ``"flow_advi"`` (an inverse autoregressive flow, NumPyro);
                            ``"pathfinder"`` (multi-path, blackjax); ``"laplace"`` (a
                            Gaussian at the MAP, exact Hessian); ``"ensemble"`` (MAP fits
                            from ``members`` starts); ``"sgld"``, ``"sghmc"``
                            (cyclical SG-MCMC, ``chains`` x ``cycles``); ``"nuts"``,
                            the reference
``backend``                 ``"jax"``: ADVI compiled end to end in JAX
                            (:mod:`bnngallery.inference.advi_loop`), NUTS by NumPyro through
                            ``pm.sample``; ``"pytensor"``: PyMC's own ``pm.fit`` and
                            ``pm.sample`` samplers
``sampler`` (NUTS only)     ``"numpyro"`` or ``"pymc"``; by default follows ``backend``
==========================  ===========================================================

Every method but NUTS and the two ADVI families ``pm.fit`` has runs on the JAX backend
only. Minibatch methods (ADVI, ensemble, SGLD, Laplace's MAP) follow the model's
``pm.Minibatch``; Pathfinder, the flow and the Laplace Hessian use the exact full-data log
density (:mod:`bnngallery.inference.target`), so they are for small models.

Every call returns the same kind of result (:mod:`bnngallery.results`). (The module is
``fitting`` so that ``bnngallery.fit`` stays the function.)
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from .inference.advi_loop import LR_SCHEDULES, ADVIDivergenceError, ADVIOutput, fit_advi_jax
from .inference.jaxify import minibatch_nodes, require_observed
from .inference.precision import check_precision
from .loglik import MAX_STORED_VALUES, add_log_likelihood, stored_values
from .models.info import ModelInfo, model_info
from .results import final_elbo, make_result, posterior_dataset
from .validation import check_choice, check_flag, check_open_unit, check_positive, check_positive_int, check_seed

METHODS = (
    "advi",
    "fullrank_advi",
    "lowrank_advi",
    "flow_advi",
    "pathfinder",
    "laplace",
    "ensemble",
    "sgld",
    "sghmc",
    "nuts",
)
BACKENDS = ("jax", "pytensor")
SAMPLERS = ("numpyro", "pymc")
#: ``method`` -> the ADVI engine's variational family
ADVI_FAMILIES = {"advi": "meanfield", "fullrank_advi": "fullrank", "lowrank_advi": "lowrank"}
#: Methods only the JAX backend has.
JAX_ONLY = ("lowrank_advi", "flow_advi", "pathfinder", "laplace", "ensemble", "sgld", "sghmc")
#: Stochastic-gradient MCMC.
SG_MCMC = ("sgld", "sghmc")
#: Methods built on MAP fits by the engine's point-mass family.
MAP_METHODS = ("laplace", "ensemble")
#: ``ensemble``'s number of members when none is given.
DEFAULT_MEMBERS = 5
#: SG-MCMC's step size when none is given: about how far a coordinate moves per step (SGHMC's
#: momentum carries each step about ten times as far), and its cycles.
DEFAULT_SGLD_LR = 0.03
DEFAULT_SGHMC_LR = 0.01
DEFAULT_CYCLES = 4
#: Adam's step size (ADVI and the MAP fits) when none is given.
DEFAULT_LR = 0.01
#: Optimiser steps when none are given: Pathfinder's are L-BFGS iterations (it stops at
#: convergence before), everyone else's are stochastic-gradient steps.
DEFAULT_STEPS = 30_000
DEFAULT_PATHFINDER_STEPS = 200
#: ``lowrank_advi``'s rank when none is given.
DEFAULT_RANK = 10
INSTALL_HINT = 'pip install "bnngallery"  (or: pip install jax numpyro optax)'


def _require(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ImportError(
            f"{what} needs the optional package {module!r}, which is not installed. Install it with: {INSTALL_HINT}"
        )


def check_fit_options(model, method: str, backend: str, sampler: str | None, **opts) -> dict:
    """Validate every ``fit`` option before anything is compiled; return the cleaned options."""
    if not isinstance(model, pm.Model):
        raise ValueError(f"model must be a pymc.Model (from a gallery builder); got {type(model).__name__}.")
    check_choice(method, name="method", allowed=METHODS)
    check_choice(backend, name="backend", allowed=BACKENDS)
    if sampler is not None:
        check_choice(sampler, name="sampler", allowed=SAMPLERS)
    check_choice(opts.get("lr_schedule", "constant"), name="lr_schedule", allowed=LR_SCHEDULES)
    if backend == "pytensor" and method in JAX_ONLY:
        raise ValueError(f"method={method!r} runs on backend='jax' only (PyMC's pm.fit has no such family).")
    if "members" in opts and method != "ensemble":
        raise ValueError(
            f"members applies to method='ensemble' only; got members={opts['members']!r}, method={method!r}."
        )
    if opts.get("restarts", 1) != 1 and method in MAP_METHODS:
        raise ValueError(f"restarts does not apply to method={method!r}; an ensemble's members are its restarts.")
    if "cycles" in opts and method not in SG_MCMC:
        raise ValueError(f"cycles applies to {SG_MCMC} only; got cycles={opts['cycles']!r}, method={method!r}.")
    if opts.get("restarts", 1) != 1 and method in SG_MCMC:
        raise ValueError(f"restarts does not apply to method={method!r}; it runs several chains instead (chains=...).")
    if "subset" in opts and method != "laplace":
        raise ValueError(f"subset applies to method='laplace' only; got subset={opts['subset']!r}, method={method!r}.")
    if "rank" in opts and method != "lowrank_advi":
        raise ValueError(f"rank applies to method='lowrank_advi' only; got rank={opts['rank']!r}, method={method!r}.")
    if backend == "pytensor" and method != "nuts" and opts.get("lr_schedule") == "cosine":
        raise ValueError("backend='pytensor' (pm.fit) supports lr_schedule='constant' only.")
    precision = check_precision(opts.get("precision", "float64"))
    if precision != "float64" and (backend != "jax" or method == "nuts"):
        raise ValueError(
            f"precision={precision!r} applies to ADVI with backend='jax' only; "
            f"use precision='float64' with method={method!r}, backend={backend!r}."
        )
    if sampler is not None and method != "nuts":
        raise ValueError(f"sampler applies to method='nuts' only; got sampler={sampler!r} with method={method!r}.")
    require_observed(model)
    refuse_discrete(model, method)
    out: dict[str, Any] = {}
    if opts.get("restarts", 1) != 1 and method == "nuts":
        raise ValueError("restarts applies to ADVI only; NUTS runs several chains instead (chains=...).")
    for name in (
        "steps",
        "draws",
        "tune",
        "chains",
        "mc_samples",
        "chunk_size",
        "restarts",
        "rank",
        "members",
        "cycles",
    ):
        if name in opts:
            out[name] = check_positive_int(opts[name], name=name, allow_zero=name == "tune")
    if "learning_rate" in opts:
        out["learning_rate"] = check_positive(opts["learning_rate"], name="learning_rate")
    if "init_sd" in opts:
        out["init_sd"] = resolve_init_sd(model, opts["init_sd"])
    if "subset" in opts:
        out["subset"] = resolve_subset(model, opts["subset"])
    if opts.get("target_accept") is not None:
        out["target_accept"] = check_open_unit(opts["target_accept"], name="target_accept")
    for name in ("cores", "devices"):
        if opts.get(name) is not None:
            out[name] = check_positive_int(opts[name], name=name)
    out["random_seed"] = check_seed(opts.get("random_seed"))
    if method == "nuts" and minibatch_nodes([model.logp()]):
        raise ValueError(
            "NUTS needs the exact full-data log density, but this model was built with batch_size; "
            "build it again with batch_size=None for NUTS."
        )
    if method == "nuts":
        sampler = sampler or ("numpyro" if backend == "jax" else "pymc")
        if sampler == "numpyro":
            _require("numpyro", "NUTS with sampler='numpyro'")
            _require("jax", "NUTS with sampler='numpyro'")
    elif backend == "jax":
        _require("jax", "ADVI with backend='jax'")
        _require("optax", "ADVI with backend='jax'")
    out["sampler"] = sampler
    return out


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


def resolve_init_sd(model: pm.Model, init_sd) -> float | dict[str, float]:
    """``init_sd`` as the ADVI engine takes it: one positive number, or one per value variable.

    A mapping may name random variables (``"w_in"``) or their value variables
    (``"sigma_log__"``); variables it leaves out start at the engine's default.
    """
    if not isinstance(init_sd, dict):
        return check_positive(init_sd, name="init_sd")
    values = {model.rvs_to_values[rv].name: rv.name for rv in model.free_RVs}
    by_rv = {rv: value for value, rv in values.items()}
    out = {}
    for name, sd in init_sd.items():
        value = name if name in values else by_rv.get(name)
        if value is None:
            raise ValueError(
                f"init_sd names {name!r}, which is not a free variable of this model; "
                f"its free variables are {sorted(by_rv)}."
            )
        out[value] = check_positive(sd, name=f"init_sd[{name!r}]")
    return out


#: ``laplace``'s ``subset`` words: every parameter, or the builder's output layer.
SUBSETS = ("all", "last_layer")


def resolve_subset(model: pm.Model, subset) -> list[str] | None:
    """``laplace``'s ``subset`` as value-variable names, or None for every parameter.

    ``"all"``; ``"last_layer"`` (the output layer's weights and bias, as the gallery builders
    record them in :class:`~bnngallery.models.info.ModelInfo`); or a list of free random
    variables by name.
    """
    values = {rv.name: model.rvs_to_values[rv].name for rv in model.free_RVs}
    if isinstance(subset, str):
        check_choice(subset, name="subset", allowed=SUBSETS)
        if subset == "all":
            return None
        names = list(model_info(model).last_layer)
        if not names:
            raise ValueError(
                "subset='last_layer' needs a model whose builder records its output layer (every gallery "
                "network does); for this model, name the variables instead, e.g. subset=['w_out', 'b_out']. "
                f"Its free variables are {sorted(values)}."
            )
    else:
        names = list(subset)
        unknown = [n for n in names if n not in values]
        if unknown or not names:
            raise ValueError(
                f"subset must be 'all', 'last_layer' or a non-empty list of this model's free variables "
                f"{sorted(values)}; got {subset!r}."
            )
    return [values[n] for n in names]


def fit(
    model: pm.Model,
    method: str = "advi",
    *,
    backend: str = "jax",
    sampler: str | None = None,
    steps: int | None = None,
    learning_rate: float | None = None,
    lr_schedule: str | None = None,
    mc_samples: int = 1,
    rank: int | None = None,
    members: int | None = None,
    cycles: int | None = None,
    subset: str | list[str] | None = None,
    init_sd: float | dict[str, float] | None = None,
    chunk_size: int = 1000,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    cores: int | None = None,
    target_accept: float = 0.9,
    random_seed: int = 0,
    progressbar: bool = True,
    devices: int | None = None,
    precision: str = "float64",
    restarts: int = 1,
    check_collapse: bool = True,
    log_likelihood: bool | None = None,
) -> xr.DataTree:
    """Fit ``model`` by ADVI, another approximation, or NUTS and return a result DataTree.

    Parameters
    ----------
    model : pm.Model
        A model from a gallery builder (or any PyMC model with observed data).
    method : str
        One of :data:`METHODS` (the module's table says what each is).
    backend : {"jax", "pytensor"}
        ``"jax"`` compiles the ADVI loop to JAX and runs NUTS with NumPyro;
        ``"pytensor"`` uses ``pm.fit`` (Adam) and PyMC's NUTS.
    sampler : {"numpyro", "pymc"}, optional
        NUTS implementation; defaults to the backend's.
    steps, learning_rate, mc_samples, init_sd, chunk_size
        ADVI: optimiser steps (default :data:`DEFAULT_STEPS`; Pathfinder: L-BFGS iterations,
        default :data:`DEFAULT_PATHFINDER_STEPS`), Adam step size (default
        :data:`DEFAULT_LR`; ``sgld``, ``sghmc``: the preconditioned step, default
        :data:`DEFAULT_SGLD_LR`, :data:`DEFAULT_SGHMC_LR`), Monte Carlo samples per gradient, initial posterior sd
        (JAX backend: one number, or one per variable by name; default: the builder's
        ``advi_init_sd``, which the gallery builders scale to each layer's fan-in, else
        0.1; the MAP fits, SGLD and Pathfinder start at the initial point plus this much
        noise), steps per compiled call (JAX backend).
    members : int, optional
        ``ensemble``: MAP fits, one draw each (default :data:`DEFAULT_MEMBERS`).
    cycles : int, optional
        ``sgld``, ``sghmc``: cosine step-size cycles per chain (default :data:`DEFAULT_CYCLES`).
    subset : {"all", "last_layer"} or list of str, optional
        ``laplace``: the parameters the Gaussian covers, the rest held at the MAP (default
        ``"all"``, a dense Hessian of at most 5000 parameters); ``"last_layer"`` is the
        output layer's weights and bias (the last-layer Laplace of Kristiadi, Hein and Hennig
        2020, for MNIST-size nets), or name the random variables.
    rank : int, optional
        ``lowrank_advi``: the number of correlated directions of the covariance
        ``diag(d**2) + W W^T`` (default :data:`DEFAULT_RANK`).
    lr_schedule : {"cosine", "constant"}, optional
        Step-size schedule; defaults to ``"cosine"`` on the JAX backend (decay to 1 %, which
        settles the minibatch noise at the end) and ``"constant"`` on PyTensor.
    draws : int
        Posterior draws kept: per chain for NUTS and SG-MCMC, in total otherwise (an
        ensemble's draws are its members).
    tune, chains, cores, target_accept
        NUTS warm-up steps, number of chains (also SG-MCMC's; ``pathfinder``: paths),
        processes, and target acceptance rate.
    random_seed : int
        Seeds everything random in the fit; same seed, same backend -> same numbers.
    progressbar : bool
        Show progress bars.
    devices : int, optional
        JAX ADVI: split each minibatch over this many devices (data parallel, sharded);
        default every visible accelerator, 1 on CPU. NUTS with NumPyro runs one chain per
        device when there are enough devices.
    precision : {"float64", "float32"}
        JAX ADVI arithmetic. ``"float32"`` (NumPyro's default) is faster on CPU and much
        faster on GPUs; ``"float64"`` (the default) matches PyMC's own precision.
    restarts : int
        ADVI: run this many independent fits (seeds ``random_seed``, ``random_seed + 1``, ...)
        and keep the one with the highest final ELBO (mean over the last 1000 steps), the
        training objective, never a test score. Guards against the local optima that
        stochastic ELBO ascent can fall into on a neural net. The result's
        ``restart_elbos`` attribute lists every fit's ELBO.
    check_collapse : bool
        On a gallery model, score the fit's posterior predictive on (up to 1000) training
        rows against a constant predictor (the class frequencies or the mean) and warn with
        a :class:`~bnngallery.collapse.CollapseWarning`, naming the likely causes and fixes,
        when it is no better; the numbers go into ``attrs["collapse"]``
        (:mod:`bnngallery.collapse`).
    log_likelihood : bool, optional
        Store the pointwise log-likelihood of the model's (full) data at every draw, and for
        ADVI the fit's ``lp`` and ``log_q`` (:func:`bnngallery.loglik.add_log_likelihood`),
        so ``arviz_stats.loo`` / ``loo_approximate_posterior`` / ``compare`` run on the
        result. Default: when draws x observations stay under
        :data:`bnngallery.loglik.MAX_STORED_VALUES` (every small model; not full MNIST, where
        ``add_log_likelihood(result, model, draws=...)`` stores a subset).

    Returns
    -------
    xarray.DataTree
        See :mod:`bnngallery.results`.
    """
    kwargs = dict(locals())
    kwargs.pop("check_collapse")
    kwargs.pop("log_likelihood")
    if log_likelihood is not None:
        check_flag(log_likelihood, name="log_likelihood")
    result = _fit(**kwargs)
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

        flag_collapse(model, result, method=method, random_seed=int(random_seed))
    return result


def _fit(
    model,
    method,
    *,
    backend,
    sampler,
    steps,
    learning_rate,
    lr_schedule,
    mc_samples,
    rank,
    members,
    cycles,
    subset,
    init_sd,
    chunk_size,
    draws,
    tune,
    chains,
    cores,
    target_accept,
    random_seed,
    progressbar,
    devices,
    precision,
    restarts,
) -> xr.DataTree:
    """:func:`fit` without the collapse check (each restart of a best-of-N fit runs this)."""
    info = model_info(model) if isinstance(model, pm.Model) else ModelInfo()
    if lr_schedule is None:
        lr_schedule = "cosine" if backend == "jax" else "constant"
    if steps is None:
        steps = DEFAULT_PATHFINDER_STEPS if method == "pathfinder" else DEFAULT_STEPS
    if learning_rate is None:
        learning_rate = {"sgld": DEFAULT_SGLD_LR, "sghmc": DEFAULT_SGHMC_LR}.get(method, DEFAULT_LR)
    if init_sd is None:
        init_sd = info.advi_init_sd if info.advi_init_sd is not None else 0.1
    opts = check_fit_options(
        model,
        method,
        backend,
        sampler,
        steps=steps,
        learning_rate=learning_rate,
        mc_samples=mc_samples,
        lr_schedule=lr_schedule,
        precision=precision,
        init_sd=init_sd,
        **({} if rank is None else {"rank": rank}),
        **({} if members is None else {"members": members}),
        **({} if cycles is None else {"cycles": cycles}),
        **({} if subset is None else {"subset": subset}),
        chunk_size=chunk_size,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores,
        target_accept=target_accept,
        random_seed=random_seed,
        restarts=restarts,
        devices=devices,
    )
    if method == "nuts":
        return _fit_nuts(
            model,
            info=info,
            sampler=opts["sampler"],
            draws=opts["draws"],
            tune=opts["tune"],
            chains=opts["chains"],
            cores=opts.get("cores") or opts["chains"],
            target_accept=target_accept,
            random_seed=int(random_seed),
            progressbar=progressbar,
        )
    if opts["restarts"] > 1:
        return _best_of_restarts(
            lambda seed: _fit(
                model,
                method,
                backend=backend,
                sampler=None,
                tune=tune,
                chains=chains,
                cores=cores,
                target_accept=target_accept,
                restarts=1,
                steps=steps,
                learning_rate=learning_rate,
                lr_schedule=lr_schedule,
                mc_samples=mc_samples,
                rank=rank,
                members=members,
                cycles=cycles,
                subset=subset,
                init_sd=init_sd,
                chunk_size=chunk_size,
                draws=draws,
                random_seed=seed,
                progressbar=progressbar,
                devices=devices,
                precision=precision,
            ),
            int(random_seed),
            opts["restarts"],
        )
    if method not in ADVI_FAMILIES:  # the approximations beyond ADVI, each by its own fitter
        fitter = (
            _fit_full_data_vi
            if method in ("pathfinder", "flow_advi")
            else _fit_sgmcmc
            if method in SG_MCMC
            else _fit_map_based
        )
        return fitter(
            model,
            method,
            info=info,
            opts=opts,
            lr_schedule=lr_schedule,
            precision=precision,
            progressbar=progressbar,
            random_seed=int(random_seed),
        )
    family = ADVI_FAMILIES[method]
    settings = {
        "steps": opts["steps"],
        "learning_rate": opts["learning_rate"],
        "mc_samples": opts["mc_samples"],
        "draws": opts["draws"],
        "random_seed": int(random_seed),
        "optimizer": "adam",
        "lr_schedule": lr_schedule,
        "approximation": family,
    }
    if family == "lowrank":
        settings["rank"] = opts.get("rank", DEFAULT_RANK)
    if backend == "jax":
        settings.update(precision=precision, init_sd=opts["init_sd"], chunk_size=opts["chunk_size"])

        def to_result(out: ADVIOutput) -> xr.DataTree:
            return _advi_result(
                model, out, info=info, method=method, backend="jax", settings={**settings, "batch_size": out.batch_size}
            )

        try:
            out = fit_advi_jax(
                model,
                steps=opts["steps"],
                learning_rate=opts["learning_rate"],
                family=family,
                rank=settings.get("rank", DEFAULT_RANK),
                mc_samples=opts["mc_samples"],
                init_sd=opts["init_sd"],
                chunk_size=opts["chunk_size"],
                draws=opts["draws"],
                random_seed=int(random_seed),
                progressbar=progressbar,
                lr_schedule=lr_schedule,
                devices=opts.get("devices"),
                precision=precision,
            )
        except ADVIDivergenceError as err:
            if err.result is not None:
                err.result = to_result(err.result)
            raise
        return to_result(out)
    from .inference.pymc_backend import fit_advi_pytensor

    out = fit_advi_pytensor(
        model,
        family=family,
        steps=opts["steps"],
        learning_rate=opts["learning_rate"],
        mc_samples=opts["mc_samples"],
        draws=opts["draws"],
        random_seed=int(random_seed),
        progressbar=progressbar,
    )
    return _advi_result(model, out, info=info, method=method, backend="pytensor", settings=settings)


def _fit_map_based(model, method, *, info, opts, lr_schedule, precision, progressbar, random_seed) -> xr.DataTree:
    """``ensemble`` (MAP fits from several starts) or ``laplace`` (a Gaussian at the MAP)."""
    from .inference.ensemble import fit_ensemble
    from .inference.laplace import fit_laplace

    common = {
        "steps": opts["steps"],
        "learning_rate": opts["learning_rate"],
        "init_sd": opts["init_sd"],
        "chunk_size": opts["chunk_size"],
        "progressbar": progressbar,
        "lr_schedule": lr_schedule,
        "devices": opts.get("devices"),
        "precision": precision,
    }
    settings = {
        **{k: v for k, v in common.items() if k not in ("progressbar", "devices")},
        "random_seed": random_seed,
        "optimizer": "adam",
    }
    if method == "ensemble":
        settings["members"] = opts.get("members", DEFAULT_MEMBERS)
        out = fit_ensemble(model, members=settings["members"], random_seed=random_seed, **common)
    else:
        subset = opts.get("subset")
        settings.update(draws=opts["draws"], approximation="laplace", hessian="full", subset=subset or "all")
        out = fit_laplace(model, draws=opts["draws"], random_seed=random_seed, subset=subset, **common)
    return _advi_result(
        model, out, info=info, method=method, backend="jax", settings={**settings, "batch_size": out.batch_size}
    )


def _fit_full_data_vi(model, method, *, info, opts, lr_schedule, precision, progressbar, random_seed) -> xr.DataTree:
    """``pathfinder`` (blackjax) or ``flow_advi`` (NumPyro's IAF): on the exact full-data density."""
    settings = {"steps": opts["steps"], "draws": opts["draws"], "random_seed": random_seed, "precision": "float64"}
    if method == "pathfinder":
        from .inference.pathfinder import POOL_PER_PATH, fit_pathfinder

        settings.update(paths=opts["chains"], pool_per_path=POOL_PER_PATH, init_sd=opts["init_sd"])
        out = fit_pathfinder(
            model,
            paths=settings["paths"],
            maxiter=opts["steps"],
            draws=opts["draws"],
            init_sd=opts["init_sd"],
            random_seed=random_seed,
        )
    else:
        from .inference.flow import NUM_FLOWS, fit_flow

        settings.update(learning_rate=opts["learning_rate"], lr_schedule=lr_schedule, flow="iaf", num_flows=NUM_FLOWS)
        out = fit_flow(
            model,
            steps=opts["steps"],
            learning_rate=opts["learning_rate"],
            draws=opts["draws"],
            random_seed=random_seed,
            progressbar=progressbar,
            lr_schedule=lr_schedule,
        )
    return _advi_result(model, out, info=info, method=method, backend="jax", settings=settings)


def _fit_sgmcmc(model, method, *, info, opts, lr_schedule, precision, progressbar, random_seed) -> xr.DataTree:
    from .inference.sgmcmc import FRICTION, SAMPLE_FRACTION, fit_sgmcmc

    settings = {
        "steps": opts["steps"],
        "learning_rate": opts["learning_rate"],
        "chains": opts["chains"],
        "cycles": opts.get("cycles", DEFAULT_CYCLES),
        "draws": opts["draws"],
        "init_sd": opts["init_sd"],
        "random_seed": random_seed,
        "precision": precision,
        "sample_fraction": SAMPLE_FRACTION,
    }
    out = fit_sgmcmc(
        model,
        kind=method,
        **{k: v for k, v in settings.items() if k != "sample_fraction"},
        progressbar=progressbar,
    )
    if method == "sghmc":
        settings["friction"] = FRICTION
    return _advi_result(
        model, out, info=info, method=method, backend="jax", settings={**settings, "batch_size": out.batch_size}
    )


def _best_of_restarts(fit_one, random_seed: int, restarts: int) -> xr.DataTree:
    """Fit ``restarts`` times with consecutive seeds; keep the highest final ELBO."""
    results = []
    for i in range(restarts):
        results.append(fit_one(random_seed + i))
        if int(results[-1].attrs.get("interrupted", 0)):
            break  # Ctrl-C: hand back the interrupted fit, marked so
    elbos = [-np.inf if (e := final_elbo(r)) is None else e for r in results]
    best = len(results) - 1 if int(results[-1].attrs.get("interrupted", 0)) else int(np.argmax(elbos))
    out = results[best]
    out.attrs["settings"] = json.dumps(
        {**json.loads(out.attrs["settings"]), "restarts": restarts, "random_seed": random_seed}, sort_keys=True
    )
    out.attrs["restart_elbos"] = json.dumps([float(e) for e in elbos])
    out.attrs["restart_chosen"] = best
    out.attrs["compile_seconds"] = float(sum(float(r.attrs["compile_seconds"]) for r in results))
    out.attrs["run_seconds"] = float(sum(float(r.attrs["run_seconds"]) for r in results))
    out.attrs["fit_seconds"] = out.attrs["compile_seconds"] + out.attrs["run_seconds"]
    return out


def _advi_result(model, out: ADVIOutput, *, info: ModelInfo, method: str, backend: str, settings: dict) -> xr.DataTree:
    """The result of an ADVI fit: draws, ``fit_history`` (negative ELBO per step) and
    ``approximation`` (means and sds in the unconstrained space; a full-rank fit also stores
    its Cholesky factor ``cholesky``, variables flattened in ``attrs["flat_order"]``)."""
    history = xr.Dataset(
        {"loss": (("step",), np.asarray(out.loss, dtype=np.float64))}, coords={"step": np.arange(1, len(out.loss) + 1)}
    )
    history.attrs["objective"] = out.objective
    if out.member_loss is not None:
        history["member_loss"] = (("member", "step"), np.asarray(out.member_loss, dtype=np.float64))
    value_to_rv = {model.rvs_to_values[rv].name: rv.name for rv in model.free_RVs}
    approx = {}
    for name in out.mean:
        dims = list(model.named_vars_to_dims.get(value_to_rv.get(name, name), ()))
        if len(dims) != np.ndim(out.mean[name]):
            dims = [f"{name}_dim_{i}" for i in range(np.ndim(out.mean[name]))]
        approx[f"{name}_mean"] = (dims, np.asarray(out.mean[name]))
        approx[f"{name}_sd"] = (dims, np.asarray(out.std[name]))
    approximation = xr.Dataset(approx)
    groups = {"fit_history": history, "approximation": approximation} if approx else {"fit_history": history}
    if out.cholesky is not None:
        approximation["cholesky"] = (("flat_row", "flat_col"), np.asarray(out.cholesky, dtype=np.float64))
    if out.factor is not None:
        approximation["cov_factor"] = (("flat_row", "rank"), np.asarray(out.factor, dtype=np.float64))
        approximation["cov_diag_sd"] = (("flat_row",), np.asarray(out.diag_sd, dtype=np.float64))
    if out.order:
        approximation.attrs["flat_order"] = json.dumps(list(out.order))
    return make_result(
        posterior=posterior_dataset(model, out.draws),
        method=method,
        backend=backend,
        compile_seconds=out.compile_seconds,
        run_seconds=out.run_seconds,
        settings=settings,
        model_info=info,
        groups=groups,
        extra_attrs={
            "steps_done": out.steps_done,
            "interrupted": int(out.interrupted),
            "device": out.device,
            **(out.extra or {}),
        },
    )


def _fit_nuts(
    model, *, info: ModelInfo, sampler, draws, tune, chains, cores, target_accept, random_seed, progressbar
) -> xr.DataTree:
    from .inference.progress import sampler_bars
    from .inference.pymc_backend import sample_nuts

    with sampler_bars(progressbar):
        out = sample_nuts(
            model,
            sampler=sampler,
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            target_accept=target_accept,
            random_seed=random_seed,
            progressbar=progressbar,
        )
    settings = {
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "cores": cores,
        "target_accept": target_accept,
        "random_seed": random_seed,
        "sampler": sampler,
    }
    if out.chain_method is not None:
        settings["chain_method"] = out.chain_method
    return make_result(
        posterior=posterior_dataset(model, out.draws),
        method="nuts",
        backend="jax" if sampler == "numpyro" else "pytensor",
        compile_seconds=out.compile_seconds,
        run_seconds=out.run_seconds,
        settings=settings,
        model_info=info,
        groups={"sample_stats": out.sample_stats},
        extra_attrs={"divergences": out.divergences, "interrupted": 0},
    )
