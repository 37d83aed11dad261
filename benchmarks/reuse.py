"""Bring your own data: every builder with its defaults on public scikit-learn data sets it was
not written for, ADVI (``fit``'s defaults) against NUTS where NUTS is practical and against
scikit-learn's best non-Bayesian baseline, with the collapse check's verdict.

Run: ``python benchmarks/reuse.py [--smoke] [--only NAME ...] [--out PATH]``; writes
``benchmarks/results/reuse.json`` (``reuse_smoke.json`` with ``--smoke``) and prints a table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
import warnings
from pathlib import Path

from bnngallery.files import write_json
from bnngallery.provenance import machine_description, software_versions
from bnngallery.runs.reuse import SPECS, run_reuse, summary_line
from bnngallery.runs.settings import run_settings

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (plumbing check)")
    parser.add_argument("--only", nargs="+", choices=sorted(SPECS), help="data sets to run (default: all)")
    parser.add_argument("--no-nuts", action="store_true", help="skip NUTS")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or RESULTS / ("reuse_smoke.json" if args.smoke else "reuse.json")
    warnings.filterwarnings("ignore", message=".*samples per chain.*")
    t0 = time.perf_counter()
    names = args.only or list(SPECS)
    # a re-run of some data sets keeps the others' rows; the file is rewritten after each data
    # set, so a run stopped part way keeps what it measured
    kept = [r for r in json.loads(out.read_text())["rows"] if r["data"] not in names] if out.exists() else []
    rows: list = []
    for name in names:
        rows += run_reuse([name], smoke=args.smoke, nuts=not args.no_nuts)
        report = {
            "date": datetime.date.today().isoformat(),
            "machine": machine_description(),
            "software": software_versions(),
            "settings": run_settings("reuse", smoke=args.smoke),
            "command": "python benchmarks/reuse.py" + (" --smoke" if args.smoke else ""),
            "seconds": time.perf_counter() - t0,
            "rows": sorted(kept + rows, key=lambda r: list(SPECS).index(r["data"])),
        }
        write_json(report, out)
    rows = report["rows"]
    print()
    for row in rows:
        print(f"{row['data']:>14}: {summary_line(row)}")
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
