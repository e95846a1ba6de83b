"""B9: a 16-trial `mlops run sweep` with median pruning against the same 16 trials without it.

Both sweeps draw the same trials (one seed) from the default search space, in 2 lanes, on one
dataset, each from an empty storage root. Figures: the trials' train-seconds (the epochs' training
time each trial records, summed) with pruning as a share of those without, and the winners'
validation AUC; the trial steps' whole wall (process start, data, MLflow, model logging: what a
GPU pod is billed) is shown beside. Target: >= 40% of the train-seconds saved, the pruned sweep's winner within 0.01
AUC of the unpruned one's. 100k rows, epochs capped at 12 (--quick: 2k rows, 4 trials, 3 epochs).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from bench.common import Outcome, arguments, data_dir, generate_data, mlops, report, run
from steps.sweep_space import DEFAULT_SPACE

SAVED_TARGET, AUC_TOLERANCE = 0.40, 0.01


def sweep(data: Path, trials: int, epochs: int, pruner: str) -> dict:
    """One sweep: its wall seconds, train-seconds, trials pruned, and winner."""
    space = json.dumps(DEFAULT_SPACE | {"epochs": epochs})
    with tempfile.TemporaryDirectory() as root:
        command = mlops("run", "sweep", "-p", f"data-uri={data}", "-p", f"trials={trials}", "-p", "parallelism=2",
                        "-p", f"search-space={space}", "-p", f"pruner={pruner}", "-p", "min-auc=0.5")  # fmt: skip
        wall = run(command, env={"MLOPS_STORAGE_ROOT": root, "MLOPS_CACHE": "off"})
        (folder,) = Path(root, "runs").iterdir()
        records = [json.loads(p.read_text()) for p in folder.glob("train-trial/*/trial.json")]
        chosen = json.loads((folder / "select" / "result.json").read_text())
        nodes = json.loads((folder / "run.json").read_text())["nodes"].values()
        pods = sum(
            a["duration_seconds"] or 0 for n in nodes if n["template"] == "train-trial" for a in n["attempts"]
        )
    return {
        "wall": wall,
        "pod_seconds": pods,
        "train_seconds": sum(r["train_seconds"] for r in records),
        "epochs": sum(r["epochs_run"] for r in records),
        "pruned": sum(r["status"] == "pruned" for r in records),
        "winner": chosen["trial_id"],
        "auc": chosen["best_val_auc"],
    }


def main() -> None:
    args = arguments(__doc__, repeats=1)
    rows, trials, epochs = (2_000, 4, 3) if args.quick else (100_000, 16, 12)
    data = generate_data(data_dir(f"rows-{rows}"), rows)
    plain = sweep(data, trials, epochs, "none")
    pruned = sweep(data, trials, epochs, "median")
    share = pruned["train_seconds"] / plain["train_seconds"]
    gap = plain["auc"] - pruned["auc"]
    print(f"B9 sweep: {trials} trials in 2 lanes, {rows:,} rows, epochs <= {epochs}; the same draw twice")
    for name, found in (("without pruning", plain), ("median pruning", pruned)):
        print(
            f"  {name:16s} wall {found['wall']:6.1f} s, trial pods {found['pod_seconds']:6.1f} s, "
            f"train {found['train_seconds']:7.2f} s over "
            f"{found['epochs']:3d} epochs, {found['pruned']:2d} pruned, winner trial {found['winner']} "
            f"(val AUC {found['auc']:.4f})"
        )
    print(f"  train-seconds saved: {1 - share:.1%}; winner's AUC gap {gap:+.4f}")
    report(
        Outcome(
            id="B9",
            what=f"sweep of {trials} trials, median pruning: train-seconds",
            baseline=f"{plain['train_seconds']:.2f} s unpruned",
            figure=f"{pruned['train_seconds']:.2f} s ({1 - share:.0%} saved), AUC gap {gap:+.4f}",
            ratio=share,
            target=f">= {SAVED_TARGET:.0%} saved, AUC within {AUC_TOLERANCE}",
            met=(1 - share >= SAVED_TARGET and gap <= AUC_TOLERANCE) if not args.quick else None,
            notes=f"trial pod-seconds {plain['pod_seconds']:.0f} -> {pruned['pod_seconds']:.0f}; "
            f"wall {plain['wall']:.0f} s -> {pruned['wall']:.0f} s",
        )
    )


if __name__ == "__main__":
    main()
