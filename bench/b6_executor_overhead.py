"""B6: the local executor's scheduling overhead per task, against a plain loop of the same processes.

A 20-task DAG (one root, 18 parallel tasks, one join) of no-op steps runs through the executor;
the baseline starts the same 20 subprocesses one after another in a plain loop, in the same run.
Overhead per task = (executor wall - baseline wall) / 20, with parallelism 1 (pure bookkeeping:
parameters, logs, run.json, retries machinery) and with parallelism 4 (what a DAG gains).
Target: <= 50 ms per task. Medians of --repeats runs after one warm-up.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time

from bench.common import Outcome, arguments, median_of, report
from workflows.local.executor import LocalRun

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


def main() -> None:
    args = arguments(__doc__, repeats=5)
    baseline = median_of(baseline_seconds, args.repeats)
    print(f"B6 local executor, {TASKS}-task fan-out/fan-in DAG of no-op steps (median of {args.repeats})")
    print(f"  baseline: {TASKS} subprocesses in a plain loop  {baseline:7.3f} s")
    overheads = {}
    for parallelism in (1, 4):
        seconds = median_of(lambda p=parallelism: executor_seconds(p), args.repeats)
        overheads[parallelism] = (seconds - baseline) / TASKS * 1000
        print(
            f"  executor, parallelism {parallelism}:                {seconds:7.3f} s  ratio {seconds / baseline:5.2f}  overhead {overheads[parallelism]:+6.1f} ms/task"
        )
    worst = max(overheads.values())
    report(
        Outcome(
            id="B6",
            what=f"local executor, {TASKS}-task fan-out/fan-in DAG of no-op steps",
            baseline=f"{TASKS} subprocesses in a plain loop, {baseline:.2f} s",
            figure=f"{overheads[1]:+.1f} ms/task serial, {overheads[4]:+.1f} ms/task at parallelism 4",
            ratio=None,
            target="<= 50 ms/task",
            met=worst <= 50,
        )
    )


if __name__ == "__main__":
    main()
