"""The install is what README promises: one import name, dependencies in one place."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _pyproject():
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _norm(req: str) -> str:
    return re.sub(r"\s+", "", req).lower().replace("_", "-")


def _install_requirements() -> list[str]:
    """The runtime and test requirements, with the test extra's "bnngallery[site]" expanded."""
    from packaging.requirements import Requirement

    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    specs = []
    for spec in project["dependencies"] + extras["test"]:
        req = Requirement(spec)
        specs += [s for extra in req.extras for s in extras[extra]] if req.name == project["name"] else [spec]
    return specs


def test_environment_yml_mirrors_pyproject():
    wanted = {_norm(r) for r in _install_requirements()}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = {_norm(d) for d in env["dependencies"] if isinstance(d, str)} - {"pip"}
    conda = {d for d in conda if not d.startswith("python")}
    # packages conda-forge does not carry come from pip, in the same file
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda |= {_norm(d.split("#")[0]) for d in pip if not d.startswith("-e")}
    assert conda == wanted, f"only in environment.yml: {conda - wanted}; only in pyproject: {wanted - conda}"
    assert "conda-forge" in env["channels"]
    assert any(d.startswith("python>=3.12") for d in (_norm(x) for x in env["dependencies"] if isinstance(x, str)))


def test_models_and_data_install_under_one_name(tmp_path):
    # Run from an empty folder so the checkout's models/ and data/ are not on sys.path.
    code = (
        "import importlib.util, bnngallery.models, bnngallery.data;"
        "print(importlib.util.find_spec('models') is None, importlib.util.find_spec('data') is None);"
        "print(bnngallery.models.moons.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    lines = out.stdout.split()
    assert lines[:2] == ["True", "True"], "bare 'models'/'data' packages leaked into site-packages"
    assert lines[2] == "bnngallery.models.moons"


def test_readme_commands_and_ci_agree():
    readme = (REPO / "README.md").read_text()
    head = readme[:2500]
    assert "make demo" in head and "make test" in head, "README must show the two set-up commands near the top"
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in ci
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^demo:.*\n\t.*bnngallery run moons --method all", makefile, re.M)


def test_the_gallery_tests_have_a_target_of_their_own_that_ci_runs():
    """`make test` leaves out the tests marked gallery (the notebooks and the smoke site, the long
    part); `make test-gallery` runs them and .ci/run runs it after `make test`. The marker must
    select tests, or the target's pytest would exit 5 ("no tests ran")."""
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^test-gallery:.*\n\t.*-m pytest -m gallery$", makefile, re.M)
    assert re.search(r"^\.PHONY:.* test-gallery", makefile, re.M)
    ci = [line.split("#")[0].strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert ci.index("make test") < ci.index("make test-gallery")
    ini = _pyproject()["tool"]["pytest"]["ini_options"]
    assert any(m.startswith("gallery:") for m in ini["markers"]) and "not gallery" in ini["addopts"]
    args = "--collect-only -q -p no:cacheprovider -m gallery tests/test_gallery.py tests/test_site.py".split()
    out = subprocess.run([sys.executable, "-m", "pytest", *args], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    collected = [line for line in out.stdout.splitlines() if "::" in line]
    assert any("test_site.py::" in t for t in collected) and any("test_notebook_executes" in t for t in collected)


def test_cli_entry_point_installed():
    scripts = _pyproject()["project"]["scripts"]
    assert scripts["bnngallery"] == "bnngallery.cli:main"
    out = subprocess.run([sys.executable, "-m", "bnngallery.cli", "run", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "moons" in out.stdout


def test_lock_file_pins_a_resolution_of_the_open_ranges():
    """requirements-lock.txt pins every dependency (runtime and test) to one version, and that
    version is inside pyproject.toml's range, so `make setup LOCKED=1` installs a valid set."""
    from packaging.requirements import Requirement

    pins = {}
    for line in (REPO / "requirements-lock.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line!r}"
            pins[_norm(name)] = version.strip()
    for spec in _install_requirements():
        req = Requirement(spec)
        name = _norm(req.name)
        assert name in pins, f"{req.name} is not pinned in requirements-lock.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req.name}=={pins[name]} is outside {spec!r}"
    from bnngallery.provenance import NUMERIC_STACK

    assert set(NUMERIC_STACK) <= set(pins), set(NUMERIC_STACK) - set(pins)


def test_make_lab_opens_the_py_notebooks_as_notebooks():
    """`make lab` installs the lab extra and makes the jupytext view the default for .py files
    (checked by hand on 2026-12-03: JupyterLab 4.6 served gallery/moons.py as an 18-cell
    notebook and its docmanager default viewer for python was "Jupytext Notebook")."""
    import json

    project = _pyproject()["project"]
    lab = {_norm(r).split(">")[0] for r in project["optional-dependencies"]["lab"]}
    assert {"jupyterlab", "jupytext", "ipywidgets"} <= lab
    script = (REPO / "scripts" / "lab.sh").read_text()
    overrides = json.loads(script.split("<<'JSON'\n")[1].split("\nJSON")[0])
    viewers = overrides["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers == {"python": "Jupytext Notebook"}
    assert subprocess.run(["bash", "-n", str(REPO / "scripts" / "lab.sh")]).returncode == 0
    assert "lab:" in (REPO / "Makefile").read_text() and "make lab" in (REPO / "README.md").read_text()
