"""Run every benchmark (B1-B10, B2c) and print one table; `--quick` runs each small, once.

Each benchmark runs in its own process (so none inherits another's imports or memory) and ends
with one ``BENCH {json}`` line per figure; this gathers them. Full runs exit 1 when a target is
missed; quick runs only check that every benchmark still runs (their sizes are too small for the
targets).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from rich.console import Console
from rich.table import Table

from bench.common import ROOT

BENCHMARKS = (
    "b1_workflow_overhead",
    "b2_train_throughput",
    "b2c_contended_train",
    "b3_drift",
    "b4_ingest_s3",
    "b5_scaling",
    "b6_executor_overhead",
    "b7_compile_lint",
    "b8_step_cache",
    "b9_sweep",
    "b10_metaflow",
)


def run_one(name: str, quick: bool) -> list[dict]:
    command = [sys.executable, "-m", f"bench.{name}", *(["--quick"] if quick else [])]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    lines = done.stdout.splitlines()
    for line in lines:
        if not line.startswith("BENCH "):
            print(line, flush=True)
    print(f"  ({name}: {time.perf_counter() - started:.0f} s)", flush=True)
    results = [json.loads(line[len("BENCH ") :]) for line in lines if line.startswith("BENCH ")]
    if done.returncode != 0 or not results:
        print(f"{name} failed ({done.returncode}):\n{done.stderr[-3000:]}", file=sys.stderr, flush=True)
        return []
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*", default=None, help="e.g. b2_train_throughput b7_compile_lint")
    args = parser.parse_args()
    outcomes, failed = [], []
    for name in args.only or BENCHMARKS:
        results = run_one(name, args.quick)
        (outcomes.extend(results) if results else failed.append(name))
    table = Table(
        title="argo-mlops benchmarks" + (" (quick: sizes too small for the targets)" if args.quick else "")
    )
    for column in ("id", "what", "baseline (same run)", "figure", "ratio", "target", "met"):
        table.add_column(column)
    for o in outcomes:
        met = "-" if args.quick or o["met"] is None else ("yes" if o["met"] else "NO")
        ratio = "" if o["ratio"] is None else f"{o['ratio']:.2f}"
        table.add_row(o["id"], o["what"], o["baseline"], o["figure"], ratio, o["target"], met)
    Console(width=200).print(table)
    if failed:
        sys.exit(f"failed to run: {', '.join(failed)}")
    if not args.quick and not all(o["met"] in (True, None) for o in outcomes):
        sys.exit(1)


if __name__ == "__main__":
    main()
