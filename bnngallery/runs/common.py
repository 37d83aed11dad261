"""What every ``bnngallery run MODEL`` shares: the fit-each-method loop, the per-fit row of
``metrics.json``, the machine line and the plain-text summary the CLI prints.

Each run writes into its output folder the fitted results (``<method>.nc``), the figures
(PNG) and ``metrics.json`` of the shape::

    {"model": ..., "runs": [{"method": ..., "backend": ..., <metrics>, "fit_seconds": ...,
     "compile_seconds": ..., ...}, ...], "agreement": {...}, "settings": {...}, "machine": ...}
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import xarray as xr

from ..diagnostics.compare import format_number
from ..diagnostics.elpd import loo_summary
from ..diagnostics.mcmc import nuts_diagnostics
from ..fitting import fit
from ..inference.methods import REGISTRY, get_method
from ..models import call_builder
from ..results import final_elbo, save_result
from ..validation import check_choice
from .settings import get_model, method_options, nuts_options, run_settings

__all__ = [
    "check_methods",
    "fit_methods",
    "fit_run",
    "measured_table",
    "method_row",
    "start_run",
    "summary_table",
    "use_agg",
]


def measured_table(rows: dict, *, digits: int = 3) -> str:
    """A notebook's closing numbers as a two-column Markdown table (``display(Markdown(...))``).

    Floats get ``digits`` significant digits; tuples and lists are joined with `` / ``, so one
    row can hold the same measure of several fits.
    """
    if not isinstance(rows, dict) or not rows:
        raise ValueError("measured_table needs a non-empty dict of {measure: value}.")

    def cell(value) -> str:
        if isinstance(value, tuple | list):
            return " / ".join(cell(v) for v in value)
        return format_number(float(value) if hasattr(value, "dtype") else value, digits)

    lines = ["| measured | value |", "|---|---|"]
    lines += [f"| {name} | {cell(value)} |" for name, value in rows.items()]
    return "\n".join(lines)


def use_agg() -> None:
    """Draw figures off screen: the runs write PNG files and never show a window."""
    import matplotlib

    matplotlib.use("Agg")


def check_methods(methods: Sequence[str], allowed: Sequence[str]) -> tuple[str, ...]:
    """``methods`` as a tuple if it is a non-empty selection from ``allowed``; a clear error otherwise."""
    if isinstance(methods, str) or not methods:
        raise ValueError(f"methods must be a non-empty sequence drawn from {tuple(allowed)}; got {methods!r}.")
    return tuple(check_choice(m, name="methods", allowed=allowed) for m in methods)


def start_run(name: str, methods, *, smoke: bool, out_dir) -> tuple[tuple[str, ...], dict, Path]:
    """What every gallery run does first: figures off screen, ``methods`` checked against
    those the model's record offers, its sizes, its output folder made."""
    use_agg()
    methods = check_methods(methods, get_model(name).run_methods)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return methods, run_settings(name, smoke=smoke), out_dir


def fit_run(name: str, X, y, *, size: dict, **kwargs) -> tuple[dict[str, xr.DataTree], dict[str, float]]:
    """:func:`fit_methods` for gallery model ``name``: its builder, the run's builder keywords
    (``size["model"]``) and its name as the log's tag; ``kwargs`` go through."""
    return fit_methods(
        get_model(name).builder(), X, y, size=size, build_kwargs=size.get("model", {}), tag=name, **kwargs
    )


def fit_methods(
    builder: Callable,
    X,
    y,
    *,
    methods: Sequence[str],
    size: dict,
    backend: str = "jax",
    random_seed: int = 0,
    progressbar: bool = True,
    devices: int | None = None,
    build_kwargs: dict | None = None,
    out_dir: str | Path | None = None,
    log: Callable = print,
    tag: str = "",
    failures: dict[str, str] | None = None,
) -> tuple[dict[str, xr.DataTree], dict[str, float]]:
    """Build the model and fit it once per method; the one loop behind every run and comparison.

    A full-data reference (its registry record's ``reference``: NUTS) gets the full-data
    model and :func:`~bnngallery.runs.settings.nuts_options`; every other method a model
    built with the run's ``batch_size`` (a full-data method reads the exact density from it)
    and :func:`~bnngallery.runs.settings.method_options` (``devices`` where it splits
    minibatches over devices). With ``out_dir`` each result is saved as
    ``<method>.nc``; a fit stopped by Ctrl-C is saved as ``<method>_interrupted.nc`` and the
    run stops there (``KeyboardInterrupt``). A fit that diverges raises, unless a
    ``failures`` dict is given: then its message goes there under the method and the loop
    goes on (a comparison of many methods reports the one that failed instead of stopping).

    Returns
    -------
    (dict, dict)
        Results and wall seconds (build + fit), both keyed by method, in the order run.
    """
    check_methods(methods, tuple(REGISTRY))
    results, walls = {}, {}
    for method in methods:
        t0 = time.perf_counter()
        spec = get_method(method)
        if spec.reference:
            model = call_builder(builder, X, y, **(build_kwargs or {}), random_seed=random_seed)
            opts = nuts_options(size, method)
            log(f"[{tag}] {spec.label} ({backend}), " + ", ".join(f"{k} {v}" for k, v in opts.items()))
        else:
            model = call_builder(
                builder, X, y, **(build_kwargs or {}), batch_size=size.get("batch_size"), random_seed=random_seed
            )
            opts = method_options(method, size, backend=backend)
            if spec.multi_device:
                opts["devices"] = devices
            shown = ", ".join(
                f"{k} {v}" for k, v in opts.items() if k in ("steps", "rank", "members", "chains", "cycles")
            )
            log(
                f"[{tag}] {spec.label} ({backend}), "
                f"minibatch {size.get('batch_size') or 'none (full data)'}, {shown}"
                + (f", best of {opts['restarts']} by ELBO" if opts.get("restarts", 1) > 1 else "")
            )
        try:
            result = fit(model, method, backend=backend, random_seed=random_seed, progressbar=progressbar, **opts)
        except FloatingPointError as err:  # a diverged fit (ADVIDivergenceError is one)
            if failures is None:
                raise
            failures[method] = str(err)
            log(f"[{tag}] {method} failed: {err}")
            continue
        walls[method] = time.perf_counter() - t0
        if int(result.attrs.get("interrupted", 0)):
            if out_dir is not None:
                save_result(result, Path(out_dir) / f"{method}_interrupted.nc")
                log(
                    f"[{tag}] {method} interrupted after {result.attrs.get('steps_done', '?')} steps; "
                    f"saved {Path(out_dir) / f'{method}_interrupted.nc'}"
                )
            raise KeyboardInterrupt
        if out_dir is not None:
            save_result(result, Path(out_dir) / f"{method}.nc")
        results[method] = result
    return results, walls


def method_row(method: str, result: xr.DataTree, wall_seconds: float) -> dict:
    """The fit part of a ``metrics.json`` row: timing, the ELBO (ADVI) or ArviZ's NUTS
    diagnostics (divergences, BFMI, R-hat, ESS), and ELPD-LOO where the result holds its
    log-likelihood; each run adds its own scores."""
    row = {
        "method": method,
        "backend": result.attrs["backend"],
        "fit_seconds": float(result.attrs["fit_seconds"]),
        "compile_seconds": float(result.attrs["compile_seconds"]),
        "run_seconds": float(result.attrs["run_seconds"]),
        "wall_seconds": wall_seconds,
    }
    if get_method(method).reference:
        settings = json.loads(result.attrs["settings"])
        row["steps"] = int(settings.get("tune", 0)) + int(settings["draws"])
        row.update(nuts_diagnostics(result))
        if "chain_method" in settings:
            row["chain_method"] = settings["chain_method"]
    else:
        row["steps"] = int(result.attrs["steps_done"])
        row["final_elbo"] = final_elbo(result)
        if "restart_elbos" in result.attrs:
            row["restart_elbos"] = json.loads(result.attrs["restart_elbos"])
    row.update(loo_summary(result))  # ELPD-LOO by ArviZ, where the result holds its log-likelihood
    return row


#: Suffixes of metrics left out of the terminal table (kept in metrics.json).
TERSE = ("_good_k", "_khat_bad", "_loo_p", "_vi_p", "_vi_se", "_skipped")


def summary_table(metrics: dict) -> str:
    """A plain-text table of a metrics dict: one row per fit, one column per scalar metric (the
    LOO details a reader of the terminal does not need, such as ArviZ's k threshold, stay in
    ``metrics.json``)."""
    cols: list[str] = []
    for r in metrics["runs"]:
        cols += [
            k
            for k, v in r.items()
            if k not in cols and isinstance(v, (str, int, float)) and k != "wall_seconds" and not k.endswith(TERSE)
        ]
    rows = [[format_number(r.get(c), digits=4) for c in cols] for r in metrics["runs"]]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    if metrics.get("agreement"):
        lines.append(
            "agreement (ADVI vs NUTS): "
            + ", ".join(f"{k} = {format_number(v, digits=4)}" for k, v in metrics["agreement"].items())
        )
    return "\n".join(lines)
