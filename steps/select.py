"""Select: the sweep's winner, from every trial's record in the run folder.

Reads ``train-trial/<id>/trial.json`` for each trial ``suggest`` drew (never one aggregated
parameter: a large one breaks the pod's environment). A pruned trial counted as a success of its
step; a failed trial (bad hyperparameters, 65) or one that left no record (its retries spent)
did not. Fewer successes than ``--min-success-ratio`` of the trials is bad input (65) with one line
naming the failed trials. The winner is the completed trial with the best validation AUC, ties
going to fewer epochs, then the lower trial id. The parent MLflow run gets the table of trials,
a parallel-coordinates plot, the winner's id and AUC; the winner's run is tagged. Outputs the
winner's run id and model URI for ``evaluate``.
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import Field

from steps.contract import StepParams, StepResult, earlier_result, log, run_step
from steps.errors import BadInput
from steps.sweep_study import read_record


class SelectParams(StepParams):
    """Pick the sweep's best completed trial; fail when too few trials succeeded."""

    min_success_ratio: float = Field(
        0.75, ge=0, le=1, description="share of trials that must complete or be pruned (not fail)"
    )


class SelectResult(StepResult):
    run_id: str
    model_uri: str
    trial_id: int
    best_val_auc: float
    completed: int
    pruned: int
    failed: int


def trial_rows(run_dir: str, trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per drawn trial: its values, and how it ended (``lost`` when it left no record)."""
    rows = []
    for trial in trials:
        record = read_record(run_dir, trial["id"]) or {
            "status": "lost",
            "error": "no record: its retries ran out",
        }
        rows.append({**trial, **{k: v for k, v in record.items() if k != "trial_id"}})
    return rows


def winner(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The best completed trial: highest validation AUC, then fewer epochs, then the lower id."""
    completed = [r for r in rows if r["status"] == "completed"]
    return min(completed, key=lambda r: (-r["best_val_auc"], r["epochs_run"], r["id"])) if completed else None


def check_enough(rows: list[dict[str, Any]], min_ratio: float) -> None:
    failed = [r for r in rows if r["status"] not in ("completed", "pruned")]
    succeeded = len(rows) - len(failed)
    if succeeded < min_ratio * len(rows):
        first = failed[0]
        raise BadInput(
            f"only {succeeded} of {len(rows)} trials succeeded ({succeeded / len(rows):.2f} < "
            f"min-success-ratio {min_ratio:.2f}); failed: {', '.join(str(r['id']) for r in failed)} "
            f"(trial {first['id']}: {first.get('error', first['status'])})"
        )


def coordinates_figure(rows: list[dict[str, Any]]):
    """Trials as lines across their (scaled) hyperparameters and validation AUC, coloured by outcome."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd
    from pandas.plotting import parallel_coordinates

    frame = pd.DataFrame(rows)
    frame = frame[frame["status"].isin(["completed", "pruned"])]
    frame["log10 lr"] = np.log10(frame["lr"])
    frame["layers"] = frame["hidden-sizes"].astype("category").cat.codes
    columns = ["log10 lr", "batch-size", "layers", "dropout", "weight-decay", "epochs_run", "best_val_auc"]
    scaled = frame[columns].astype(float)
    spread = (scaled.max() - scaled.min()).replace(0, 1)
    scaled = (scaled - scaled.min()) / spread
    scaled["status"] = frame["status"].to_numpy()
    figure, axes = plt.subplots(figsize=(9, 4))
    parallel_coordinates(scaled, "status", cols=columns, ax=axes, color=["tab:green", "tab:grey"], alpha=0.7)
    axes.set_title("trials (each axis scaled to its range)")
    return figure


def log_sweep(settings, parent_run_id: str, rows: list[dict[str, Any]], best: dict[str, Any]) -> None:
    import pandas as pd

    from steps.tracking import as_metrics, as_tags, connect, tracking_errors

    counts = {s: sum(r["status"] == s for r in rows) for s in ("completed", "pruned")}
    with tracking_errors("logging the sweep's table"):
        client = connect(settings)
        client.log_table(parent_run_id, pd.DataFrame(rows), "sweep/trials.json")
        client.log_figure(parent_run_id, coordinates_figure(rows), "sweep/parallel_coordinates.png")
        metrics = {
            "best_val_auc": best["best_val_auc"],
            "trials_completed": counts["completed"],
            "trials_pruned": counts["pruned"],
            "trials_failed": len(rows) - sum(counts.values()),
            "train_seconds": sum(r.get("train_seconds") or 0 for r in rows),
        }
        winner_tags = {"mlops.sweep_winner_trial": str(best["id"]), "mlops.sweep_winner_run": best["run_id"]}
        client.log_batch(parent_run_id, metrics=as_metrics(metrics, 0), tags=as_tags(winner_tags))
        client.set_tag(best["run_id"], "mlops.sweep_winner", "true")


def select(params: SelectParams, settings) -> SelectResult:
    """The winner's run and model, after checking enough trials succeeded."""
    sweep = earlier_result(params.run_dir, "suggest")
    rows = trial_rows(params.run_dir, sweep["trials"])
    check_enough(rows, params.min_success_ratio)
    best = winner(rows)
    if best is None:
        raise BadInput(f"none of the {len(rows)} trials completed (all pruned or failed): nothing to select")
    log_sweep(settings, sweep["parent_run_id"], rows, best)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("completed", "pruned")}
    log(
        "select",
        f"trial {best['id']} wins: val_auc {best['best_val_auc']} in {best['epochs_run']} epochs "
        f"({counts['completed']} completed, {counts['pruned']} pruned, {len(rows) - sum(counts.values())} failed)",
    )
    return SelectResult(
        run_id=best["run_id"],
        model_uri=best["model_uri"],
        trial_id=best["id"],
        best_val_auc=best["best_val_auc"],
        completed=counts["completed"],
        pruned=counts["pruned"],
        failed=len(rows) - sum(counts.values()),
    )


def main(argv: list[str] | None = None) -> None:
    run_step("select", SelectParams, select, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
