"""What the engine needs to know about a built model: a typed record attached to the ``pm.Model``.

Every gallery builder ends with :func:`tag_model`; ``fit``, ``predict`` and the diagnostics
read the record back with :func:`model_info`, which returns an empty record for a PyMC model
that no builder made (the engine then works from the graph alone).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pymc as pm

from ..validation import check_choice

#: The tasks a model can declare; they decide the predictive scores used for it.
TASKS = ("binary", "multiclass", "regression")

_ATTR = "gallery_info"


@dataclass(frozen=True)
class ModelInfo:
    """The builder's description of a model.

    Attributes
    ----------
    family : str
        The builder's name (``models.BUILDERS``); ``""`` for a model not built by the gallery.
    settings : dict
        Keyword arguments that rebuild the same network; stored with every fit so a result
        can be re-applied to new data and checked on load.
    output : str or None
        The Deterministic holding the predictive parameter (``predict``'s default output).
    task : {"binary", "multiclass", "regression"} or None
        What the output predicts.
    advi_init_sd : float, dict or None
        The initial posterior sd that suits this network (``fit`` uses it unless told
        otherwise): one number, or one per random variable (by name; the builders scale it
        to each layer's fan-in, so the start adds the same noise to every layer's units).
    rows_independent : bool
        False where the output for one row of X depends on the others (an ODE solution on
        a time grid), so prediction must not split X into chunks of rows.
    last_layer : tuple of str
        The free random variables of the network's output layer, its weights and bias
        (``fit(method="laplace", subset="last_layer")``); empty for a model without one.
    """

    family: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    output: str | None = None
    task: str | None = None
    advi_init_sd: float | dict[str, float] | None = None
    rows_independent: bool = True
    last_layer: tuple[str, ...] = ()

    def __post_init__(self):
        if self.task is not None:
            check_choice(self.task, name="task", allowed=TASKS)


def tag_model(
    model: pm.Model,
    *,
    family: str,
    settings: dict,
    output: str,
    task: str,
    advi_init_sd: float | dict[str, float] | None = None,
    rows_independent: bool = True,
    last_layer: tuple[str, ...] = (),
) -> pm.Model:
    """Attach a :class:`ModelInfo` to ``model`` and return the model."""
    info = ModelInfo(
        family=family,
        settings=dict(settings),
        output=output,
        task=task,
        advi_init_sd=(
            None
            if advi_init_sd is None
            else {k: float(v) for k, v in advi_init_sd.items()}
            if isinstance(advi_init_sd, dict)
            else float(advi_init_sd)
        ),
        rows_independent=bool(rows_independent),
        last_layer=tuple(last_layer),
    )
    setattr(model, _ATTR, info)
    return model


def model_info(model: pm.Model) -> ModelInfo:
    """The record a builder attached to ``model``; an empty :class:`ModelInfo` for any other model."""
    info = getattr(model, _ATTR, None)
    return info if isinstance(info, ModelInfo) else ModelInfo()
