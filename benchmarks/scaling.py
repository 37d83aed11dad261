"""Steps per second of data-parallel ADVI on 1 and 2 devices for the MNIST MLP and CNN.

On a CPU machine the devices are XLA host devices forced with
``XLA_FLAGS=--xla_force_host_platform_device_count=2`` (set here before JAX starts); on a GPU
machine they are the visible GPUs. Each case fits the full-size model on the full 60k
training images for ``--steps`` steps (after a compile), records seconds per 1000 steps and
the test accuracy reached, and estimates the time to the full run's step count. Writes
``benchmarks/results/scaling.json`` and prints a table.
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=2")

import argparse  # noqa: E402
from pathlib import Path  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="*", default=["mnist-mlp", "mnist-cnn"])
    parser.add_argument("--devices", nargs="*", type=int, default=[1, 2])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--smoke", action="store_true", help="small data and few steps")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "scaling.json")
    parser.add_argument("--append", action="store_true", help="add rows to an existing results file")
    args = parser.parse_args(argv)

    import jax

    from bnngallery import fit, predict
    from bnngallery.diagnostics.metrics import accuracy
    from bnngallery.files import write_json
    from bnngallery.models import get_builder
    from bnngallery.provenance import machine_description, software_versions
    from bnngallery.runs.mnist import load_mnist_splits
    from bnngallery.runs.settings import SETTINGS

    rows = []
    for family in args.families:
        cfg = SETTINGS[family]["smoke" if args.smoke else "full"]
        steps = 50 if args.smoke else args.steps
        X_train, y_train, X_test, y_test = load_mnist_splits(n_train=cfg["n_train"], n_test=cfg["n_test"])
        build = get_builder(family)
        for n_dev in args.devices:
            if n_dev > len(jax.devices()):
                print(f"skip {family} on {n_dev} devices: only {len(jax.devices())} visible")
                continue
            # the Bayes posterior (T = 1), as scaling.json was measured; the throughput is the same at any T
            model_kw = {**cfg["model"], "temperature": 1.0}
            model = build(X_train, y_train, batch_size=cfg["batch_size"], **model_kw)
            r = fit(
                model,
                "advi",
                steps=steps,
                learning_rate=cfg["learning_rate"],
                init_sd=cfg["init_sd"],
                draws=20,
                devices=n_dev,
                progressbar=False,
            )
            p = predict(build, r, X_test[:2000], draws=20, chunk_rows=500)
            row = {
                "family": family,
                "devices": n_dev,
                "platform": jax.devices()[0].platform,
                "steps": steps,
                "batch_size": cfg["batch_size"],
                "s_per_1000_steps": 1000 * r.attrs["run_seconds"] / steps,
                "steps_per_second": steps / r.attrs["run_seconds"],
                "compile_seconds": r.attrs["compile_seconds"],
                "test_accuracy_2k_after_steps": accuracy(p.mean(0), y_test[:2000]),
                "full_run_steps": SETTINGS[family]["full"]["steps"],
            }
            row["estimated_full_fit_seconds"] = row["full_run_steps"] * row["s_per_1000_steps"] / 1000
            rows.append(row)
            print(
                f"{family:10s} devices={n_dev} {row['s_per_1000_steps']:8.2f} s/1000 steps "
                f"({row['steps_per_second']:.1f} steps/s), compile {row['compile_seconds']:.1f} s, "
                f"acc after {steps} steps {row['test_accuracy_2k_after_steps']:.3f}",
                flush=True,
            )
    machine = f"{machine_description()}, load {os.getloadavg()[0]:.1f}"
    software = software_versions()
    for row in rows:
        row["machine"] = machine
        row["software"] = software
    if not args.smoke:
        if args.append and args.out.exists():
            import json

            old = [
                r
                for r in json.loads(args.out.read_text())
                if (r["family"], r["devices"]) not in {(n["family"], n["devices"]) for n in rows}
            ]
            rows = old + rows
        write_json(rows, args.out)
    print(f"machine: {machine}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
