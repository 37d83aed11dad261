"""Choose the MNIST MLP's posterior temperature on a validation split, never on the test set.

Fits the workflow's full-size MLP (``bnngallery run mnist-mlp`` settings) on the first 50k
training images at each temperature T, scores it on the last 10k training images held out,
and keeps the T with the lowest held-out NLL (a proper score; accuracy and ECE are reported
beside it). T = 1 is the Bayes posterior, the peer every colder T is compared with. Results
go to ``benchmarks/results/mnist_temperature.json``::

    python benchmarks/mnist_temperature.py                      # T = 1, 0.5, 0.25, 0.125, seed 0
    python benchmarks/mnist_temperature.py --temperatures 1 0.5 --steps 3000
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from bnngallery.files import write_json
from bnngallery.provenance import software_versions
from bnngallery.runs.mnist import run_mnist_mlp

RESULTS = Path(__file__).resolve().parent / "results" / "mnist_temperature.json"
HOLDOUT = 10_000
#: Per-T numbers kept ("test_*" are the held-out images' here). Not the final ELBO: at T != 1
#: it is the tempered objective, on a scale of its own.
REPORTED = ("test_accuracy", "test_nll", "ece", "accuracy_at_95pct_kept", "best_ood_auroc", "fit_seconds")


def main(argv=None, run=run_mnist_mlp) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 0.5, 0.25, 0.125])
    ap.add_argument("--holdout", type=int, default=HOLDOUT, help="last training images held out for scoring")
    ap.add_argument("--steps", type=int, help="override the ADVI steps")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="out/bench-temperature", help="folder for each run's figures and results")
    ap.add_argument("--results", default=str(RESULTS), help="JSON file the numbers are written to")
    args = ap.parse_args(argv)
    if any(not t > 0 for t in args.temperatures):
        ap.error(f"every temperature must be > 0; got {args.temperatures}")
    rows = []
    for t in args.temperatures:
        overrides = {"holdout": args.holdout, "model": {"temperature": t}}
        if args.steps:
            overrides["steps"] = args.steps
        metrics = run(out_dir=Path(args.out) / f"T{t:g}", random_seed=args.seed, progressbar=False, settings=overrides)
        row = metrics["runs"][0]
        rows.append({"temperature": t, **{k: row[k] for k in REPORTED}, "model_settings": row.get("model_settings")})
        # names as they are: the "test" metrics of these runs are scored on the held-out images
        print(
            f"T = {t:g}: held-out accuracy {row['test_accuracy']:.4f}, NLL {row['test_nll']:.4f}, "
            f"ECE {row['ece']:.4f}, OOD AUROC {row['best_ood_auroc']:.3f}, fit {row['fit_seconds']:.0f} s"
        )
    finite = [r for r in rows if math.isfinite(r["test_nll"])]
    if not finite:
        raise SystemExit("No fit gave a finite held-out NLL; nothing to choose from.")
    best = min(finite, key=lambda r: r["test_nll"])
    settings = {
        **metrics["settings"],
        "model": {k: v for k, v in metrics["settings"]["model"].items() if k != "temperature"},
    }
    table = {
        "chosen_temperature": best["temperature"],
        "criterion": "lowest held-out NLL",
        "scored_on": f"the last {args.holdout} MNIST training images (trained on the rest)",
        "seed": args.seed,
        "runs": rows,
        "settings": settings,
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": metrics.get("machine", ""),
        "software": metrics.get("software") or software_versions(),
    }
    write_json(table, Path(args.results))
    print(json.dumps({"chosen_temperature": best["temperature"], "by": table["criterion"]}))
    return table


if __name__ == "__main__":
    main()
