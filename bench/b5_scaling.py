"""B5: the whole training workflow at 100k, 1M and 10M rows: 10M must complete on this machine's
24 GiB and take <= 12x the 1M run (10x the rows).

Each size is ``mlops run training`` with 3 epochs from an empty storage root, as a user runs it.
Every step records its wall time and peak memory (``<run>/<task>/usage.json``); they are printed
per step and size. 100k and 1M: median of --repeats runs after a warm-up; 10M once (it takes
minutes, and the target is a growth factor, not a close ratio).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.b1_workflow_overhead import run_record
from bench.common import Outcome, arguments, data_dir, generate_data, mlops, report, run, step_usage

EPOCHS = 3


def workflow(rows: int) -> tuple[float, dict[str, dict]]:
    data = generate_data(data_dir(f"rows-{rows}"), rows)
    with tempfile.TemporaryDirectory() as root:
        wall = run(mlops("run", "training", "-p", f"data-uri={data}", "-p", f"epochs={EPOCHS}"),
                   env={"MLOPS_STORAGE_ROOT": root})  # fmt: skip
        record = run_record(Path(root))
        run_dir = record["run_dir"]
        usage = {
            name: step_usage(run_dir, name)
            for name, node in record["nodes"].items()
            if node["phase"] == "Succeeded" and Path(run_dir, name, "usage.json").exists()
        }
    return wall, usage


def main() -> None:
    args = arguments(__doc__)
    small, middle, large = (2_000, 5_000, 20_000) if args.quick else (100_000, 1_000_000, 10_000_000)
    if not args.quick:
        workflow(small)  # warm-up
    measured = {}
    for rows, repeats in ((small, args.repeats), (middle, args.repeats), (large, 1)):
        runs = sorted((workflow(rows) for _ in range(repeats)), key=lambda r: r[0])
        measured[rows] = runs[len(runs) // 2]  # the median run, with its steps' usage
    growth = measured[large][0] / measured[middle][0]
    print(f"B5 training workflow, {EPOCHS} epochs, by size (wall: median of {args.repeats}; {large:,} once)")
    steps = list(measured[large][1])
    print("  step           " + "".join(f"{rows:>22,}" for rows in measured))
    for step in steps:
        cells = []
        for rows in measured:
            used = measured[rows][1].get(step)
            cells.append(
                f"{used['wall_seconds']:8.1f} s {used['peak_rss_mib']:7.0f} MiB" if used else " " * 22
            )
        print(f"  {step:14s} " + "".join(f"{c:>22}" for c in cells))
    print("  whole run      " + "".join(f"{measured[r][0]:>20.1f} s" for r in measured))
    print(f"  {large:,} / {middle:,} rows: {growth:.2f}x the time for 10x the rows")
    peak = max(u["peak_rss_mib"] for u in measured[large][1].values())
    report(
        Outcome(
            id="B5",
            what=f"training workflow at {middle:,} and {large:,} rows",
            baseline=f"its own {middle:,} run {measured[middle][0]:.0f} s",
            figure=f"{large:,}: {measured[large][0]:.0f} s, largest step peak {peak / 1024:.1f} GiB",
            ratio=round(growth, 2),
            target="<= 12x, on 24 GiB",
            met=growth <= 12,
        )
    )


if __name__ == "__main__":
    main()
