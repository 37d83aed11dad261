"""Command line: ``bnngallery run MODEL [--method METHOD|both|all] [--smoke] [--out DIR] [--seed N]``
and ``bnngallery compare MODEL [--methods all|M1,M2,...] [--smoke] [--out DIR] [--seed N]``.

The process-wide JAX switches are made here, explicitly, before JAX starts: one XLA host
device per CPU core (so NUTS chains run in parallel) and the multi-host runtime when
configured (:mod:`bnngallery.inference.devices`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .fitting import BACKENDS


def build_parser() -> argparse.ArgumentParser:
    from .inference.methods import REGISTRY
    from .runs import RUNNERS
    from .runs.settings import compared_models

    parser = argparse.ArgumentParser(prog="bnngallery", description="Run the gallery's Bayesian neural networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="fit a gallery model and write figures, results and metrics.json")
    run.add_argument("model", choices=sorted(RUNNERS), help="which gallery model")
    run.add_argument(
        "--method",
        choices=[*REGISTRY, "both", "all"],
        default="both",
        help="a fit method (those the model's run offers), both = advi and nuts "
        "with a comparison (default), all = every method the model's run offers by default",
    )
    run.add_argument(
        "--backend",
        choices=BACKENDS,
        default="jax",
        help="jax: compiled ADVI and NumPyro NUTS (default); pytensor: pm.fit and PyMC NUTS",
    )
    run.add_argument("--smoke", action="store_true", help="a small, fast run that checks the plumbing")
    run.add_argument("--out", type=Path, default=None, help="output folder (default: out/<model>/)")
    run.add_argument("--seed", type=int, default=0, help="random seed for data, initial values and fits")
    run.add_argument("--no-progress", action="store_true", help="hide progress bars")
    run.add_argument(
        "--devices",
        type=int,
        default=None,
        help="JAX devices for data-parallel ADVI (default: all visible accelerators, 1 on CPU)",
    )
    run.add_argument(
        "--sbc",
        type=Path,
        default=None,
        help="ode only: the SBC benchmark's JSON (benchmarks/results/sbc_ode.json) to report with the run",
    )
    cmp_ = sub.add_parser(
        "compare",
        help="fit the feasible methods (ADVI mean-field/full-rank, NUTS) of a model "
        "and write one comparison table (markdown, JSON) and figures",
    )
    cmp_.add_argument(
        "model",
        choices=sorted(compared_models()),
        help="which gallery model (the models small enough for a NUTS reference; the MNIST nets have "
        "none: 'bnngallery run mnist-mlp' reports their ADVI uncertainty)",
    )
    cmp_.add_argument(
        "--methods",
        default=None,
        help="'all' (every approximation: low-rank and flow VI, Pathfinder, Laplace, deep ensemble, "
        "cyclical SGLD and SGHMC, beside ADVI and NUTS) or a comma-separated list of fit methods "
        "(default: ADVI mean-field/full-rank and NUTS)",
    )
    cmp_.add_argument("--smoke", action="store_true", help="a small, fast run that checks the plumbing")
    cmp_.add_argument("--out", type=Path, default=None, help="output folder (default: out/compare/<model>/)")
    cmp_.add_argument("--seed", type=int, default=0, help="random seed for data, initial values and fits")
    cmp_.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


def _compare(args) -> int:
    from .diagnostics.compare import to_markdown
    from .runs.compare import run_comparison

    out = args.out or Path("out") / "compare" / args.model
    code, table = _guarded(
        out,
        lambda: run_comparison(
            args.model,
            smoke=args.smoke,
            out_dir=out,
            random_seed=args.seed,
            progressbar=not args.no_progress,
            methods=args.methods if args.methods in (None, "all") else tuple(args.methods.split(",")),
        ),
    )
    if code:
        return code
    print()
    print(to_markdown(table))
    print(f"wrote into {out}/: " + ", ".join(table["files"]))
    return 0


def _guarded(out: Path, call):
    """Run ``call()``; turn Ctrl-C and the errors users can fix into an exit code and one line.

    Returns ``(exit_code, value)``: 0 and the value, 130 when interrupted, 1 on an error. A
    run that fails leaves no empty output folder behind (one it created and wrote nothing to).
    """
    pressed = _watch_ctrl_c()
    existed = out.exists()
    try:
        value = call()
    except BaseException as err:
        if not existed and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        # Ctrl-C can land inside a compiler or a sampler callback that re-raises it as
        # another exception: the flag, not the exception type, says the user stopped us.
        if pressed() or isinstance(err, KeyboardInterrupt):
            print(
                f"\ninterrupted: nothing more was written; files already complete in {out} are kept.", file=sys.stderr
            )
            return 130, None
        if isinstance(err, (ValueError, ImportError, RuntimeError, MemoryError)):
            print(f"error: {err}", file=sys.stderr)
            return 1, None
        if isinstance(err, OSError):
            print(f"error: could not write the results to {out}: {err}. Choose another --out folder.", file=sys.stderr)
            return 1, None
        raise
    if pressed():  # an ADVI fit caught Ctrl-C and returned its state: still a stopped run
        print(f"\ninterrupted: the run was stopped; what it finished is in {out}.", file=sys.stderr)
        return 130, None
    return 0, value


def _watch_ctrl_c():
    """Record SIGINT (then raise KeyboardInterrupt as usual); returns a function telling if it came."""
    import signal

    seen = []

    def handler(signum, frame):
        seen.append(signum)
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread: leave Python's default handling
        pass
    return lambda: bool(seen)


def main(argv=None) -> int:
    from .inference.devices import init_distributed, use_host_devices

    use_host_devices()  # one XLA device per core: parallel NUTS chains on CPU
    args = build_parser().parse_args(argv)
    init_distributed()  # a no-op unless BNNGALLERY_COORDINATOR / BNNGALLERY_DISTRIBUTED are set
    from .runs import get_runner
    from .runs.common import summary_table

    if args.seed < 0:
        print("error: --seed must be a non-negative integer", file=sys.stderr)
        return 2
    if args.command == "compare":
        return _compare(args)
    if args.devices is not None and args.devices < 1:
        print("error: --devices must be a positive integer", file=sys.stderr)
        return 2
    extra = {}
    if args.sbc is not None:
        if args.model != "ode":
            print("error: --sbc applies to the ode model only", file=sys.stderr)
            return 2
        extra["sbc"] = args.sbc
    methods = {"both": {"methods": ("advi", "nuts")}, "all": {}}.get(args.method, {"methods": (args.method,)})
    out = args.out or Path("out") / args.model
    code, metrics = _guarded(
        out,
        lambda: get_runner(args.model)(
            **methods,
            **extra,
            backend=args.backend,
            smoke=args.smoke,
            out_dir=out,
            random_seed=args.seed,
            progressbar=not args.no_progress,
            devices=args.devices,
        ),
    )
    if code:
        return code
    print()
    print(summary_table(metrics))
    print(f"\nwrote {out}/metrics.json, figures (*.png) and fitted results (*.nc)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
