"""B8: a second `mlops run training` on unchanged data, as a ratio of the first, and the step cache's lookup.

Both runs start from one empty storage root with the cache on; the second finds ingest, validate-data,
features and train (its seed fixed) in the cache and runs only evaluate and what follows. Target: the
second run's wall <= 0.35 of the first's, and each cached step's lookup (its key, the check that every
output still exists, the restore: ``lookup_seconds`` in its ``cache.json``) <= 100 ms. Medians of
--repeats pairs; 1M rows, 3 epochs (--quick: 20k rows, 1 epoch, once).
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

from bench.common import Outcome, arguments, data_dir, generate_data, mlops, report, run

CACHED = ("ingest", "validate-data", "features", "train")
LOOKUP_TARGET = 0.1  # seconds per cached step


def second_run(root: Path) -> Path:
    """The run folder of the later of the two runs."""
    records = [json.loads(p.read_text()) for p in Path(root, "runs").glob("*/run.json")]
    return Path(max(records, key=lambda r: r["started_at"])["run_dir"])


def pair(data: Path, epochs: int) -> tuple[float, float, dict[str, float]]:
    """(first run's wall, second run's wall, each cached step's lookup seconds in the second)."""
    with tempfile.TemporaryDirectory() as root:
        env = {"MLOPS_STORAGE_ROOT": root, "MLOPS_CACHE": "on"}
        command = mlops("run", "training", "-p", f"data-uri={data}", "-p", f"epochs={epochs}")
        first, second = run(command, env=env), run(command, env=env)
        folder = second_run(Path(root))
        records = {task: json.loads((folder / task / "cache.json").read_text()) for task in CACHED}
        missed = [task for task, record in records.items() if not record["hit"]]
        if missed:
            raise SystemExit(f"B8: the second run missed the cache for {', '.join(missed)}")
        return first, second, {task: record["lookup_seconds"] for task, record in records.items()}


def main() -> None:
    args = arguments(__doc__, repeats=1)
    rows, epochs = (20_000, 1) if args.quick else (1_000_000, 3)
    data = generate_data(data_dir(f"rows-{rows}"), rows)
    pairs = [pair(data, epochs) for _ in range(args.repeats)]
    first = statistics.median(p[0] for p in pairs)
    second = statistics.median(p[1] for p in pairs)
    ratio = statistics.median(p[1] / p[0] for p in pairs)
    lookups = {task: statistics.median(p[2][task] for p in pairs) for task in CACHED}
    print(
        f"B8 step cache: mlops run training twice, {rows:,} rows, {epochs} epochs (median of {args.repeats})"
    )
    print(f"  first run:  {first:7.2f} s")
    print(f"  second run: {second:7.2f} s  ratio {ratio:.3f}")
    for task, seconds in lookups.items():
        print(f"    {task:14s} lookup {seconds * 1000:6.1f} ms")
    slowest = max(lookups.values())
    report(
        Outcome(
            id="B8",
            what=f"second mlops run training on unchanged data, {rows:,} rows",
            baseline=f"first run {first:.1f} s",
            figure=f"{second:.1f} s; slowest lookup {slowest * 1000:.0f} ms",
            ratio=round(ratio, 3),
            target=f"<= 0.35, lookup <= {LOOKUP_TARGET * 1000:.0f} ms",
            met=ratio <= 0.35 and slowest <= LOOKUP_TARGET,
        )
    )


if __name__ == "__main__":
    main()
