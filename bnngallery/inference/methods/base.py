"""The record every fit method exports (:class:`Method`), the options its record declares,
and the one rule that checks them.

A method's options are a frozen dataclass: its fields are the options the method takes, their
defaults are the method's defaults. An option is checked by its name (:data:`CHECKS`), the same
way for every method that takes it; an option the method does not take is refused, naming the
ones it does.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pymc as pm

from ...models.info import ModelInfo, model_info
from ...validation import check_choice, check_open_unit, check_positive, check_positive_int
from ..advi_loop import LR_SCHEDULES
from ..output import FitOutput
from ..precision import check_precision

#: What a method is: Gaussian VI (``init_sd`` is the first posterior sd), a fit built on MAP
#: fits, stochastic-gradient MCMC, VI on the exact full-data density, or full-data MCMC.
KINDS = ("gaussian_vi", "map", "sg_mcmc", "full_data_vi", "mcmc")
#: NUTS's samplers.
SAMPLERS = ("numpyro", "pymc")
INSTALL_HINT = 'pip install "bnngallery"  (or: pip install jax numpyro optax)'


def require_package(module: str, what: str) -> None:
    """Refuse, naming the install, a fit that needs an optional package that is missing."""
    if importlib.util.find_spec(module) is None:
        raise ImportError(
            f"{what} needs the optional package {module!r}, which is not installed. Install it with: {INSTALL_HINT}"
        )


@dataclass(frozen=True)
class Call:
    """What every fitter is handed besides its options."""

    model: pm.Model
    info: ModelInfo
    backend: str
    random_seed: int
    progressbar: bool


@dataclass(frozen=True)
class Method:
    """One fit method: its name, options, fitter and flags.

    ``fitter(call, options)`` fits ``call.model`` with ``options`` (an instance of
    ``options``, checked and with the model-dependent defaults filled) and returns a
    :class:`~bnngallery.inference.output.FitOutput`.
    """

    name: str
    label: str  #: how tables and logs name it
    summary: str  #: one line for the docs' table of methods
    options: type
    fitter: Callable[[Call, Any], FitOutput]
    kind: str
    backends: tuple[str, ...] = ("jax",)
    minibatch: bool = True  #: follows the model's pm.Minibatch (else needs the exact full-data density)
    draws_per_chain: bool = False  #: ``draws`` counts per chain, not in total
    needs: tuple[str, ...] = ("jax", "optax")  #: packages it imports on the JAX backend
    #: the run's NUTS sizes (draws, tune, chains) are its own: a full-data MCMC reference
    reference: bool = False
    #: options a gallery run gives it beyond fit's defaults (``bnngallery.runs.settings``)
    run_options: Mapping[str, Any] = field(default_factory=dict)
    #: settings every result of it records besides its options (a failed fit's partial one too)
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: extra checks of the model and options before anything compiles; ``given`` are the
    #: options the call set (the rest are at their defaults)
    check: Callable[[Call, Any, frozenset], None] | None = None

    def __post_init__(self) -> None:
        check_choice(self.kind, name="kind", allowed=KINDS)
        unknown = sorted(
            f.name for f in dataclasses.fields(self.options) if f.name not in CHECKS and "check" not in f.metadata
        )
        if unknown:
            raise ValueError(
                f"method {self.name!r} declares options {unknown} that have no check: add one to CHECKS, or "
                "give the field metadata={'check': fn}."
            )

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self.options))

    @property
    def multi_device(self) -> bool:
        """Splits each minibatch over devices (it takes ``devices``)."""
        return "devices" in self.option_names

    def check_option(self, name: str, value, model: pm.Model):
        """``value`` of option ``name`` checked by its field's own check, else :data:`CHECKS`."""
        own = next(f for f in dataclasses.fields(self.options) if f.name == name).metadata.get("check")
        return (own or CHECKS[name])(value, model)

    def defaults(self) -> dict[str, Any]:
        """The options and their defaults (None: chosen at fit time from the model or backend)."""
        return dataclasses.asdict(self.options())


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


def resolve_subset(model: pm.Model, subset) -> str | list[str]:
    """``laplace``'s ``subset``: ``"all"``, or the value-variable names it covers.

    ``"last_layer"`` is the output layer's weights and bias, as the gallery builders record
    them in :class:`~bnngallery.models.info.ModelInfo`; or name free random variables.
    """
    values = {rv.name: model.rvs_to_values[rv].name for rv in model.free_RVs}
    if isinstance(subset, str):
        check_choice(subset, name="subset", allowed=SUBSETS)
        if subset == "all":
            return "all"
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


def _int(name: str, *, allow_zero: bool = False) -> Callable:
    return lambda value, model: check_positive_int(value, name=name, allow_zero=allow_zero)


#: Option name -> its check ``(value, model) -> cleaned value``; one check per name, whichever
#: method takes it. A value of None is never checked: it means the method's default.
CHECKS: dict[str, Callable[[Any, pm.Model], Any]] = {
    "steps": _int("steps"),
    "draws": _int("draws"),
    "tune": _int("tune", allow_zero=True),
    "chains": _int("chains"),
    "cores": _int("cores"),
    "devices": _int("devices"),
    "mc_samples": _int("mc_samples"),
    "chunk_size": _int("chunk_size"),
    "restarts": _int("restarts"),
    "rank": _int("rank"),
    "members": _int("members"),
    "cycles": _int("cycles"),
    "learning_rate": lambda v, model: check_positive(v, name="learning_rate"),
    "lr_schedule": lambda v, model: check_choice(v, name="lr_schedule", allowed=LR_SCHEDULES),
    "precision": lambda v, model: check_precision(v),
    "init_sd": lambda v, model: resolve_init_sd(model, v),
    "subset": lambda v, model: resolve_subset(model, v),
    "target_accept": lambda v, model: check_open_unit(v, name="target_accept"),
    "sampler": lambda v, model: check_choice(v, name="sampler", allowed=SAMPLERS),
}


def parse_options(method: Method, model: pm.Model, given: Mapping[str, Any], *, fixed: tuple[str, ...] = ()):
    """``given`` as ``method``'s options record: each checked by its name, the rest at their
    defaults. An option the method does not take is refused (a None is taken as not given)."""
    foreign = sorted(k for k, v in given.items() if k not in method.option_names and v is not None)
    if foreign:
        shown = ", ".join(f"{k}={given[k]!r}" for k in foreign)
        raise ValueError(
            f"{shown} {'does' if len(foreign) == 1 else 'do'} not apply to method={method.name!r}. "
            f"It takes {', '.join(method.option_names)}, and fit's own {', '.join(fixed)}."
        )
    values = {k: method.check_option(k, v, model) for k, v in given.items() if v is not None}
    return method.options(**values)
