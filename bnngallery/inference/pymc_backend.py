"""PyMC's own samplers behind ``fit``: ``pm.fit`` ADVI (PyTensor) and ``pm.sample`` NUTS
(PyMC's sampler or NumPyro's), with their outputs put in the engine's terms."""

from __future__ import annotations

import time

import numpy as np
import pymc as pm

from .jaxify import jax_dispatch, posterior_var_names
from .output import FitOutput
from .precision import precision_scope


def fit_advi_pytensor(
    model: pm.Model,
    *,
    family: str,
    steps: int,
    learning_rate: float,
    mc_samples: int,
    draws: int,
    random_seed: int,
    progressbar: bool,
) -> FitOutput:
    """Mean-field (``family="meanfield"``) or full-rank ADVI by ``pm.fit`` with Adam."""
    first_step: list[float] = []

    def mark_first(approx, loss_hist, i):
        if not first_step:
            first_step.append(time.perf_counter())

    var_names = posterior_var_names(model)
    interrupted = False
    t0 = time.perf_counter()
    with model:
        advi = pm.ADVI(random_seed=random_seed) if family == "meanfield" else pm.FullRankADVI(random_seed=random_seed)
        try:
            advi.fit(
                steps,
                obj_optimizer=pm.adam(learning_rate=learning_rate),
                obj_n_mc=mc_samples,
                callbacks=[mark_first],
                progressbar=progressbar,
            )
        except KeyboardInterrupt:
            interrupted = True
        approx = advi.approx
    t_end = time.perf_counter()
    compile_seconds = (first_step[0] - t0) if first_step else t_end - t0
    sample = approx.sample(draws, random_seed=random_seed + 1)
    # PyMC reports a minibatch loss divided by N / batch_size; undo that so fit_history
    # holds the negative full-data ELBO on both backends.
    loss = np.asarray(approx.hist, dtype=np.float64) * float(approx.symbolic_normalizing_constant.eval())
    mean_flat, std_flat = approx.mean.eval(), approx.std.eval()
    ordering = _ordering(approx, model)
    return FitOutput(
        draws={n: sample.posterior[n].values for n in var_names},
        loss=loss,
        mean={name: mean_flat[slc].reshape(shape) for name, (slc, shape) in ordering.items()},
        std={name: std_flat[slc].reshape(shape) for name, (slc, shape) in ordering.items()},
        cholesky=approx.groups[0].L.eval() if family == "fullrank" else None,
        order=list(ordering) if family == "fullrank" else None,
        compile_seconds=compile_seconds,
        run_seconds=t_end - t0 - compile_seconds,
        steps_done=len(loss),
        interrupted=interrupted,
        device="cpu",
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


def sample_nuts(
    model: pm.Model,
    *,
    sampler: str,
    draws: int,
    tune: int,
    chains: int,
    cores: int,
    target_accept: float,
    random_seed: int,
    progressbar: bool,
) -> FitOutput:
    """NUTS by ``pm.sample`` with ``sampler`` ``"numpyro"`` (JAX, float64) or ``"pymc"``."""
    var_names = posterior_var_names(model)
    nuts_kwargs: dict = {"target_accept": target_accept}
    chain_method = None
    if sampler == "numpyro":
        import jax

        jax_dispatch()  # PyMC compiles the model to JAX itself: the gallery's Ops must be known
        # Chains run in parallel only with one XLA device each (on CPU: call
        # devices.use_host_devices() before JAX starts, as the CLI does).
        chain_method = "parallel" if jax.local_device_count() >= chains else "sequential"
        nuts_kwargs["chain_method"] = chain_method
    t0 = time.perf_counter()
    with model, precision_scope("float64"):
        idata = pm.sample(
            draws,
            tune=tune,
            chains=chains,
            cores=cores,
            random_seed=random_seed,
            progressbar=progressbar,
            var_names=var_names,
            nuts_sampler=sampler,
            nuts=nuts_kwargs,
            compute_convergence_checks=False,
        )
    total = time.perf_counter() - t0
    sampling = float(idata.posterior.attrs.get("sampling_time", total))
    compile_seconds = max(total - sampling, 0.0)
    return FitOutput(
        draws={n: idata.posterior[n].values for n in var_names},
        groups={"sample_stats": idata.sample_stats.to_dataset()},
        compile_seconds=compile_seconds,
        run_seconds=total - compile_seconds,
        settings={} if chain_method is None else {"chain_method": chain_method},
        extra={"divergences": int(idata.sample_stats["diverging"].sum())},
    )
