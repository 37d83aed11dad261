"""A new fit method is one file and one record: this file adds a MAP point mass through the
registry alone, and ``fit``, the checks, ``compare`` and the CLI's table take it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pymc as pm
import pytest

from bnngallery import fit
from bnngallery.inference.methods import REGISTRY, Method, get_method, register, unregister


# --- the toy method: all of it --------------------------------------------------------------
@dataclass(frozen=True)
class MAPOptions:
    steps: int = 3000
    learning_rate: float = 0.05


def fit_map(call, opts):
    """The MAP by the ADVI engine's point-mass family, as a posterior of one draw."""
    from bnngallery.inference.advi_loop import fit_advi_jax

    out = fit_advi_jax(
        call.model,
        family="point",
        steps=opts.steps,
        learning_rate=opts.learning_rate,
        draws=1,
        random_seed=call.random_seed,
        progressbar=call.progressbar,
    )
    out.mean, out.std = {}, {}  # a point mass: no Gaussian to store
    out.objective = "log density"
    return out


TOY = Method(
    name="map",
    label="MAP point mass",
    summary="the posterior mode, one draw",
    options=MAPOptions,
    fitter=fit_map,
    kind="map",
)
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def toy_method():
    register(TOY)
    yield TOY
    unregister("map")


def conjugate_model(y):
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 10.0)
        pm.Normal("y", mu, 1.0, observed=y)
    return model


def test_a_registered_method_is_fitted_by_fit_and_lands_on_the_closed_form_mode(toy_method):
    y = np.random.default_rng(0).normal(2.5, 1.0, size=40)
    result = fit(conjugate_model(y), "map", progressbar=False, check_collapse=False)
    mode = y.sum() / (len(y) + 1 / 100)  # Normal-Normal: the posterior mode is its mean
    assert result.attrs["method"] == "map"
    import bnngallery

    assert bnngallery.METHODS[-1] == "map"  # the package's list follows the registry
    assert result.posterior["mu"].values.ravel() == pytest.approx([mode], abs=1e-3)
    assert "approximation" not in result.children


def test_options_are_checked_by_the_one_rule(toy_method):
    model = conjugate_model(np.zeros(5))
    with pytest.raises(ValueError, match=r"draws=10 does not apply to method='map'\. It takes steps, learning_rate"):
        fit(model, "map", draws=10, progressbar=False)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        fit(model, "map", steps=-3, progressbar=False)
    with pytest.raises(ValueError, match="runs on backend 'jax' only"):
        fit(model, "map", backend="pytensor", progressbar=False)


def test_the_registry_refuses_a_second_method_of_one_name_and_an_option_without_a_check():
    with pytest.raises(ValueError, match="registered already"):
        register(get_method("advi"))

    @dataclass(frozen=True)
    class Odd:
        wiggle: int = 1

    with pytest.raises(ValueError, match=r"options \['wiggle'\] that have no check"):
        Method(name="odd", label="odd", summary="", options=Odd, fitter=fit_map, kind="map")

    @dataclass(frozen=True)
    class OwnCheck:  # a new option brings its check along
        wiggle: int = field(default=1, metadata={"check": lambda v, model: int(v) if v in (1, 2) else 1 / 0})

    spec = Method(name="odd", label="odd", summary="", options=OwnCheck, fitter=fit_map, kind="map")
    assert spec.check_option("wiggle", 2, None) == 2
    with pytest.raises(ZeroDivisionError):
        spec.check_option("wiggle", 3, None)
    with pytest.raises(ValueError, match="method must be one of"):
        get_method("nope")


def test_compare_and_the_cli_table_take_a_registered_method(toy_method, tmp_path, capsys):
    from bnngallery.cli import main

    code = main(["compare", "moons", "--smoke", "--methods", "map,advi", "--out", str(tmp_path), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    table = [line for line in printed.splitlines() if line.startswith("| map")]
    assert table, printed  # the comparison table has the toy method's row
    import json

    rows = json.loads((tmp_path / "comparison.json").read_text())["runs"]
    row = next(r for r in rows if r["fit"].startswith("map"))
    assert "more than one draw" in row["elpd_loo_skipped"]  # a point mass has no PSIS-LOO, and says so


def test_every_builtin_method_documents_its_options():
    for spec in REGISTRY.values():
        assert spec.summary and spec.label
        own = spec.options.__doc__ or ""
        assert not own.startswith(spec.options.__name__ + "("), f"{spec.name}'s options record has no docstring"
        doc = " ".join(c.__doc__ or "" for c in spec.options.__mro__)
        for name in spec.option_names:
            assert name in doc, f"{spec.name}'s options docstring does not say what {name} is"


def test_the_docs_table_of_methods_is_written_from_the_registry(toy_method, tmp_path):
    """docs/api.md includes the table conf.py writes at each build from the registry, so a
    registered method and every default appear without an edit of the docs."""
    import runpy
    from pathlib import Path

    from bnngallery.fitting import describe_methods

    docs = Path(__file__).resolve().parents[1] / "docs"
    table = describe_methods()
    for name, spec in REGISTRY.items():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}` |"))
        for option, default in spec.defaults().items():
            assert f"`{option}` ({default!r})" in row
    conf = runpy.run_path(str(docs / "conf.py"))

    class App:
        srcdir = tmp_path

    conf["_write_methods_table"](App())
    assert (tmp_path / "_methods.md").read_text() == table + "\n"
    assert "| `map` |" in table
    assert "```{include} _methods.md" in (docs / "api.md").read_text()


def test_a_run_gives_each_method_its_own_run_options_and_what_it_takes_of_advis():
    """The run settings take from the registry what each approximation takes of the run's ADVI
    options, and its own run options over them (Pathfinder's L-BFGS budget is not ADVI's steps)."""
    from bnngallery.runs.settings import all_compare_methods, method_options, run_settings

    size = run_settings("moons")
    assert method_options("pathfinder", size) == {"draws": 1000, "chains": 8, "steps": 200}
    assert method_options("sgld", size) == {"steps": 30_000, "draws": 250, "chains": 4, "learning_rate": 0.03}
    assert method_options("ensemble", size) == {"steps": 30_000}  # no draws (its members) and no init_sd
    assert method_options("fullrank_advi", size)["restarts"] == 3
    regression = all_compare_methods("regression")
    assert "fullrank_advi" not in regression and regression[-1] == "nuts" and "sghmc" in regression
    ode = all_compare_methods("ode")  # 20 points: no minibatch, no SG-MCMC
    assert not {"sgld", "sghmc"} & set(ode) and "pathfinder" in ode


def test_pm_fit_refuses_the_options_it_has_no_counterpart_of():
    model = conjugate_model(np.zeros(5))
    with pytest.raises(ValueError, match="init_sd applies to ADVI with backend='jax' only"):
        fit(model, "advi", backend="pytensor", init_sd=0.1, lr_schedule="constant", progressbar=False)
