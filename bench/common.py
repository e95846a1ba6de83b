"""What every benchmark shares: repeats after a warm-up, generated data, and one result line.

Each benchmark prints its own lines for a reader, then one ``BENCH {json}`` line that
``bench.run_all`` gathers into the table: its id, what was measured, the baseline measured in
the same run, the figure, the ratio and whether the target is met.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Outcome:
    id: str
    what: str
    baseline: str
    figure: str
    ratio: float | None
    target: str
    met: bool | None
    notes: str = ""


def arguments(doc: str, repeats: int = 3) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=repeats, help="measured runs after one warm-up")
    parser.add_argument("--quick", action="store_true", help="small sizes, one run: checks it works")
    args = parser.parse_args()
    global warm_ups
    if args.quick:
        args.repeats, warm_ups = 1, False
    return args


# Quick runs only check that a benchmark works: they skip the warm-ups.
warm_ups = True


def median_of(
    measure: Callable[[], float], repeats: int, warm_up: Callable[[], object] | None = None
) -> float:
    """The median of ``repeats`` measurements, after one warm-up call (the measure itself by default)."""
    if warm_ups:
        (warm_up or measure)()
    return statistics.median(measure() for _ in range(repeats))


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run(command: list[str], env: dict[str, str] | None = None, cwd: str | Path | None = None) -> float:
    """Run a command to success; its wall seconds. Output is kept only to explain a failure."""
    started = time.perf_counter()
    done = subprocess.run(
        command, env={**os.environ, **(env or {})}, cwd=cwd or ROOT, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} ... failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return elapsed


def mlops(*args: str) -> list[str]:
    """The installed ``mlops`` command, as a user (and the Makefile) runs it."""
    return [str(Path(sys.executable).with_name("mlops")), *args]


def step_usage(run_dir: str | Path, task: str) -> dict:
    """The wall time and peak memory a step recorded for itself (``<run>/<task>/usage.json``)."""
    return json.loads(Path(run_dir, task, "usage.json").read_text())


def generate_data(out: Path, rows: int, seed: int = 7, drift: float = 0.0, partitions: int = 8) -> Path:
    """Sample transactions as Parquet partitions, made once per size and kept under bench/.data."""
    if not any(out.glob("*.parquet")):
        run(mlops("data", "generate", str(out), "--rows", str(rows), "--seed", str(seed),
                  "--drift", str(drift), "--partitions", str(partitions)))  # fmt: skip
    return out


def data_dir(name: str) -> Path:
    folder = ROOT / "bench" / ".data" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def report(outcome: Outcome) -> None:
    verdict = {True: "meets", False: "MISSES", None: "(no target checked)"}[outcome.met]
    print(f"  target {outcome.target}: {verdict}")
    print("BENCH " + json.dumps(asdict(outcome)), flush=True)
