"""Normalizing-flow VI: an inverse autoregressive flow fitted by NumPyro's SVI.

NumPyro's ``AutoIAFNormal`` guide (Kingma et al. 2016) pushes a standard normal through
``num_flows`` autoregressive affine layers, each a masked network, so q can bend and skew
where a Gaussian cannot. Here it is fitted on the PyMC model's own full-data log density,
as a NumPyro model with one real vector and one ``factor``; the step size decays as in the
ADVI engine. Full-data, so for small models.
"""

from __future__ import annotations

import time

import numpy as np

from .advi_loop import constrained_draws, make_optimizer
from .output import FitOutput
from .precision import precision_scope
from .target import full_data_logp

#: Autoregressive layers of the flow.
NUM_FLOWS = 2


def fit_flow(
    model, *, steps: int, learning_rate: float, draws: int, random_seed: int, progressbar: bool, lr_schedule: str
) -> FitOutput:
    """An IAF fit of ``steps`` SVI steps, ``draws`` draws from it."""
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoIAFNormal
    from numpyro.infer.initialization import init_to_value
    from numpyro.optim import optax_to_numpyro

    t0 = time.perf_counter()
    with precision_scope("float64"):
        logp, layout = full_data_logp(model)
        point = model.initial_point()
        start = np.concatenate([np.asarray(point[n], dtype=np.float64).ravel() for n in layout.names])

        def target():
            z = numpyro.sample("z", dist.ImproperUniform(dist.constraints.real_vector, (), event_shape=(layout.dim,)))
            numpyro.factor("logp", logp(z))

        guide = AutoIAFNormal(target, num_flows=NUM_FLOWS, init_loc_fn=init_to_value(values={"z": jnp.asarray(start)}))
        optimizer = optax_to_numpyro(make_optimizer(learning_rate, steps=steps, lr_schedule=lr_schedule))
        svi = SVI(target, guide, optimizer, Trace_ELBO())
        key_fit, key_draw = jax.random.split(jax.random.PRNGKey(random_seed))
        fitted = svi.run(key_fit, steps, progress_bar=progressbar)
        z = np.asarray(guide.sample_posterior(key_draw, fitted.params, sample_shape=(draws,))["z"])
        if not np.all(np.isfinite(z)):
            raise FloatingPointError(
                f"The flow's draws hold NaN or inf; try a smaller learning_rate (now {learning_rate})."
            )
        out_draws = constrained_draws(model, layout, jnp.asarray(z), "float64")
    return FitOutput(
        draws=out_draws,
        loss=np.asarray(fitted.losses, dtype=np.float64),
        compile_seconds=0.0,
        run_seconds=time.perf_counter() - t0,
        steps_done=steps,
        extra={"num_flows": NUM_FLOWS},
    )
