"""``laplace``: a Gaussian at the MAP with the exact Hessian, over every parameter or a subset
(the last layer, for nets too big for a dense Hessian) (:mod:`bnngallery.inference.laplace`)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Call, Method
from .ensemble import MAPOptions, map_fit_options


@dataclass(frozen=True)
class LaplaceOptions(MAPOptions):
    """The MAP fit's options, ``draws`` from the Gaussian and ``subset``: ``"all"``,
    ``"last_layer"`` (the output layer's weights and bias) or a list of random variables."""

    draws: int = 1000
    subset: str | list[str] = "all"


def _fit(call: Call, opts: LaplaceOptions):
    from ..laplace import fit_laplace

    subset = None if opts.subset == "all" else list(opts.subset)
    return fit_laplace(
        call.model, draws=opts.draws, random_seed=call.random_seed, subset=subset, **map_fit_options(opts, call)
    )


METHOD = Method(
    name="laplace",
    label="Laplace at the MAP",
    summary="a Gaussian at the MAP from the exact Hessian (or over the last layer)",
    options=LaplaceOptions,
    fitter=_fit,
    kind="map",
    settings={"optimizer": "adam", "approximation": "laplace", "hessian": "full"},
)
