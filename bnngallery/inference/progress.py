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


def progress_bar(**kwargs):
    """A tqdm bar (``kwargs`` as tqdm's): a widget, or text on stdout in a kernel, stderr outside one."""
    from tqdm import tqdm

    kernel = in_jupyter_kernel()
    if kernel and os.environ.get("BNNGALLERY_PROGRESS") != "text" and find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm as widget_tqdm

        return widget_tqdm(**kwargs)
    return tqdm(file=sys.stdout if kernel else sys.stderr, **kwargs)


@contextlib.contextmanager
def bars_on_stdout(progressbar: bool):
    """In a Jupyter kernel, send a third-party sampler's text bars (written to stderr) to stdout."""
    if progressbar and in_jupyter_kernel():
        with contextlib.redirect_stderr(sys.stdout):
            yield
    else:
        yield
