"""The architecture as a test: data -> models -> inference -> fit/predict -> diagnostics ->
plots -> runs -> CLI, and nothing lower imports anything higher.

Every module of the package is read with ``ast`` (nothing is imported), each of its
``bnngallery`` imports (absolute or relative, at any depth: lazy imports inside functions
count too) is resolved to a module, and the module's layer must not be below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Source folder -> the package it installs as (pyproject.toml's package-dir).
SOURCES = {"bnngallery": REPO / "bnngallery", "bnngallery.models": REPO / "models", "bnngallery.data": REPO / "data"}

#: Module prefix -> layer; the longest matching prefix wins. Same layer: may import each other.
LAYERS = {
    "bnngallery.data": 0,
    "bnngallery.models": 1,
    "bnngallery.files": -1,  # safe writes: imports nothing of the package
    "bnngallery.validation": -1,  # the argument checks every layer shares: imports nothing of the package
    "bnngallery.provenance": -1,  # machine and package versions: imports nothing of the package
    "bnngallery.results": 2,
    "bnngallery.inference": 3,
    "bnngallery": 4,  # the package's own API: fit, predict (and its __init__)
    "bnngallery.fitting": 4,
    "bnngallery.predict": 4,
    "bnngallery.baselines": 4,
    "bnngallery.diagnostics": 5,
    "bnngallery.plots": 6,
    "bnngallery.runs": 7,
    "bnngallery.cli": 8,
}


def layer_of(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len, default=None)
    if best is None:
        raise KeyError(module)
    return LAYERS[best]


def package_modules() -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    out = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if package == "bnngallery" and parts and parts[0] in ("models", "data"):
                continue  # not part of this source folder
            out[".".join([package, *parts])] = path
    return out


def imports_of(module: str, path: Path) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every bnngallery import in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    here = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "bnngallery"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "bnngallery":
                continue
            # `from pkg import name` may import a submodule: count it as that module
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((node.lineno, sub if sub in package_modules() else target))
    return found


def test_every_module_has_a_layer():
    unknown = []
    for module in package_modules():
        try:
            layer_of(module)
        except KeyError:
            unknown.append(module)
    assert not unknown, f"modules without a layer in LAYERS: {unknown}"


def test_no_lower_layer_imports_a_higher_one():
    violations = []
    for module, path in package_modules().items():
        for line, target in imports_of(module, path):
            if layer_of(target) > layer_of(module):
                violations.append(
                    f"{path.relative_to(REPO)}:{line}: {module} (layer {layer_of(module)}) imports "
                    f"{target} (layer {layer_of(target)})"
                )
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize("bad", ["from ..runs.common import fit_methods", "from bnngallery.plots import plot_elbo"])
def test_the_layer_check_catches_an_upward_import(tmp_path, bad):
    """The check is not vacuous: a diagnostics module importing runs or plots is flagged."""
    path = tmp_path / "khat.py"
    path.write_text(f"def f():\n    {bad}\n")
    targets = [t for _, t in imports_of("bnngallery.diagnostics.khat", path)]
    assert targets and all(layer_of(t) > layer_of("bnngallery.diagnostics.khat") for t in targets)
