"""``flow_advi``: VI with an inverse autoregressive flow (NumPyro's ``AutoIAFNormal``) on the
exact full-data log density (:mod:`bnngallery.inference.flow`)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Call, Method


@dataclass(frozen=True)
class FlowOptions:
    """``steps`` SVI steps at ``learning_rate`` (``lr_schedule``), ``draws`` from the flow,
    ``restarts`` independent fits, the best final ELBO kept."""

    steps: int = 30_000
    learning_rate: float = 0.01
    lr_schedule: str | None = None
    draws: int = 1000
    restarts: int = 1


def _fit(call: Call, opts: FlowOptions):
    from ..flow import NUM_FLOWS, fit_flow

    assert opts.lr_schedule is not None  # fit fills it from the backend
    out = fit_flow(
        call.model,
        steps=opts.steps,
        learning_rate=opts.learning_rate,
        draws=opts.draws,
        random_seed=call.random_seed,
        progressbar=call.progressbar,
        lr_schedule=opts.lr_schedule,
    )
    out.settings.update(flow="iaf", num_flows=NUM_FLOWS, precision="float64")
    return out


METHOD = Method(
    name="flow_advi",
    label="IAF flow VI",
    summary="VI with an inverse autoregressive flow (NumPyro), small models",
    options=FlowOptions,
    fitter=_fit,
    kind="full_data_vi",
    minibatch=False,
    needs=("jax", "numpyro", "optax"),
)
