"""The MNIST MLP's weight priors side by side: article A's hierarchical prior, each candidate
tried for the gallery's hierarchical network, and the fixed scale mixture, at T = 1 and tempered.

Every row is the workflow's full-size MLP (``bnngallery run mnist-mlp``: 784-400-400-10 ReLU,
8000 minibatch ADVI steps of 256 images, float32) with only the prior and temperature
changed, scored on the 10k test images and on two out-of-distribution sets (Fashion-MNIST and
Kuzushiji-MNIST). Rows merge into ``benchmarks/results/mnist_priors.json`` keyed
``<candidate>/seed<k>``; ``--table`` prints the README's table from it::

    python benchmarks/mnist_priors.py                                  # every candidate, seed 0
    python benchmarks/mnist_priors.py --candidates horseshoe --seeds 0 1
    python benchmarks/mnist_priors.py --table
    python benchmarks/mnist_priors.py --figure out/bench-priors/horseshoe-tempered-seed0/advi.nc

The tempered rows use the temperature chosen on held-out training images
(``benchmarks/mnist_temperature.py``), never on the test set.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bnngallery.files import write_json
from bnngallery.runs.mnist import run_mnist_mlp
from bnngallery.runs.settings import MLP_TEMPERATURE

RESULTS = Path(__file__).resolve().parent / "results" / "mnist_priors.json"
#: The README's figure of the gallery MLP's learned scales (``--figure``).
FIGURE = RESULTS.with_name("mnist_priors_scales.png")

#: Builder keywords per candidate, complete (not relative to the gallery's default, which is
#: one of them). Biases are Normal(0, 1) in all; the scale mixture is 0.25 * N(0, s) +
#: 0.75 * N(0, 0.0025 s) with its initial means inside the spike (init_scale 0.1).
_MIXTURE = {"prior": "scale-mixture", "init_scale": 0.1, "noncentered": False}
CANDIDATES = {
    # article A: Normal(0, sigma_layer) weights, sigma_layer ~ HalfNormal(1)
    "article-a": {
        "prior": "normal",
        "hierarchical": True,
        "init_scale": None,
        "noncentered": False,
        "temperature": 1.0,
    },
    # the scale mixture around a learned per-layer scale, centred and non-centred
    "hierarchical-mixture": {**_MIXTURE, "hierarchical": True, "temperature": 1.0},
    "hierarchical-mixture-noncentred": {**_MIXTURE, "hierarchical": True, "noncentered": True, "temperature": 1.0},
    # the horseshoe: a half-Cauchy layer scale times a half-Cauchy scale per input unit
    "horseshoe": {"prior": "horseshoe", "init_scale": 1.0, "temperature": 1.0},
    "horseshoe-tempered": {"prior": "horseshoe", "init_scale": 1.0, "temperature": MLP_TEMPERATURE},
    # the fixed scale mixture (wide component Normal(0, 1)), the gallery's earlier default
    "fixed-mixture": {**_MIXTURE, "hierarchical": False, "temperature": 1.0},
    "fixed-mixture-tempered": {**_MIXTURE, "hierarchical": False, "temperature": 0.25},
}
OOD = ("fashion-mnist", "kmnist")


def summarise(row: dict) -> dict:
    """The table's numbers from one run's metrics row: per OOD set the AUROC of the best measure
    and the share of that set it flags at the 99th percentile of in-distribution uncertainty."""
    ood = {}
    for name, by_measure in row["ood_auroc"].items():
        best = max(by_measure, key=by_measure.get)
        ood[name] = {
            "measure": best,
            "auroc": by_measure[best],
            "flagged_at_p99": row["ood_flagged_at_p99"][name][best],
        }
    keep = ("test_accuracy", "test_nll", "ece", "final_elbo", "fit_seconds", "compile_seconds", "steps")
    return {
        **{k: row[k] for k in keep},
        "ood": ood,
        "learned_scales": row["learned_scales"],
        "pruned_fraction": row["pruned_fraction"],
    }


def table(results: dict) -> str:
    """The Markdown table of every stored row, in the order of :data:`CANDIDATES`."""
    lines = [
        "| prior | T | seed | accuracy | NLL | ECE | AUROC Fashion / KMNIST | flagged at p99 | ELBO | fit s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = {name: i for i, name in enumerate(CANDIDATES)}
    for key in sorted(results, key=lambda k: (order.get(k.split("/")[0], 99), k)):
        r = results[key]
        name, seed = key.split("/")
        o = r["ood"]
        lines.append(
            f"| {name} | {r['settings']['temperature']:g} | {seed.removeprefix('seed')} "
            f"| {100 * r['test_accuracy']:.2f} % | {r['test_nll']:.3f} | {r['ece']:.3f} "
            f"| {o['fashion-mnist']['auroc']:.3f} / {o['kmnist']['auroc']:.3f} "
            f"| {o['fashion-mnist']['flagged_at_p99']:.2f} / {o['kmnist']['flagged_at_p99']:.2f} "
            f"| {r['final_elbo']:.4g} | {r['fit_seconds']:.0f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", nargs="+", choices=sorted(CANDIDATES), default=list(CANDIDATES))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--steps", type=int, help="override the ADVI steps (the table's rows use the workflow's)")
    ap.add_argument("--out", default="out/bench-priors", help="folder for each run's figures and results")
    ap.add_argument("--results", default=str(RESULTS), help="JSON file the rows are merged into")
    ap.add_argument("--table", action="store_true", help="print the table of the stored rows and stop")
    ap.add_argument("--figure", type=Path, help="a fitted result (advi.nc): draw its learned scales to " + FIGURE.name)
    args = ap.parse_args(argv)
    if args.figure:
        from bnngallery.plots import plot_learned_scales, save_figure
        from bnngallery.results import load_result

        save_figure(plot_learned_scales(load_result(args.figure)), FIGURE)
        print(f"wrote {FIGURE}")
        return {}
    path = Path(args.results)
    results = json.loads(path.read_text()) if path.exists() else {}
    if args.table:
        print(table(results))
        return results
    for name in args.candidates:
        for seed in args.seeds:
            overrides = {"model": dict(CANDIDATES[name])}
            if args.steps:
                overrides["steps"] = args.steps
            t0 = time.perf_counter()
            metrics = run_mnist_mlp(
                out_dir=Path(args.out) / f"{name}-seed{seed}",
                random_seed=seed,
                progressbar=False,
                ood=OOD,
                settings=overrides,
                log=lambda _: None,
            )
            row = summarise(metrics["runs"][0])
            row.update(
                settings=metrics["settings"]["model"],
                wall_seconds=time.perf_counter() - t0,
                measured_at=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                machine=metrics["machine"],
            )
            results[f"{name}/seed{seed}"] = row
            write_json(results, path)
            print(table({f"{name}/seed{seed}": row}).splitlines()[-1], flush=True)
    return results


if __name__ == "__main__":
    main()
