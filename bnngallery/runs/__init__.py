"""What ``bnngallery run MODEL`` and ``bnngallery compare MODEL`` do: data -> model -> fits ->
metrics, figures and saved results.

======================  ===============================================================
:mod:`.settings`        one record per model (run, sizes, methods, comparison), ``advi_options``
:mod:`.common`          the fit-each-method loop, the ``metrics.json`` row, the summary
:mod:`.moons`, ...      one module per gallery model (``regression``, ``mnist``, ``ode``)
:mod:`.compare`         ``bnngallery compare``
:mod:`.gallery`         the site: executes ``gallery/`` notebooks, builds it with Sphinx
======================  ===============================================================
"""

from __future__ import annotations

from .settings import MODELS, get_model, load

#: CLI model name -> "module:function" of its run (a view of the model records); imported
#: only when that model is run.
RUNNERS = {name: m.run for name, m in MODELS.items() if m.run}


def get_runner(name: str):
    """The run function of gallery model ``name``."""
    if name not in RUNNERS:
        raise ValueError(f"Unknown model {name!r}; choose one of {sorted(RUNNERS)}.")
    return load(get_model(name).run)
