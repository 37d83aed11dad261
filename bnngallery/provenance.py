"""Where and with what a number was measured: the machine and the versions of the numeric stack.

Every result file, every run's ``metrics.json`` and every benchmark entry carries both, so a
figure can be traced to the software that produced it (a seed reproduces a fit only with the
same versions on the same kind of machine; see the README's "What you can rely on"). Imports
nothing of the package and no numeric library: versions are read from the installed
distributions' metadata.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata

#: The distributions whose versions decide the numbers a fit gives.
NUMERIC_STACK = (
    "numpy",
    "scipy",
    "pymc",
    "pytensor",
    "jax",
    "jaxlib",
    "numpyro",
    "optax",
    "arviz",
    "arviz-stats",
    "xarray",
    "scikit-learn",
)


def cpu_count() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def machine_description() -> str:
    """One line naming the machine a run was measured on, e.g. ``"x86_64 Linux, 2 CPUs"``."""
    return f"{platform.machine()} {platform.system()}, {cpu_count()} CPUs"


def software_versions() -> dict[str, str]:
    """``{"python": "3.13.1", "bnngallery": ..., "numpy": ..., ...}``: Python and every package of
    :data:`NUMERIC_STACK` that is installed (a missing optional one is left out)."""
    out = {"python": platform.python_version()}
    for dist in ("bnngallery", *NUMERIC_STACK):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out
