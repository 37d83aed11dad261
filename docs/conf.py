"""Sphinx configuration of the gallery site (built by ``make site``; see bnngallery.runs.gallery).

The build stages this folder, the executed notebooks and a generated landing page into one
source folder under ``_build/site``; nothing executed is ever written into the repository.
Notebooks are executed by bnngallery.runs.gallery before Sphinx runs (so the smoke build of the
tests and the full build share one executor), hence ``nb_execution_mode = "off"`` here.
"""

from pathlib import Path

project = "bnngallery"
author = "the bnngallery developers"
copyright = "2026, the bnngallery developers"

extensions = [
    "myst_nb",  # notebooks (.ipynb, executed beforehand) and Markdown pages
    "sphinx_design",  # the landing page's cards
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",  # the API reference, from the numpydoc docstrings
    "sphinx-mathjax-offline",  # MathJax served from _static: math renders without a network
]

nb_execution_mode = "off"
# Widgets would need JavaScript from a CDN; the executor writes text progress bars instead.
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3
# The included README sections start at level 3 under the page's level-1 title.
suppress_warnings = ["myst.header"]

autosummary_generate = True
autodoc_typehints = "none"  # numpydoc renders the types of the Parameters sections
numpydoc_show_class_members = False
numpydoc_validation_checks: set[str] = set()

html_theme = "pydata_sphinx_theme"
html_title = "bnngallery"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"
# the theme reads its light/dark mode from here; without it, it logs an error on first load
html_context = {"default_mode": "light"}
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
    "header_links_before_dropdown": 3,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False
html_sidebars = {"**": []}  # pages are one column; each page's outline stays on the right
exclude_patterns = ["_build", "README.md", "_methods.md"]


def _write_methods_table(app) -> None:
    """api.md's table of fit methods, written from the method registry at each build (so it
    cannot drift from the code) into the staged sources, never into the repository."""
    from bnngallery.fitting import describe_methods

    (Path(app.srcdir) / "_methods.md").write_text(describe_methods() + "\n", encoding="utf-8")


def setup(app):
    app.connect("builder-inited", _write_methods_table)
    return {"parallel_read_safe": True}
