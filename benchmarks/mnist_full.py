"""Full-size MNIST runs (60k train / 10k test, Fashion-MNIST as OOD) with their timings.

Runs ``bnngallery run mnist-mlp`` / ``mnist-cnn`` at full size through the same workflow as the
CLI and merges each run's metrics (accuracy, NLL, ECE, referral gain, OOD AUROC, fit and
compile seconds, learned scales) with the machine it ran on into
``benchmarks/results/mnist_full.json``::

    python benchmarks/mnist_full.py                 # both models
    python benchmarks/mnist_full.py --only mlp --steps 3000
    python benchmarks/mnist_full.py --only mlp --variant hierarchical    # entry mnist-mlp-hierarchical
    python benchmarks/mnist_full.py --only mlp --variant untempered      # the MLP's Bayes posterior (T = 1)
    python benchmarks/mnist_full.py --preset gpu --tag gpu      # article-size nets, 200k steps (on a GPU)

The CPU preset (the workflow's "full" settings) is sized for the 2-core CPU; the GPU preset
is the article's MLP (2 x 800) and CNN with the real convolution Op, 200k steps each.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bnngallery.files import write_json
from bnngallery.runs.mnist import run_mnist_cnn, run_mnist_mlp

RESULTS = Path(__file__).resolve().parent / "results" / "mnist_full.json"
RUNS = {"mlp": ("mnist-mlp", run_mnist_mlp), "cnn": ("mnist-cnn", run_mnist_cnn)}

#: Builder overrides per variant (the rest of the network as in the workflow: ReLU, biases
#: Normal(0, 1)): "default" is the workflow's scale-mixture prior at the MLP's posterior
#: temperature (0.25); "untempered" the same at T = 1, the Bayes posterior; "hierarchical" gives
#: the weights article A's Normal(0, sigma_layer) with sigma_layer ~ HalfNormal(1); "normal" is
#: a fixed Normal(0, 1), the scale mixture's wide component alone (the ablation). Both Normal
#: variants start from the usual 1/sqrt(fan_in) initial means and compare with "untempered";
#: "horseshoe" is the hierarchical horseshoe (layer and unit scales) at T = 1, the CNN's row of
#: the MLP's prior (the MLP's priors side by side: ``benchmarks/mnist_priors.py``).
VARIANTS = {
    "default": {},
    "untempered": {"temperature": 1.0},
    "hierarchical": {"prior": "normal", "hierarchical": True, "init_scale": None, "temperature": 1.0},
    "normal": {"prior": "normal", "hierarchical": False, "init_scale": None, "temperature": 1.0},
    "horseshoe": {"prior": "horseshoe", "init_scale": 1.0, "temperature": 1.0},
}

#: Article A's networks as the earlier GPU rows ran them: tanh, hierarchical Normal prior, N(0, 0.1)
#: biases, the Bayes posterior (T = 1).
ARTICLE = {
    "activation": "tanh",
    "prior": "normal",
    "hierarchical": True,
    "prior_sigma": 0.1,
    "init_scale": None,
    "temperature": 1.0,
}

#: Settings overrides per preset and model ("cpu" = the workflow's own full settings).
PRESETS = {
    "cpu": {"mlp": {}, "cnn": {}},
    "gpu": {
        "mlp": {
            "steps": 200_000,
            "batch_size": 500,
            "learning_rate": 0.005,
            "advi_draws": 200,
            "predict_draws": 200,
            "model": {"hidden": (800, 800), **ARTICLE},
        },
        "cnn": {
            "steps": 200_000,
            "batch_size": 128,
            "learning_rate": 0.005,
            "advi_draws": 200,
            "predict_draws": 200,
            "model": {"conv_impl": "op", **ARTICLE},
        },
    },
}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=sorted(RUNS), action="append", help="run only this model (repeatable)")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="cpu", help="settings preset")
    ap.add_argument(
        "--variant", choices=sorted(VARIANTS), default="default", help="weight prior or temperature (see VARIANTS)"
    )
    ap.add_argument("--steps", type=int, help="override the ADVI steps")
    ap.add_argument("--out", default="out/bench", help="folder for each run's figures and results")
    ap.add_argument("--results", default=str(RESULTS), help="JSON file the numbers are merged into")
    ap.add_argument("--tag", default="", help="suffix of the entry name, e.g. 'gpu'")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    path = Path(args.results)
    table = json.loads(path.read_text()) if path.exists() else {}
    for key in args.only or sorted(RUNS):
        family, run = RUNS[key]
        overrides = {**PRESETS[args.preset][key]}
        if args.steps:
            overrides["steps"] = args.steps
        overrides["model"] = {**overrides.get("model", {}), **VARIANTS[args.variant]}
        name = family + (f"-{args.variant}" if args.variant != "default" else "") + (f"-{args.tag}" if args.tag else "")
        t0 = time.perf_counter()
        metrics = run(out_dir=Path(args.out) / name, random_seed=args.seed, progressbar=False, settings=overrides)
        metrics["total_wall_seconds"] = time.perf_counter() - t0
        metrics["measured_at"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        table[name] = metrics
        write_json(table, path)
        print(json.dumps(metrics["runs"][0] if metrics["runs"] else metrics, indent=1, default=str)[:2000])
    return table


if __name__ == "__main__":
    main()
