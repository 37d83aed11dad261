"""``fit``: one entry point for minibatch ADVI and NUTS on any gallery model.

The vocabulary is closed and checked before anything compiles:

==========================  ===========================================================
``method``                  ``"advi"`` (mean-field), ``"fullrank_advi"``, ``"nuts"``
``backend``                 ``"jax"``: ADVI compiled end to end in JAX
                            (:mod:`bnngallery.advi_jax`), NUTS by NumPyro through
                            ``pm.sample``; ``"pytensor"``: PyMC's own ``pm.fit`` and
                            ``pm.sample`` samplers
``sampler`` (NUTS only)     ``"numpyro"`` or ``"pymc"``; by default follows ``backend``
==========================  ===========================================================

Every call returns the same kind of result (:mod:`bnngallery.results`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import time

import numpy as np
import pymc as pm
import xarray as xr

from .advi_jax import PRECISIONS
from .jaxify import posterior_var_names, _minibatch_nodes
from .results import final_elbo, make_result, posterior_dataset

METHODS = ("advi", "fullrank_advi", "nuts")
BACKENDS = ("jax", "pytensor")
SAMPLERS = ("numpyro", "pymc")
LR_SCHEDULES = ("cosine", "constant")
INSTALL_HINT = 'pip install "bnngallery"  (or: pip install jax numpyro optax)'


def _require(module: str, what: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ImportError(f"{what} needs the optional package {module!r}, which is not installed. "
                          f"Install it with: {INSTALL_HINT}")


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def _positive_float(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number; got {value!r}.") from None
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive finite number; got {value!r}.")
    return v


def check_fit_options(model, method: str, backend: str, sampler: str | None, **opts) -> dict:
    """Validate every ``fit`` option before anything is compiled; return the cleaned options."""
    if not isinstance(model, pm.Model):
        raise ValueError(f"model must be a pymc.Model (from a gallery builder); got {type(model).__name__}.")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}.")
    if sampler is not None and sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS} (or None to follow backend); got {sampler!r}.")
    if opts.get("lr_schedule", "constant") not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}; got {opts['lr_schedule']!r}.")
    if backend == "pytensor" and method != "nuts" and opts.get("lr_schedule") == "cosine":
        raise ValueError("backend='pytensor' (pm.fit) supports lr_schedule='constant' only.")
    precision = opts.get("precision", "float64")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}.")
    if precision != "float64" and (backend != "jax" or method == "nuts"):
        raise ValueError(f"precision={precision!r} applies to ADVI with backend='jax' only; "
                         f"use precision='float64' with method={method!r}, backend={backend!r}.")
    if sampler is not None and method != "nuts":
        raise ValueError(f"sampler applies to method='nuts' only; got sampler={sampler!r} with method={method!r}.")
    if not model.observed_RVs:
        raise ValueError("The model has no observed data, so there is nothing to fit; build it with y "
                         "(a model built with y=None is for prediction only).")
    out = {}
    if opts.get("restarts", 1) != 1 and method == "nuts":
        raise ValueError("restarts applies to ADVI only; NUTS runs several chains instead (chains=...).")
    for name in ("steps", "draws", "tune", "chains", "mc_samples", "chunk_size", "restarts"):
        if name in opts:
            out[name] = _positive_int(opts[name], name) if not (name == "tune" and opts[name] == 0) else 0
    for name in ("learning_rate", "init_sd"):
        if name in opts:
            out[name] = _positive_float(opts[name], name)
    ta = opts.get("target_accept")
    if ta is not None and not (isinstance(ta, (int, float)) and 0 < ta < 1):
        raise ValueError(f"target_accept must be in (0, 1); got {ta!r}.")
    if opts.get("cores") is not None:
        out["cores"] = _positive_int(opts["cores"], "cores")
    seed = opts.get("random_seed")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"random_seed must be a non-negative integer; got {seed!r}.")
    if method == "nuts" and _minibatch_nodes([model.logp()]):
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


def fit(
    model: pm.Model,
    method: str = "advi",
    *,
    backend: str = "jax",
    sampler: str | None = None,
    steps: int = 30_000,
    learning_rate: float = 0.01,
    lr_schedule: str | None = None,
    mc_samples: int = 1,
    init_sd: float | None = None,
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
) -> xr.DataTree:
    """Fit ``model`` by ADVI or NUTS and return a result DataTree.

    Parameters
    ----------
    model : pm.Model
        A model from a gallery builder (or any PyMC model with observed data).
    method : {"advi", "fullrank_advi", "nuts"}
        Variational fit (mean-field or full-rank Gaussian) or Hamiltonian Monte Carlo.
    backend : {"jax", "pytensor"}
        ``"jax"`` compiles the ADVI loop to JAX and runs NUTS with NumPyro;
        ``"pytensor"`` uses ``pm.fit`` (Adam) and PyMC's NUTS.
    sampler : {"numpyro", "pymc"}, optional
        NUTS implementation; defaults to the backend's.
    steps, learning_rate, mc_samples, init_sd, chunk_size
        ADVI: optimiser steps, Adam step size, Monte Carlo samples per gradient, initial
        posterior sd (JAX backend; default: the builder's ``advi_init_sd``, else 0.1), steps
        per compiled call (JAX backend).
    lr_schedule : {"cosine", "constant"}, optional
        Step-size schedule; defaults to ``"cosine"`` on the JAX backend (decay to 1 %, which
        settles the minibatch noise at the end) and ``"constant"`` on PyTensor.
    draws : int
        Posterior draws kept: per chain for NUTS, in total for ADVI.
    tune, chains, cores, target_accept
        NUTS warm-up steps, number of chains, processes, and target acceptance rate.
    random_seed : int
        Seeds everything random in the fit; same seed, same backend -> same numbers.
    progressbar : bool
        Show progress bars.
    devices : int, optional
        JAX ADVI: split each minibatch over this many devices (data parallel, sharded);
        default ``$BNNGALLERY_DEVICES`` (what the CLI's ``--devices`` sets), else every
        visible accelerator, 1 on CPU. NUTS with NumPyro runs one chain per device when
        there are enough devices.
    precision : {"float64", "float32"}
        JAX ADVI arithmetic. ``"float32"`` (NumPyro's default) is about twice as fast on CPU
        and much faster on GPUs; ``"float64"`` (the default) matches PyMC's own precision.
    restarts : int
        ADVI: run this many independent fits (seeds ``random_seed``, ``random_seed + 1``, ...)
        and keep the one with the highest final ELBO (mean over the last 1000 steps), the
        training objective, never a test score. Guards against the local optima that
        stochastic ELBO ascent can fall into on a neural net (full-rank ADVI on moons does on
        one seed in six). The result's ``restart_elbos`` attribute lists every fit's ELBO.

    Returns
    -------
    xarray.DataTree
        See :mod:`bnngallery.results`.
    """
    if lr_schedule is None:
        lr_schedule = "cosine" if backend == "jax" else "constant"
    if init_sd is None:
        init_sd = getattr(model, "gallery_info", {}).get("advi_init_sd", 0.1)
    if devices is None and os.environ.get("BNNGALLERY_DEVICES"):
        devices = int(os.environ["BNNGALLERY_DEVICES"])
    opts = check_fit_options(
        model, method, backend, sampler, steps=steps, learning_rate=learning_rate, mc_samples=mc_samples,
        lr_schedule=lr_schedule, precision=precision,
        init_sd=init_sd, chunk_size=chunk_size, draws=draws, tune=tune, chains=chains, cores=cores,
        target_accept=target_accept, random_seed=random_seed, restarts=restarts,
    )
    info = getattr(model, "gallery_info", {})
    if method == "nuts":
        return _fit_nuts(model, info=info, sampler=opts["sampler"], draws=opts["draws"], tune=opts["tune"],
                         chains=opts["chains"], cores=opts.get("cores") or opts["chains"],
                         target_accept=target_accept, random_seed=int(random_seed), progressbar=progressbar)
    if opts["restarts"] > 1:
        return _best_of_restarts(
            lambda seed: fit(model, method, backend=backend, steps=steps, learning_rate=learning_rate,
                             lr_schedule=lr_schedule, mc_samples=mc_samples, init_sd=init_sd, chunk_size=chunk_size,
                             draws=draws, random_seed=seed, progressbar=progressbar, devices=devices,
                             precision=precision),
            int(random_seed), opts["restarts"])
    kind = "meanfield" if method == "advi" else "fullrank"
    settings = {"steps": opts["steps"], "learning_rate": opts["learning_rate"], "mc_samples": opts["mc_samples"],
                "draws": opts["draws"], "random_seed": int(random_seed), "optimizer": "adam",
                "lr_schedule": lr_schedule}
    if backend == "jax":
        settings["precision"] = precision
        return _fit_advi_jax(model, info=info, kind=kind, settings=settings, init_sd=opts["init_sd"],
                             chunk_size=opts["chunk_size"], progressbar=progressbar, method=method, devices=devices)
    return _fit_advi_pytensor(model, info=info, kind=kind, settings=settings, progressbar=progressbar, method=method)


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
    out.attrs["settings"] = json.dumps({**json.loads(out.attrs["settings"]), "restarts": restarts,
                                        "random_seed": random_seed}, sort_keys=True)
    out.attrs["restart_elbos"] = json.dumps([float(e) for e in elbos])
    out.attrs["restart_chosen"] = best
    out.attrs["compile_seconds"] = float(sum(float(r.attrs["compile_seconds"]) for r in results))
    out.attrs["run_seconds"] = float(sum(float(r.attrs["run_seconds"]) for r in results))
    out.attrs["fit_seconds"] = out.attrs["compile_seconds"] + out.attrs["run_seconds"]
    return out


def _advi_groups(model, loss, mean, std, cholesky=None, order=None) -> dict[str, xr.Dataset]:
    """``fit_history`` and ``approximation`` groups; a full-rank fit also stores its Cholesky
    factor ``cholesky`` (unconstrained space, variables flattened in ``attrs["flat_order"]``)."""
    history = xr.Dataset({"loss": (("step",), np.asarray(loss, dtype=np.float64))},
                         coords={"step": np.arange(1, len(loss) + 1)})
    value_to_rv = {model.rvs_to_values[rv].name: rv.name for rv in model.free_RVs}
    approx = {}
    for name in mean:
        dims = list(model.named_vars_to_dims.get(value_to_rv.get(name, name), ()))
        if len(dims) != np.ndim(mean[name]):
            dims = [f"{name}_dim_{i}" for i in range(np.ndim(mean[name]))]
        approx[f"{name}_mean"] = (dims, np.asarray(mean[name]))
        approx[f"{name}_sd"] = (dims, np.asarray(std[name]))
    approximation = xr.Dataset(approx)
    if cholesky is not None:
        approximation["cholesky"] = (("flat_row", "flat_col"), np.asarray(cholesky, dtype=np.float64))
        approximation.attrs["flat_order"] = json.dumps(list(order))
    return {"fit_history": history, "approximation": approximation}


def _fit_advi_jax(model, *, info, kind, settings, init_sd, chunk_size, progressbar, method, devices):
    from .advi_jax import ADVIDivergenceError, fit_advi_jax

    settings = {**settings, "init_sd": init_sd, "chunk_size": chunk_size, "approximation": kind}

    def to_result(out):
        return make_result(
            posterior=posterior_dataset(model, out.draws), method=method, backend="jax",
            compile_seconds=out.compile_seconds, run_seconds=out.run_seconds,
            settings={**settings, "batch_size": out.batch_size}, model_info=info,
            groups=_advi_groups(model, out.loss, out.mean, out.std, out.extra.get("cholesky"), out.extra.get("order")),
            extra_attrs={"steps_done": out.steps_done, "interrupted": int(out.interrupted), "device": out.device},
        )

    try:
        out = fit_advi_jax(model, steps=settings["steps"], learning_rate=settings["learning_rate"], method=kind,
                           mc_samples=settings["mc_samples"], init_sd=init_sd, chunk_size=chunk_size,
                           draws=settings["draws"], random_seed=settings["random_seed"], progressbar=progressbar,
                           lr_schedule=settings["lr_schedule"], devices=devices,
                           precision=settings["precision"])
    except ADVIDivergenceError as err:
        if err.result is not None:
            err.result = to_result(err.result)
        raise
    return to_result(out)


def _fit_advi_pytensor(model, *, info, kind, settings, progressbar, method):
    first_step: list[float] = []

    def mark_first(approx, loss_hist, i):
        if not first_step:
            first_step.append(time.perf_counter())

    var_names = posterior_var_names(model)
    interrupted = False
    t0 = time.perf_counter()
    with model:
        advi = pm.ADVI(random_seed=settings["random_seed"]) if kind == "meanfield" else pm.FullRankADVI(
            random_seed=settings["random_seed"])
        try:
            advi.fit(settings["steps"], obj_optimizer=pm.adam(learning_rate=settings["learning_rate"]),
                     obj_n_mc=settings["mc_samples"], callbacks=[mark_first], progressbar=progressbar)
        except KeyboardInterrupt:
            interrupted = True
        approx = advi.approx
    t_end = time.perf_counter()
    compile_seconds = (first_step[0] - t0) if first_step else t_end - t0
    run_seconds = t_end - t0 - compile_seconds
    sample = approx.sample(settings["draws"], random_seed=settings["random_seed"] + 1)
    draws = {n: sample.posterior[n].values for n in var_names}
    # PyMC reports a minibatch loss divided by N / batch_size; undo that so fit_history
    # holds the negative full-data ELBO on both backends.
    loss = np.asarray(approx.hist, dtype=np.float64) * float(approx.symbolic_normalizing_constant.eval())
    mean_flat, std_flat = approx.mean.eval(), approx.std.eval()
    mean, std = {}, {}
    ordering = _ordering(approx, model)
    for name, (slc, shape) in ordering.items():
        mean[name] = mean_flat[slc].reshape(shape)
        std[name] = std_flat[slc].reshape(shape)
    cholesky = approx.groups[0].L.eval() if kind == "fullrank" else None
    return make_result(
        posterior=posterior_dataset(model, draws), method=method, backend="pytensor",
        compile_seconds=compile_seconds, run_seconds=run_seconds,
        settings={**settings, "approximation": kind}, model_info=info,
        groups=_advi_groups(model, loss, mean, std, cholesky, list(ordering)),
        extra_attrs={"steps_done": len(loss), "interrupted": int(interrupted), "device": "cpu"},
    )


def _ordering(approx, model) -> dict[str, tuple[slice, tuple]]:
    """Where each value variable sits in PyMC's flat approximation vector."""
    ip = model.initial_point()
    out, start = {}, 0
    for v in approx.groups[0].group:
        name = model.rvs_to_values[v].name if v in model.rvs_to_values else v.name
        shape = np.shape(ip[name])
        size = int(np.prod(shape, dtype=int))
        out[name] = (slice(start, start + size), shape)
        start += size
    return out


def _fit_nuts(model, *, info, sampler, draws, tune, chains, cores, target_accept, random_seed, progressbar):
    var_names = posterior_var_names(model)
    settings = {"draws": draws, "tune": tune, "chains": chains, "cores": cores, "target_accept": target_accept,
                "random_seed": random_seed, "sampler": sampler}
    nuts_kwargs = {"target_accept": target_accept}
    if sampler == "numpyro":
        import jax

        # Chains run in parallel only with one XLA device each (on CPU: set
        # XLA_FLAGS=--xla_force_host_platform_device_count=N before JAX starts, as the CLI does).
        parallel = jax.local_device_count() >= chains
        settings["chain_method"] = "parallel" if parallel else "sequential"
        nuts_kwargs["chain_method"] = settings["chain_method"]
    t0 = time.perf_counter()
    with model:
        idata = pm.sample(
            draws, tune=tune, chains=chains, cores=cores, random_seed=random_seed, progressbar=progressbar,
            var_names=var_names, nuts_sampler=sampler, nuts=nuts_kwargs, compute_convergence_checks=False,
        )
    total = time.perf_counter() - t0
    sampling = float(idata.posterior.attrs.get("sampling_time", total))
    compile_seconds = max(total - sampling, 0.0)
    posterior = posterior_dataset(model, {n: idata.posterior[n].values for n in var_names})
    groups = {"sample_stats": idata.sample_stats.to_dataset()}
    return make_result(
        posterior=posterior, method="nuts", backend="jax" if sampler == "numpyro" else "pytensor",
        compile_seconds=compile_seconds, run_seconds=total - compile_seconds, settings=settings,
        model_info=info, groups=groups,
        extra_attrs={"divergences": int(idata.sample_stats["diverging"].sum()), "interrupted": 0},
    )
