"""B6: the local executor's scheduling overhead per task, against a plain loop of the same processes.

A 20-task DAG (one root, 18 parallel tasks, one join) of no-op steps runs through the executor;
the baseline starts the same 20 subprocesses one after another in a plain loop, in the same run.
Overhead per task = (executor wall - baseline wall) / 20, with parallelism 1 (pure bookkeeping:
parameters, logs, run.json, retries machinery) and with parallelism 4 (what a DAG gains).
Target: <= 50 ms per task. Medians of --repeats runs after one warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

from workflows.local import LocalRun

TASKS = 20
NOOP = ["python", "-c", "pass"]


def fan_out_fan_in() -> dict:
    middle = [{"name": f"work-{i:02d}", "template": "noop", "depends": "root"} for i in range(TASKS - 2)]
    join = {"name": "join", "template": "noop", "depends": " && ".join(t["name"] for t in middle)}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "bench-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "dag": {"tasks": [{"name": "root", "template": "noop"}, *middle, join]}},
                {"name": "noop", "container": {"image": "python", "command": NOOP}},
            ],
        },
    }


def executor_seconds(parallelism: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        run = LocalRun(
            fan_out_fan_in(), {}, f"{folder}/runs", parallelism=parallelism, locks_dir=f"{folder}/locks"
        )
        record = run.run()
        elapsed = time.perf_counter() - started
    assert record.phase == "Succeeded", record.message
    return elapsed


def baseline_seconds() -> float:
    started = time.perf_counter()
    for _ in range(TASKS):
        subprocess.run([sys.executable, *NOOP[1:]], check=True)
    return time.perf_counter() - started


def median_of(measure, repeats: int) -> float:
    measure()  # warm-up: page cache, imports
    return statistics.median(measure() for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    baseline = median_of(baseline_seconds, args.repeats)
    print(f"B6 local executor, {TASKS}-task fan-out/fan-in DAG of no-op steps (median of {args.repeats})")
    print(f"  baseline: {TASKS} subprocesses in a plain loop  {baseline:7.3f} s")
    worst = 0.0
    for parallelism in (1, 4):
        seconds = median_of(lambda p=parallelism: executor_seconds(p), args.repeats)
        overhead_ms = (seconds - baseline) / TASKS * 1000
        worst = max(worst, overhead_ms)
        print(
            f"  executor, parallelism {parallelism}:                {seconds:7.3f} s  ratio {seconds / baseline:5.2f}  overhead {overhead_ms:+6.1f} ms/task"
        )
    verdict = "meets" if worst <= 50 else "MISSES"
    print(f"  target <= 50 ms/task: {verdict} (worst {worst:+.1f} ms/task)")
    sys.exit(0 if worst <= 50 else 1)


if __name__ == "__main__":
    main()
