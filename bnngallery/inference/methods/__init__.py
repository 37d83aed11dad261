"""The registry of fit methods: one module per method, each exporting one :class:`Method`
record (``METHOD``) with its options, fitter and flags.

``fit``, the CLI, the run settings, ``compare`` and the docs read names, options, defaults
and labels from here. A new method is one module and one line of :data:`BUILTIN` (or, from
outside the package, one :func:`register` call).
"""

from __future__ import annotations

from importlib import import_module

from .base import CHECKS, KINDS, SAMPLERS, Call, Method, parse_options, require_package

#: The gallery's methods, each a module of this package, in the order tables list them.
BUILTIN = (
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

REGISTRY: dict[str, Method] = {name: import_module(f"{__name__}.{name}").METHOD for name in BUILTIN}


def register(method: Method, *, replace: bool = False) -> Method:
    """Add ``method`` to the registry (``fit``, ``compare`` and the CLI then take it)."""
    if not isinstance(method, Method):
        raise TypeError(f"register takes a Method record; got {type(method).__name__}.")
    if method.name in REGISTRY and not replace:
        raise ValueError(f"a method named {method.name!r} is registered already; pass replace=True to replace it.")
    REGISTRY[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove a method added by :func:`register` (the built-in ones stay)."""
    if name in BUILTIN:
        raise ValueError(f"{name!r} is a built-in method and cannot be removed.")
    REGISTRY.pop(name, None)


def get_method(name: str) -> Method:
    """The record of method ``name``; a clear error naming the methods there are."""
    if not isinstance(name, str) or name not in REGISTRY:
        raise ValueError(f"method must be one of {tuple(REGISTRY)}; got {name!r}.")
    return REGISTRY[name]


__all__ = [
    "BUILTIN",
    "CHECKS",
    "KINDS",
    "REGISTRY",
    "SAMPLERS",
    "Call",
    "Method",
    "get_method",
    "parse_options",
    "require_package",
    "register",
    "unregister",
]
