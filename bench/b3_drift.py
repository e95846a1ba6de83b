"""B3: the drift step on 1M rows x 20 columns, against Evidently's preset called directly: >= 5x.

Reference and current are 1M generated transactions each (the current drifted), widened with
extra numeric columns so that 20 columns are checked (18 features, the label, the prediction).
A champion is trained on the reference first (not timed). The figure: ``python -m steps.drift``
forked from a warm starter that has imported the steps' libraries, as the local executor forks a
step (load the champion, read the current side, predict, test, write the HTML report, log to
MLflow), with the reference's profile kept by the champion's first check. Printed beside: that
first check, which reads the reference and predicts it, and one run in a new interpreter, as a pod
on a cluster runs it (its imports included). The baseline, in the same run:
``Report([DataDriftPreset()]).run`` on the same full frames (with the champion's predictions) and
``save_html``, in a process that has imported Evidently and run it once: both sides are timed with
their libraries imported. The per-column verdicts must be identical and the scores equal to 1e-9.
Medians of --repeats runs after a warm-up.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import ROOT, Outcome, arguments, data_dir, median_of, mlops, report, run, step_usage
from workflows.local.warm_start import WarmStarter

EXTRA_COLUMNS = 9


def wide(rows: int, seed: int, drift: float) -> pd.DataFrame:
    """Sample transactions plus noise columns; drift moves half of them."""
    from workflows.local.sample_data import generate

    frame = generate(rows, seed=seed, drift=drift)
    rng = np.random.default_rng(seed)
    for i in range(EXTRA_COLUMNS):
        shift = drift * (i % 2) * 0.5
        frame[f"signal_{i:02d}"] = rng.normal(shift, 1.0 + drift * 0.2 * (i % 3), len(frame)).round(4)
    return frame


def prepare(rows: int) -> tuple[Path, Path]:
    folder = data_dir(f"wide-{rows}")
    sides = {"reference": (7, 0.0), "current": (8, 0.6)}
    for side, (seed, drift) in sides.items():
        if not any((folder / side).glob("*.parquet")):
            from workflows.local.sample_data import write_partitions

            write_partitions(wide(rows, seed, drift), str(folder / side), 8)
    return folder / "reference", folder / "current"


def train_champion(reference: Path, root: str) -> None:
    run(mlops("run", "training", "-p", f"data-uri={reference}", "-p", "epochs=1", "-p", "min-auc=0.5"),
        env={"MLOPS_STORAGE_ROOT": root})  # fmt: skip


def drift_command(current: Path, root: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "steps.drift",
        "--run-dir",
        f"{root}/runs/bench-drift",
        "--current-uri",
        str(current),
    ]


def warm_starter() -> WarmStarter:
    """A starter that has imported the libraries it imports for every step (not Evidently: the step's
    report process imports it, beside the step's work)."""
    starter = WarmStarter(None)
    if not starter.ready.wait(600):
        sys.exit("B3: the warm starter did not import its libraries in 10 minutes")
    return starter


def drift_step(starter: WarmStarter, current: Path, root: str) -> float:
    """The step forked warm, as the local executor starts it; its wall seconds."""
    log = Path(root, "drift-step.log")
    started = time.perf_counter()
    code = starter.start(drift_command(current, root), {**os.environ, **env(root)}, str(ROOT), log).wait()
    elapsed = time.perf_counter() - started
    if code != 0:
        sys.exit(f"B3: the drift step failed ({code}):\n{log.read_text()[-3000:]}")
    return elapsed


def env(root: str) -> dict[str, str]:
    return {"MLOPS_STORAGE_ROOT": root, "MLOPS_OUTPUTS_DIR": f"{root}/outputs"}


def frames_as_the_step_sees_them(reference: Path, current: Path, root: str) -> list[pd.DataFrame]:
    import mlflow.pyfunc

    from steps.ingest import read_dataset
    from workflows.settings import load_settings

    os.environ.update(env(root))
    mlflow.set_tracking_uri(load_settings().tracking_uri)
    model = mlflow.pyfunc.load_model("models:/fraud-detector@champion")
    features = model.metadata.get_input_schema().input_names()
    frames = []
    for uri in (reference, current):
        frame, _ = read_dataset(str(uri), {"event_time"})
        frame = frame.drop_duplicates(ignore_index=True)[[*features, "target"]].copy()
        frame["prediction"] = model.predict(frame[features])
        frames.append(frame)
    return frames


def evidently_directly(
    reference: pd.DataFrame, current: pd.DataFrame
) -> tuple[float, dict[str, bool], dict[str, float]]:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    with tempfile.TemporaryDirectory() as tmp:
        snapshot.save_html(f"{tmp}/report.html")
    elapsed = time.perf_counter() - started
    verdicts, scores = {}, {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            score, threshold = float(metric["value"]), float(config["threshold"])
            # p-values drift below the threshold, distances at or above it
            verdicts[config["column"]] = (
                score < threshold if "p_value" in config["method"] else score >= threshold
            )
            scores[config["column"]] = score
    return elapsed, verdicts, scores


def main() -> None:
    args = arguments(__doc__)
    rows = 20_000 if args.quick else 1_000_000
    reference, current = prepare(rows)
    with tempfile.TemporaryDirectory() as root:
        train_champion(reference, root)
        starter = warm_starter()
        try:
            first = drift_step(starter, current, root)  # reads the reference, predicts it, keeps its profile
            figure = median_of(lambda: drift_step(starter, current, root), args.repeats, warm_up=lambda: None)
        finally:
            starter.close()
        cold = run(drift_command(current, root), env=env(root))
        ours = json.loads(Path(root, "runs", "bench-drift", "drift", "columns.json").read_text())
        used = step_usage(Path(root, "runs", "bench-drift"), "drift")
        frames = frames_as_the_step_sees_them(reference, current, root)
        results = []

        def baseline_run() -> float:
            results.append(evidently_directly(*frames))
            return results[-1][0]

        small = [f.head(5_000) for f in frames]
        baseline = median_of(baseline_run, args.repeats, warm_up=lambda: evidently_directly(*small))
    theirs, their_scores = results[-1][1], results[-1][2]
    mine = {c["column"]: c["drifted"] for c in ours["columns"]}
    gap = max(abs(c["score"] - their_scores.get(c["column"], float("inf"))) for c in ours["columns"])
    same = mine == theirs and gap <= 1e-9
    ratio = baseline / figure
    print(f"B3 drift, {rows:,} rows x {len(mine)} columns a side (median of {args.repeats})")
    print(f"  baseline: Evidently's preset on the full frames + save_html  {baseline:7.1f} s")
    print(
        f"  drift step, forked from a warm starter:                       {figure:7.1f} s  {ratio:.1f}x faster"
    )
    print(
        f"  the champion's first check (reads and profiles the reference): {first:6.1f} s  {baseline / first:.1f}x"
    )
    print(
        f"  the step in a new interpreter, as a pod runs it (one run):     {cold:7.1f} s  {baseline / cold:.1f}x"
    )
    print(
        f"  step peak memory {used['peak_rss_mib']:.0f} MiB; report drawn from {ours['report_rows']:,} rows a side"
    )
    print(
        f"  per-column verdicts identical: {mine == theirs} ({sum(mine.values())} drifted); largest score gap {gap:.1e}"
    )
    if not same:
        print(f"    differ: {sorted(c for c in mine if mine[c] != theirs.get(c))}")
    report(
        Outcome(
            id="B3",
            what=f"drift step, {rows:,} x {len(mine)} columns",
            baseline=f"Evidently preset directly {baseline:.0f} s",
            figure=f"{figure:.1f} s warm (first check {first:.1f} s, a new interpreter {cold:.1f} s), verdicts {'identical' if same else 'DIFFER'}",
            ratio=round(ratio, 2),
            target=">= 5x, identical verdicts",
            met=ratio >= 5 and same,
        )
    )
    if not same:  # a faster step with other verdicts is no result: fail, even in --quick
        sys.exit("B3: the drift step's verdicts or scores differ from Evidently's preset")


if __name__ == "__main__":
    main()
