"""Progress display of long fits: a widget in JupyterLab, text elsewhere, never an error block.

In a Jupyter kernel, ``tqdm.auto`` without ipywidgets warns "IProgress not found" and, like
NumPyro's sampler bars, writes text to stderr, which notebooks show as an error-coloured block.
Here a bar is a widget where the kernel has ipywidgets and text on stdout otherwise; NUTS's
own bars are moved to stdout the same way. ``BNNGALLERY_PROGRESS=text`` asks for text even
where widgets would work (the site build: a static page cannot show a live widget).
"""

from __future__ import annotations

import contextlib
import os
import sys
from importlib.util import find_spec


def in_jupyter_kernel() -> bool:
    """Whether this code runs inside a Jupyter (IPython) kernel."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and "IPKernelApp" in shell.config


def widgets_wanted() -> bool:
    """Whether bars should be widgets: in a kernel that has ipywidgets, unless text was asked for."""
    return (
        in_jupyter_kernel() and os.environ.get("BNNGALLERY_PROGRESS") != "text" and find_spec("ipywidgets") is not None
    )


def progress_bar(**kwargs):
    """A tqdm bar (``kwargs`` as tqdm's): a widget, or text on stdout in a kernel, stderr outside one."""
    from tqdm import tqdm

    if widgets_wanted():
        from tqdm.notebook import tqdm as widget_tqdm

        return widget_tqdm(**kwargs)
    return tqdm(file=sys.stdout if in_jupyter_kernel() else sys.stderr, **kwargs)


@contextlib.contextmanager
def sampler_bars(progressbar: bool):
    """NUTS's bars under the same rule as :func:`progress_bar`, around a call to PyMC's sampler.

    NumPyro draws its bars with ``tqdm.auto`` for parallel chains (a widget, or the
    "IProgress not found" warning without ipywidgets) and with plain tqdm on stderr for
    sequential ones, and takes no bar class from its caller. Where widgets are not wanted in
    a kernel, NumPyro's ``tqdm_auto`` is swapped for plain tqdm for the duration of the call
    and stderr goes to stdout, so both kinds come out as text on stdout.
    """
    if not progressbar or not in_jupyter_kernel() or widgets_wanted():
        yield
        return
    import numpyro.util
    from tqdm import tqdm

    saved = numpyro.util.tqdm_auto
    numpyro.util.tqdm_auto = tqdm
    try:
        with contextlib.redirect_stderr(sys.stdout):
            yield
    finally:
        numpyro.util.tqdm_auto = saved
