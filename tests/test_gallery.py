"""Every gallery notebook runs, in smoke mode, from a fresh kernel."""

from __future__ import annotations

from pathlib import Path

import pytest

from bnngallery.runs.gallery import build, execute_notebook, notebook_paths

GALLERY = Path(__file__).resolve().parents[1] / "gallery"
NOTEBOOKS = notebook_paths(GALLERY)


def test_there_are_notebooks_and_each_has_a_smoke_switch():
    assert any(p.stem == "moons" for p in NOTEBOOKS)
    for path in NOTEBOOKS:
        text = path.read_text()
        assert "SMOKE = False" in text and 'os.environ.get("BNNGALLERY_SMOKE") == "1"' in text, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_in_smoke_mode(path):
    nb = execute_notebook(path, smoke=True, timeout=600, cwd=GALLERY.parent)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])), "no figure drawn"


def test_index_page_links_notebooks(tmp_path, monkeypatch):
    import nbformat

    import bnngallery.runs.gallery as gb

    def fake_execute(path, *, smoke, timeout=3600, cwd=None):
        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_markdown_cell("# A title"),
            nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", text="acc 0.9")]),
        ]
        return nb

    monkeypatch.setattr(gb, "execute_notebook", fake_execute)
    index = build(GALLERY, tmp_path, smoke=True, only=["moons"])
    html = index.read_text()
    assert "moons.html" in html and "A title" in html and "acc 0.9" in html
    assert (tmp_path / "moons.ipynb").exists() and (tmp_path / "moons.html").exists()
