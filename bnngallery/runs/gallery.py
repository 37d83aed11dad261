"""Execute the gallery notebooks (jupytext percent ``gallery/*.py``) and index them.

``python -m bnngallery.runs.gallery`` (``make gallery``) runs every notebook at full size
into ``gallery/_build/``: an executed ``.ipynb`` and an ``.html`` per notebook, and an
``index.html`` that links them with their key figure (the last figure a notebook draws)
and the numbers its last text output printed. With ``--smoke`` (or ``BNNGALLERY_SMOKE=1``)
every loop is shrunk; the test suite runs each notebook that way.
"""

from __future__ import annotations

import argparse
import base64
import html
import os
import sys
import time
from pathlib import Path


def notebook_paths(gallery_dir: Path) -> list[Path]:
    """The gallery notebooks: every ``*.py`` in the folder that jupytext marks as percent format."""
    return sorted(p for p in gallery_dir.glob("*.py") if "format_name: percent" in p.read_text()[:600])


def execute_notebook(path: Path, *, smoke: bool, timeout: int = 3600, cwd: Path | None = None):
    """Run one jupytext notebook in a fresh kernel and return the executed ``nbformat`` notebook."""
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(path)
    # The kernel inherits this process's environment: the smoke switch, and inline
    # figures (a caller's MPLBACKEND=Agg would leave the notebook without pictures).
    overrides = {"BNNGALLERY_SMOKE": "1" if smoke else "0", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
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
    return nb


def _key_figure_and_text(nb) -> tuple[str | None, str]:
    image, text = None, ""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data:
                image = data["image/png"]
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                text = out.get("text", "")
    return image, text.strip()


def build(gallery_dir: Path, out_dir: Path, *, smoke: bool = False, only: list[str] | None = None) -> Path:
    """Execute the notebooks into ``out_dir`` and write ``index.html``; return its path."""
    import nbformat
    from nbconvert import HTMLExporter

    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for path in notebook_paths(gallery_dir):
        if only and path.stem not in only:
            continue
        print(f"[gallery] executing {path.name} ({'smoke' if smoke else 'full size'})", flush=True)
        t0 = time.perf_counter()
        nb = execute_notebook(path, smoke=smoke, cwd=gallery_dir.parent)
        seconds = time.perf_counter() - t0
        nbformat.write(nb, out_dir / f"{path.stem}.ipynb")
        body, _ = HTMLExporter().from_notebook_node(nb)
        (out_dir / f"{path.stem}.html").write_text(body)
        title = next((c.source.splitlines()[0].lstrip("# ") for c in nb.cells if c.cell_type == "markdown"), path.stem)
        image, text = _key_figure_and_text(nb)
        entries.append((path.stem, title, image, text, seconds))
    index = out_dir / "index.html"
    parts = [
        "<html><head><meta charset='utf-8'><title>bnngallery</title>",
        "<style>body{font-family:sans-serif;max-width:980px;margin:auto}"
        ".card{border:1px solid #ddd;padding:12px;margin:12px 0}img{max-width:100%}"
        "pre{background:#f6f6f6;padding:8px;white-space:pre-wrap}</style></head><body>",
        "<h1>bnngallery: Bayesian neural networks in PyMC</h1>",
    ]
    for stem, title, image, text, seconds in entries:
        parts.append(f"<div class='card'><h2><a href='{stem}.html'>{html.escape(title)}</a></h2>")
        parts.append(f"<p>executed in {seconds:.0f} s &middot; <a href='{stem}.ipynb'>notebook</a></p>")
        if image:
            img = image if isinstance(image, str) else base64.b64encode(image).decode()
            parts.append(f"<img src='data:image/png;base64,{img}'>")
        if text:
            parts.append(f"<pre>{html.escape(text[-1500:])}</pre>")
        parts.append("</div>")
    parts.append("</body></html>")
    index.write_text("\n".join(parts))
    return index


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gallery", type=Path, default=Path("gallery"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--only", nargs="*", help="notebook names (without .py) to run")
    args = parser.parse_args(argv)
    smoke = args.smoke or os.environ.get("BNNGALLERY_SMOKE") == "1"
    index = build(args.gallery, args.out or args.gallery / "_build", smoke=smoke, only=args.only)
    print(f"[gallery] wrote {index}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
