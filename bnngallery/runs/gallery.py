"""Build the gallery site: execute the notebooks (jupytext percent ``gallery/*.py``), then Sphinx.

``python -m bnngallery.runs.gallery`` (``make site``) runs every notebook at full size and
renders them, with a landing page of cards, the README's tables and the API reference, into
``gallery/_build/site/html``. ``--smoke`` (``make site SMOKE=1``) shrinks every loop; the test
suite builds the site that way and opens it in a browser, so the site cannot rot.

Why Sphinx with myst-nb: it is what the PyMC and NumPyro galleries are built with, it renders
executed notebooks as they are (no conversion to scripts, as sphinx-gallery needs), and the
same build gives the API reference from the numpydoc docstrings. The notebooks are executed
here rather than by myst-nb, so one executor serves the tests, the smoke site and the full
site, and each notebook's key figure, closing numbers and run time are known for its card.

A notebook's card shows the figure of its cell tagged ``thumbnail``, the first paragraph of
its opening text and the table its last cell displays. Executed notebooks live only under
the build folder; nothing executed is written into the repository.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: Run in the kernel before the notebook, hidden on the site: PyMC's log lines (sampler
#: announcements, divergence counts) go to stdout as plain text, so that a stderr block on
#: a page always means a warning worth reading (the tests fail on any).
_SITE_PREAMBLE = """\
import logging, sys, warnings
# tqdm.auto warns on import in a kernel without ipywidgets; the site's bars are text by design
warnings.filterwarnings("ignore", message="IProgress not found")
import pymc
for _handler in logging.getLogger("pymc").handlers:
    if isinstance(_handler, logging.StreamHandler):
        _handler.setStream(sys.stdout)
"""


#: The order of the landing page's cards: the main model first, then by topic; others follow by name.
ORDER = ("moons", "regression", "advi_vs_nuts", "approximations", "mnist_hierarchical", "mnist_cnn", "ode", "reuse")


def notebook_paths(gallery_dir: Path) -> list[Path]:
    """The gallery notebooks: every ``*.py`` in the folder that jupytext marks as percent format."""
    found = [p for p in gallery_dir.glob("*.py") if "format_name: percent" in p.read_text()[:600]]
    return sorted(found, key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else len(ORDER), p.stem))


def execute_notebook(path: Path, *, smoke: bool, timeout: int = 3600, cwd: Path | None = None):
    """Run one jupytext notebook in a fresh kernel and return the executed ``nbformat`` notebook.

    Progress bars are text on stdout (``BNNGALLERY_PROGRESS=text``) and their updates are
    reduced to the final state, so an executed notebook reads as a person would see it at
    the end of the run. The first cell (tagged ``remove-cell``) is the
    site's preamble, which Sphinx does not show.
    """
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    nb = jupytext.read(path)
    preamble = nbformat.v4.new_code_cell(_SITE_PREAMBLE, metadata={"tags": ["remove-cell"]})
    nb.cells.insert(0, preamble)
    # The kernel inherits this process's environment: the smoke switch, text progress bars
    # and inline figures (a caller's MPLBACKEND=Agg would leave the notebook without pictures).
    overrides = {
        "BNNGALLERY_SMOKE": "1" if smoke else "0",
        "BNNGALLERY_PROGRESS": "text",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    try:
        client = NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd or path.parent)}}
        )
        client.execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    for cell in nb.cells:
        if "outputs" in cell:
            cell["outputs"] = merge_streams(cell["outputs"])
    return nb


def merge_streams(outputs: list) -> list:
    """Consecutive stream outputs of one name joined (a kernel sends a bar in many messages),
    each reduced to what a terminal would show at the end (:func:`terminal_text`)."""
    merged: list = []
    for out in outputs:
        last = merged[-1] if merged else None
        if (
            out.get("output_type") == "stream"
            and last is not None
            and last.get("output_type") == "stream"
            and last.get("name") == out.get("name")
        ):
            last["text"] += out["text"]
        else:
            merged.append(out)
    for out in merged:
        if out.get("output_type") == "stream":
            out["text"] = terminal_text(out["text"])
    return merged


def terminal_text(text: str) -> str:
    """What a terminal shows after printing ``text``: ``\\r`` returns to the start of the line,
    ``ESC[A`` moves up a line (tqdm's bars for parallel chains), ``\\n`` down; a line written
    from its start is replaced as a whole."""
    lines, row, col = [""], 0, 0
    for token in re.split(r"(\r|\n|\x1b\[A)", text):
        if token == "\r":
            col = 0
        elif token == "\n":
            row, col = row + 1, 0
            if row == len(lines):
                lines.append("")
        elif token == "\x1b[A":
            row = max(0, row - 1)
        elif token:
            # a write from the start of a line replaces it (bars redraw whole lines; what a
            # program prints after its bars must not keep a bar's tail)
            line = lines[row].ljust(col) if col else ""
            lines[row] = line[:col] + token + line[col + len(token) :]
            col += len(token)
    return "\n".join(line.rstrip() for line in lines)


def stderr_outputs(nb) -> list[tuple[int, str]]:
    """(cell index, text) of every stderr stream output: warnings a reader would have to read."""
    return [
        (i, out["text"])
        for i, cell in enumerate(nb.cells)
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stderr"
    ]


@dataclass
class Card:
    """What the landing page shows of one executed notebook."""

    name: str
    title: str
    summary: str
    numbers: str  # Markdown: the table the notebook's last cell displayed
    seconds: float
    smoke: bool


def _source(cell) -> str:
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def notebook_card(nb, name: str, seconds: float, *, smoke: bool) -> tuple[Card, bytes]:
    """The card of an executed notebook and its key figure (PNG bytes).

    Raises ValueError naming what is missing: a level-1 title, a cell tagged ``thumbnail``
    that draws a figure, or a last cell that displays the measured numbers as Markdown.
    """
    markdown = [_source(c) for c in nb.cells if c.cell_type == "markdown"]
    if not markdown or not markdown[0].startswith("# "):
        raise ValueError(f"{name}: the notebook must open with a Markdown cell whose first line is '# Title'.")
    title, _, rest = markdown[0].partition("\n")
    summary = rest.strip().split("\n\n")[0].replace("\n", " ")
    figure = None
    for cell in nb.cells:
        if "thumbnail" in cell.get("metadata", {}).get("tags", []):
            pngs = [o["data"]["image/png"] for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
            figure = base64.b64decode(pngs[-1]) if pngs else None
    if figure is None:
        raise ValueError(f"{name}: no cell tagged 'thumbnail' drew a figure; tag the cell of the key figure.")
    code = [c for c in nb.cells if c.cell_type == "code"]
    last = [o["data"]["text/markdown"] for o in code[-1].get("outputs", []) if "text/markdown" in o.get("data", {})]
    if not last:
        raise ValueError(f"{name}: the last cell must display the numbers the notebook measured (IPython Markdown).")
    card = Card(name, title[2:].strip(), summary, _source_text(last[-1]), seconds, smoke)
    return card, figure


def _source_text(value) -> str:
    return value if isinstance(value, str) else "".join(value)


def execute_all(gallery_dir: Path, out_dir: Path, *, smoke: bool, only: list[str] | None = None) -> list[Card]:
    """Execute the notebooks into ``out_dir/notebooks`` with their key figures; return the cards.

    Also writes ``out_dir/cards.json`` (the cards with their run times).
    """
    import nbformat

    paths = [p for p in notebook_paths(gallery_dir) if not only or p.stem in only]
    if only and len(paths) != len(set(only)):
        known = [p.stem for p in notebook_paths(gallery_dir)]
        raise ValueError(f"Unknown notebook(s) in {only}; the gallery has {known}.")
    (out_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    (out_dir / "thumbnails").mkdir(exist_ok=True)
    cards = []
    for path in paths:
        print(f"[site] executing {path.name} ({'smoke' if smoke else 'full size'})", flush=True)
        t0 = time.perf_counter()
        nb = execute_notebook(path, smoke=smoke, cwd=gallery_dir.parent)
        seconds = time.perf_counter() - t0
        nbformat.write(nb, out_dir / "notebooks" / f"{path.stem}.ipynb")
        card, figure = notebook_card(nb, path.stem, seconds, smoke=smoke)
        (out_dir / "thumbnails" / f"{path.stem}.png").write_bytes(figure)
        cards.append(card)
        print(f"[site] {path.name}: {seconds:.0f} s", flush=True)
    (out_dir / "cards.json").write_text(json.dumps([asdict(c) for c in cards], indent=1))
    return cards


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def landing_page(cards: list[Card]) -> str:
    """The site's index (MyST Markdown): one card per notebook, and the site's table of contents."""
    smoke = any(c.smoke for c in cards)
    lines = [
        "# bnngallery",
        "",
        "Bayesian neural networks as PyMC graphs, fitted fast with minibatch ADVI, checked with NUTS,",
        "and shown with their uncertainty. Each card is one notebook of the gallery, executed for",
        "this site; its numbers are what that run measured.",
        "",
    ]
    if smoke:
        lines += [
            ":::{warning}",
            "This is a **smoke build**: every fit was shrunk to a few steps, so the figures and numbers",
            "only show that the notebooks run. `make site` builds the full-size gallery.",
            ":::",
            "",
        ]
    lines += ["::::{grid} 1 1 2 2", ":gutter: 3", ""]
    for c in cards:
        run = f"{'smoke run' if c.smoke else 'run'} {_duration(c.seconds)} on {_machine()}"
        lines += [
            f":::{{grid-item-card}} {c.title}",
            f":link: notebooks/{c.name}",
            ":link-type: doc",
            f":img-top: thumbnails/{c.name}.png",
            f":img-alt: key figure of {c.name}",
            f":footer: {run}",
            "",
            c.summary,
            "",
            c.numbers.strip(),
            "",
            ":::",
            "",
        ]
    lines += ["::::", ""]
    # the header bar shows the table of contents: each notebook under its title's short form
    toc = "\n".join(f"{c.title.split(':')[0]} <notebooks/{c.name}>" for c in cards)
    lines += ["```{toctree}", ":hidden:", ":caption: Notebooks", "", toc, "```", ""]
    reference = ["results", "mnist_scale_mixture", "reuse", "api"]
    lines += ["```{toctree}", ":hidden:", ":caption: Reference", "", *reference, "```", ""]
    return "\n".join(lines)


def _machine() -> str:
    from ..provenance import cpu_count

    return f"{cpu_count()} CPU cores"


def build_site(
    gallery_dir: Path, out_dir: Path, *, smoke: bool, only: list[str] | None = None, docs_dir: Path | None = None
) -> Path:
    """Execute the notebooks, stage the Sphinx sources and build HTML; return ``index.html``.

    ``out_dir/src`` holds the staged sources (``docs/``, the README, the executed notebooks,
    the thumbnails and the generated landing page), ``out_dir/html`` the site. The Sphinx
    build runs with warnings as errors: a broken reference or a missing API name fails it,
    with Sphinx's message.
    """
    docs_dir = docs_dir or REPO / "docs"
    if not (docs_dir / "conf.py").is_file():
        raise FileNotFoundError(f"No Sphinx sources at {docs_dir}: build the site from a checkout of the repository.")
    src = out_dir / "src"
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(docs_dir, src)
    shutil.copy(REPO / "README.md", src / "README.md")
    # the README's figures (benchmark plots), at the paths its image links name
    (src / "benchmarks" / "results").mkdir(parents=True, exist_ok=True)
    for png in (REPO / "benchmarks" / "results").glob("*.png"):
        shutil.copy(png, src / "benchmarks" / "results" / png.name)
    cards = execute_all(gallery_dir, src, smoke=smoke, only=only)
    (src / "index.md").write_text(landing_page(cards))
    html = out_dir / "html"
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", str(src), str(html)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"Sphinx failed (exit {done.returncode}):\n{done.stderr[-6000:]}")
    print(f"[site] Sphinx: {time.perf_counter() - t0:.0f} s", flush=True)
    return html / "index.html"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gallery", type=Path, default=REPO / "gallery")
    parser.add_argument("--out", type=Path, default=None, help="build folder (default gallery/_build/site)")
    parser.add_argument("--smoke", action="store_true", help="shrink every loop (a quick build that shows it runs)")
    parser.add_argument("--only", nargs="*", help="notebook names (without .py) to build")
    args = parser.parse_args(argv)
    smoke = args.smoke or os.environ.get("BNNGALLERY_SMOKE") == "1"
    t0 = time.perf_counter()
    index = build_site(args.gallery, args.out or args.gallery / "_build" / "site", smoke=smoke, only=args.only)
    print(f"[site] built {index} in {_duration(time.perf_counter() - t0)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
