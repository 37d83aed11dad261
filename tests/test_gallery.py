"""Every gallery notebook runs in smoke mode from a fresh kernel, and reads as a page should:
its opening says what it shows and how long it takes, its key figure is tagged for the site's
card, it ends with the numbers it measured, and no warning block is left for a reader."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from bnngallery.runs.gallery import (
    landing_page,
    merge_streams,
    notebook_card,
    notebook_paths,
    terminal_text,
)

GALLERY = Path(__file__).resolve().parents[1] / "gallery"
NOTEBOOKS = notebook_paths(GALLERY)


def test_there_are_notebooks_and_each_has_a_smoke_switch():
    assert NOTEBOOKS[0].stem == "moons"  # the main model's card comes first
    for path in NOTEBOOKS:
        text = path.read_text()
        assert "SMOKE = False" in text and 'os.environ.get("BNNGALLERY_SMOKE") == "1"' in text, path.name
        opening = text.split("# %%")[1]
        assert "at full size" in opening and "**Run time:**" in opening, f"{path.name}: say the full-size run time"


@pytest.mark.gallery  # executes every notebook (the smoke site's build): make test-gallery
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_in_smoke_mode(smoke_site, path):
    out, _ = smoke_site
    nb = nbformat.read(out / "src" / "notebooks" / f"{path.stem}.ipynb", as_version=4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure drawn"
    # no red blocks: progress bars and PyMC's log lines are plain text, warnings are fixed at the source
    stderr = [o["text"] for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stderr"]
    assert not stderr, stderr
    assert not any("\r" in o.get("text", "") for o in outputs), "progress bar updates left in the output"
    card = next(c for c in json.loads((out / "src" / "cards.json").read_text()) if c["name"] == path.stem)
    assert card["numbers"].startswith("| measured | value |") and card["summary"] and card["seconds"] > 0
    assert (out / "src" / "thumbnails" / f"{path.stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_text_progress_bar_keeps_its_last_state():
    text = "\r  0%|   | 0/10\r 50%|#  | 5/10\r100%|###| 10/10\nnext line\n"
    assert terminal_text(text) == "100%|###| 10/10\nnext line\n"
    # two bars at positions 0 and 1, as tqdm draws parallel chains: down, write, back up
    chains = "\rchain 0:   0%\n\rchain 1:   0%\x1b[A\rchain 0: 100%\n\rchain 1:  50%\x1b[A\n\rchain 1: 100%\x1b[A\n\n"
    assert terminal_text(chains) == "chain 0: 100%\nchain 1: 100%\n"
    assert terminal_text("first\n\rbar  50% | 10/20 it/s\x1b[A\ndone\n") == "first\ndone\n"  # no bar tail
    # a kernel sends the bar in many messages: they are joined before collapsing
    parts = ["\r  0%", "\r 50%", "\r100%", "\n", "done\n"]
    merged = merge_streams([nbformat.v4.new_output("stream", text=t) for t in parts])
    assert [o["text"] for o in merged] == ["100%\ndone\n"]


def _notebook(cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    return nb


def test_a_card_names_what_a_notebook_lacks():
    png = nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="})
    table = nbformat.v4.new_output("display_data", data={"text/markdown": "| measured | value |\n|---|---|\n| a | 1 |"})
    title = nbformat.v4.new_markdown_cell("# A title\n\nWhat it shows.\n\nMore.")
    figure = nbformat.v4.new_code_cell("plot()", outputs=[png], metadata={"tags": ["thumbnail"]})
    last = nbformat.v4.new_code_cell("show()", outputs=[table])
    card, image = notebook_card(_notebook([title, figure, last]), "x", 3.0, smoke=True)
    assert (card.title, card.summary, image) == ("A title", "What it shows.", b"\x89PNG\r\n\x1a\n")
    page = landing_page([card])
    assert ":link: notebooks/x" in page and "thumbnails/x.png" in page and "| a | 1 |" in page and "smoke" in page
    with pytest.raises(ValueError, match="thumbnail"):
        notebook_card(_notebook([title, last]), "x", 3.0, smoke=True)
    with pytest.raises(ValueError, match="last cell"):
        notebook_card(_notebook([title, figure]), "x", 3.0, smoke=True)
    with pytest.raises(ValueError, match="# Title"):
        notebook_card(_notebook([figure, last]), "x", 3.0, smoke=True)


def test_a_site_build_without_its_sources_says_where_to_build(tmp_path):
    from bnngallery.runs.gallery import build_site

    with pytest.raises(FileNotFoundError, match="checkout of the repository"):
        build_site(GALLERY, tmp_path, smoke=True, docs_dir=tmp_path / "docs")
    assert not (tmp_path / "src").exists()  # nothing staged
