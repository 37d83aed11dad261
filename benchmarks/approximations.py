"""Every approximation of the gallery's posteriors side by side: "which one to trust".

Two parts, one JSON (``benchmarks/results/approximations.json``):

- ``small``: ``bnngallery compare MODEL --methods all`` on moons, regression and the ODE
  model: mean-field, full-rank and low-rank ADVI, the IAF flow, Pathfinder, Laplace, a deep
  ensemble and cyclical SGLD and SGHMC, each against NUTS in function space (label agreement and
  probability difference on moons, band overlap and width on the regressions), with
  calibration, held-out log density, k-hat where it is defined and fit time. The moons
  surfaces and regression bands of that run are copied next to the JSON for the README.
- ``mnist``: the full-size MNIST MLP (``bnngallery run mnist-mlp``) and CNN (``mnist-cnn``)
  fitted by every method that scales to them (mean-field and low-rank ADVI, last-layer Laplace, the deep
  ensemble, cyclical SGLD and SGHMC), with no NUTS reference: accuracy, NLL, ECE, AUROC on
  Fashion-MNIST and Kuzushiji-MNIST, the accuracy gained by referring the 5 % least certain
  images, and fit time, one row per method, as in uncertainty-baselines' tables.

::

    python benchmarks/approximations.py small                         # moons, regression, ode
    python benchmarks/approximations.py mnist --net mlp               # every scalable method
    python benchmarks/approximations.py mnist --net cnn --methods ensemble
    python benchmarks/approximations.py --table
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from bnngallery.files import write_json

RESULTS = Path(__file__).resolve().parent / "results" / "approximations.json"
SMALL_MODELS = ("moons", "regression", "ode")
#: The methods that take a net of MNIST size (Laplace over the output layer only; Pathfinder's
#: and the flow's full-data passes do not).
MNIST_METHODS = ("advi", "lowrank_advi", "laplace", "ensemble", "sgld", "sghmc")
#: The comparison numbers kept per fit.
SMALL_KEYS = (
    "method",
    "fit_seconds",
    "label_agreement",
    "mean_abs_prob_diff",
    "test_accuracy",
    "ece",
    "test_rmse",
    "coverage_90",
    "band_overlap",
    "band_width_ratio",
    "test_log_likelihood",
    "elpd_loo",
    "khat",
    "khat_verdict",
)
MNIST_KEYS = (
    "method",
    "test_accuracy",
    "test_nll",
    "ece",
    "referral_gain_at_95pct_kept",
    "fit_seconds",
    "compile_seconds",
    "steps",
)
#: Figures of the small run copied next to the JSON: (model, file) -> name.
FIGURES = {
    ("moons", "surfaces.png"): "approximations_moons.png",
    ("regression", "bands.png"): "approximations_regression.png",
}


def small_rows(table: dict) -> list[dict]:
    """The kept numbers of each fit of a comparison's JSON, and a row with the error of each
    method that failed."""
    rows = [{k: r[k] for k in SMALL_KEYS if k in r} for r in table["runs"]]
    return rows + [{"method": m, "error": msg} for m, msg in table.get("failed", {}).items()]


def mnist_row(row: dict) -> dict:
    """The kept numbers of one MNIST run row, with the best measure's AUROC per OOD set."""
    out = {k: row[k] for k in MNIST_KEYS}
    out["ood_auroc"] = {name: max(by.values()) for name, by in row["ood_auroc"].items()}
    return out


def run_small(models, *, out: Path, random_seed: int, results: dict, path: Path, smoke: bool = False) -> None:
    from bnngallery.runs.compare import run_comparison

    for name in models:
        t0 = time.perf_counter()
        table = run_comparison(
            name,
            methods="all",
            smoke=smoke,
            out_dir=out / name,
            random_seed=random_seed,
            progressbar=False,
            log=lambda _: None,
        )
        results.setdefault("small", {})[name] = {
            "rows": small_rows(table),
            "reference": table["reference"],
            "settings": table["settings"],
            "wall_seconds": time.perf_counter() - t0,
            "measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "machine": table["machine"],
        }
        for (model, file), target in FIGURES.items():
            if model == name:
                shutil.copyfile(out / name / file, path.with_name(target))
        write_json(results, path)
        print(small_table(name, results["small"][name]), flush=True)


def run_mnist(
    net: str, methods, *, out: Path, random_seed: int, results: dict, path: Path, smoke: bool = False
) -> None:
    from bnngallery.runs.mnist import run_mnist_cnn, run_mnist_mlp

    runner = run_mnist_mlp if net == "mlp" else run_mnist_cnn
    for method in methods:
        t0 = time.perf_counter()
        stamp = {"measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "random_seed": random_seed}
        try:
            metrics = runner(
                methods=(method,),
                smoke=smoke,
                out_dir=out / f"mnist-{net}-{method}",
                random_seed=random_seed,
                progressbar=False,
                log=lambda _: None,
            )
        except FloatingPointError as err:  # a diverged fit is a result: the table says so
            row = {"method": method, "error": str(err), "wall_seconds": time.perf_counter() - t0, **stamp}
        else:
            row = mnist_row(metrics["runs"][0])
            row.update(wall_seconds=time.perf_counter() - t0, machine=metrics["machine"], **stamp)
        results.setdefault("mnist", {})[f"{net}/{method}"] = row
        write_json(results, path)
        print(mnist_table({f"{net}/{method}": row}).splitlines()[-1], flush=True)


def _f(v, fmt: str) -> str:
    return "" if v is None else format(v, fmt)


def small_table(name: str, entry: dict) -> str:
    """The Markdown table of one small model's comparison, NUTS last."""
    classify = name == "moons"
    head = (
        "| method | label agreement | mean abs dP | accuracy | ECE | test lpd | k-hat | fit s |"
        if classify
        else "| method | band overlap | width ratio | 90 % coverage | RMSE | test lpd | k-hat | fit s |"
    )
    lines = [f"**{name}** (reference: {entry['reference']})", "", head, "|" + "---|" * (head.count("|") - 1)]
    for r in entry["rows"]:
        if "error" in r:
            reason = r["error"].split(". ")[0].rstrip(".")
            lines.append(f"| {r['method']} | failed: {reason} |" + " |" * (head.count("|") - 3))
            continue
        cells = (
            [
                _f(r.get("label_agreement"), ".3f"),
                _f(r.get("mean_abs_prob_diff"), ".4f"),
                _f(r.get("test_accuracy"), ".3f"),
                _f(r.get("ece"), ".3f"),
            ]
            if classify
            else [
                _f(r.get("band_overlap"), ".3f"),
                _f(r.get("band_width_ratio"), ".2f"),
                _f(r.get("coverage_90"), ".3f"),
                _f(r.get("test_rmse"), ".3f"),
            ]
        )
        cells += [_f(r.get("test_log_likelihood"), ".3f"), _f(r.get("khat"), ".2f"), _f(r.get("fit_seconds"), ".1f")]
        lines.append(f"| {r['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def mnist_table(rows: dict) -> str:
    """The Markdown table of the MNIST rows, MLP then CNN, in :data:`MNIST_METHODS` order."""
    lines = [
        "| net | method | accuracy | NLL | ECE | AUROC Fashion / KMNIST | referral gain at 95 % kept | fit s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    order = {m: i for i, m in enumerate(MNIST_METHODS)}
    for key in sorted(rows, key=lambda k: (k.split("/")[0] != "mlp", order.get(k.split("/")[1], 99))):
        r = rows[key]
        net = key.split("/")[0].upper()
        if "error" in r:
            reason = r["error"].split(". ")[0].rstrip(".")
            lines.append(f"| {net} | {r['method']} | failed: {reason} | | | | | |")
            continue
        auroc = r["ood_auroc"]
        lines.append(
            f"| {net} | {r['method']} | {100 * r['test_accuracy']:.2f} % | {r['test_nll']:.4f} | {r['ece']:.4f} "
            f"| {auroc.get('fashion-mnist', float('nan')):.3f} / {auroc.get('kmnist', float('nan')):.3f} "
            f"| {100 * r['referral_gain_at_95pct_kept']:+.2f} pt | {r['fit_seconds']:.0f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", nargs="?", choices=("small", "mnist"), help="which table to measure")
    ap.add_argument("--models", nargs="+", choices=SMALL_MODELS, default=list(SMALL_MODELS))
    ap.add_argument("--net", choices=("mlp", "cnn"), default="mlp")
    ap.add_argument("--methods", nargs="+", choices=MNIST_METHODS, default=list(MNIST_METHODS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--smoke", action="store_true", help="the runs' smoke sizes: checks the plumbing, measures nothing")
    ap.add_argument("--out", default="out/bench-approximations", help="folder for each run's files")
    ap.add_argument("--results", default=str(RESULTS), help="JSON file the rows are merged into")
    ap.add_argument("--table", action="store_true", help="print the tables of the stored rows and stop")
    args = ap.parse_args(argv)
    path = Path(args.results)
    results = json.loads(path.read_text()) if path.exists() else {}
    if args.table or args.part is None:
        for name, entry in results.get("small", {}).items():
            print(small_table(name, entry), end="\n\n")
        if results.get("mnist"):
            print(mnist_table(results["mnist"]))
        return results
    if args.part == "small":
        run_small(args.models, out=Path(args.out), random_seed=args.seed, results=results, path=path, smoke=args.smoke)
    else:
        run_mnist(
            args.net,
            args.methods,
            out=Path(args.out),
            random_seed=args.seed,
            results=results,
            path=path,
            smoke=args.smoke,
        )
    return results


if __name__ == "__main__":
    main()
