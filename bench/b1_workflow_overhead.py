"""B1: `mlops run training` on 1M generated rows, 3 epochs, against the same steps in one process.

The figure is the whole local run as a user starts it: compile-free ``mlops run training``, every
step a subprocess through the executor, MLflow on sqlite, the GitOps folder, the exit handler. The
baseline, in the same run and from an equally empty storage root: the same steps' ``main`` called
one after another in this one Python process, with the very arguments the executor gave them
(read back from run.json), so imports are paid once and nothing is scheduled. Target: wall
ratio <= 1.15. The overhead of each step (its subprocess wall minus its in-process wall) is printed.
Medians of --repeats runs after one warm-up on 20k rows.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import Outcome, arguments, data_dir, generate_data, mlops, report, run

STEP_MODULE_ARG = 2  # python -m steps.<name> ...


def run_record(root: Path) -> dict:
    (record,) = Path(root, "runs").glob("*/run.json")
    return json.loads(record.read_text())


def executed(record: dict) -> list[tuple[str, list[str], float]]:
    """(task, command, subprocess seconds) of every step that ran, in the order they started."""
    nodes = [n for n in record["nodes"].values() if n["attempts"]]
    nodes.sort(key=lambda n: n["started_at"])
    if record.get("exit_handler"):
        nodes.append({**record["exit_handler"], "name": "onExit"})  # its node name holds the run's
    return [
        (n["name"], n["attempts"][-1]["command"], n["attempts"][-1]["duration_seconds"], n["outputs"])
        for n in nodes
    ]


def with_mlops(data: Path, epochs: int) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as root:
        wall = run(mlops("run", "training", "-p", f"data-uri={data}", "-p", f"epochs={epochs}"),
                   env={"MLOPS_STORAGE_ROOT": root})  # fmt: skip
        return wall, run_record(Path(root))


def in_one_process(steps: list[tuple], old_root: str) -> tuple[float, dict[str, float]]:
    """The same step functions, the same arguments, called in sequence here. Arguments that were an
    earlier step's output (a run id, a model URI) take this run's value of that output."""
    walls: dict[str, float] = {}
    now_for: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as root:
        saved = dict(os.environ)
        os.environ["MLOPS_STORAGE_ROOT"] = root
        started = time.perf_counter()
        try:
            for task, command, _, outputs in steps:
                argv = [now_for.get(a, a).replace(old_root, root) for a in command[STEP_MODULE_ARG + 1 :]]
                outputs_dir = Path(root, "outputs", task)
                os.environ["MLOPS_OUTPUTS_DIR"] = str(outputs_dir)
                step_started = time.perf_counter()
                module = importlib.import_module(command[STEP_MODULE_ARG])
                with (
                    contextlib.redirect_stdout(io.StringIO()),
                    contextlib.redirect_stderr(io.StringIO()) as log,
                ):
                    try:
                        module.main(argv)
                    except SystemExit as done:
                        if done.code:
                            raise RuntimeError(
                                f"{task} exited {done.code}: {log.getvalue()[-2000:]}"
                            ) from None
                walls[task] = time.perf_counter() - step_started
                for name, value in outputs.items():
                    if value and (outputs_dir / name).exists():
                        now_for[value] = (outputs_dir / name).read_text()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return time.perf_counter() - started, walls


def storage_root_of(steps: list[tuple]) -> str:
    run_dir = steps[0][1][steps[0][1].index("--run-dir") + 1]
    return str(Path(run_dir).parent.parent)


def measure(data: Path, epochs: int) -> tuple[float, float, list, dict]:
    wall, record = with_mlops(data, epochs)
    if record["phase"] != "Succeeded":
        raise SystemExit(f"the local run ended {record['phase']}: {record['message']}")
    steps = executed(record)
    baseline, walls = in_one_process(steps, storage_root_of(steps))
    return wall, baseline, steps, walls


def main() -> None:
    args = arguments(__doc__)
    rows, epochs = (20_000, 1) if args.quick else (1_000_000, 3)
    data = generate_data(data_dir(f"rows-{rows}"), rows)
    if not args.quick:
        measure(generate_data(data_dir("rows-20000"), 20_000), 1)  # warm-up: imports, page cache
    runs = [measure(data, epochs) for _ in range(args.repeats)]
    ratios = [wall / baseline for wall, baseline, _, _ in runs]
    wall = statistics.median(r[0] for r in runs)
    baseline = statistics.median(r[1] for r in runs)
    ratio = statistics.median(ratios)
    print(f"B1 mlops run training, {rows:,} rows, {epochs} epochs (median of {args.repeats})")
    print(f"  baseline: the steps in one process  {baseline:7.2f} s")
    print(f"  mlops run training:                 {wall:7.2f} s  ratio {ratio:.3f}")
    print("  per step: subprocess s, in-process s, overhead s")
    for task, *_ in runs[0][2]:
        sub = statistics.median(next(s for t, _, s, _ in r[2] if t == task) for r in runs)
        own = statistics.median(r[3][task] for r in runs)
        print(f"    {task:14s} {sub:7.2f} {own:7.2f} {sub - own:+6.2f}")
    step_sum = statistics.median(sum(s for _, _, s, _ in r[2]) for r in runs)
    print(f"  executor outside the steps (wall - sum of step walls): {wall - step_sum:+.2f} s")
    report(
        Outcome(
            id="B1",
            what=f"mlops run training, {rows:,} rows, {epochs} epochs",
            baseline=f"steps in one process {baseline:.1f} s",
            figure=f"{wall:.1f} s",
            ratio=round(ratio, 3),
            target="<= 1.15",
            met=ratio <= 1.15,
        )
    )


if __name__ == "__main__":
    main()
