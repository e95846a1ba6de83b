"""`mlops run sweep`: 8 trials in 2 lanes on the local executor, end to end: every trial a child run
of the sweep's parent in MLflow, some pruned, the best registered with its lineage, and a second
run with the same seed drawing the same trials, pruning the same ones and picking the same winner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e
SPACE = {
    "lr": {"low": 0.0001, "high": 0.05, "log": True},
    "batch-size": [64, 128, 256],
    "hidden-sizes": ["32", "64,32"],
    "dropout": {"low": 0.0, "high": 0.3},
    "epochs": 4,
}
SWEEP = [
    "-p",
    "trials=8",
    "-p",
    "parallelism=2",
    "-p",
    f"search-space={json.dumps(SPACE)}",
    "-p",
    "min-auc=0.5",
]


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> dict[str, str]:
    from workflows.local.sample_data import generate, write_partitions

    root = tmp_path_factory.mktemp("sweep")
    write_partitions(generate(3000, seed=11), str(root / "data"), 2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_") and k != "MLFLOW_TRACKING_URI"}
    return env | {
        "MLOPS_STORAGE_ROOT": str(root / ".mlops"),
        "MLOPS_DATA_URI": str(root / "data"),
        "MLOPS_CACHE": "off",
        "COLUMNS": "200",
    }


def sweep(env: dict[str, str]) -> Path:
    """Run the sweep; returns its run folder."""
    done = subprocess.run(
        [sys.executable, "-m", "workflows.cli", "run", "sweep", *SWEEP],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=400, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    name = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("running "))
    return Path(env["MLOPS_STORAGE_ROOT"]) / "runs" / name


def result(run_dir: Path, step: str) -> dict:
    return json.loads((run_dir / step / "result.json").read_text())


def outcomes(run_dir: Path) -> dict[int, str]:
    trials = result(run_dir, "suggest")["trials"]
    return {t["id"]: json.loads((run_dir / "train-trial" / str(t["id"]) / "trial.json").read_text())["status"]
            for t in trials}  # fmt: skip


def test_a_sweep_prunes_registers_the_best_and_repeats_for_the_same_seed(local):
    first = sweep(local)
    client = MlflowClient(f"sqlite:///{local['MLOPS_STORAGE_ROOT']}/mlflow.db")
    drawn, chosen = result(first, "suggest"), result(first, "select")
    parent = client.get_run(drawn["parent_run_id"])
    assert parent.data.tags["mlops.step"] == "sweep"
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'", max_results=100
    )
    assert sorted(int(r.data.tags["mlops.sweep_trial"]) for r in children) == list(range(8))
    ended = outcomes(first)
    pruned = {t for t, status in ended.items() if status == "pruned"}
    assert pruned and set(ended.values()) == {"completed", "pruned"}, ended
    for run in children:
        trial = int(run.data.tags["mlops.sweep_trial"])
        assert run.data.tags["mlops.pruned"] == str(trial in pruned).lower()
        epochs = client.get_metric_history(run.info.run_id, "val_auc")
        assert (
            len(epochs)
            == json.loads((first / "train-trial" / str(trial) / "trial.json").read_text())["epochs_run"]
        )
        assert ("mlops.model_uri" in run.data.tags) == (trial not in pruned)  # a pruned trial logs no model
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "sweep")}
    assert artifacts == {"sweep/trials.json", "sweep/parallel_coordinates.png"}
    assert parent.data.metrics["trials_pruned"] == len(pruned)

    version = client.get_model_version("fraud-detector", "1")
    assert version.run_id == chosen["run_id"]
    assert version.tags["mlops.sweep"] == drawn["study"]
    assert version.tags["mlops.sweep_trial"] == str(chosen["trial_id"])
    assert version.tags["mlops.sweep_parent_run"] == parent.info.run_id
    assert version.tags["mlops.data_fingerprint"] == result(first, "ingest")["fingerprint"]
    assert version.tags["mlops.workflow_name"] == first.name

    second = sweep(local)  # the same seed: the same draw, the same pruning, the same winner
    assert result(second, "suggest")["trials"] == drawn["trials"]
    assert outcomes(second) == ended
    assert result(second, "select")["trial_id"] == chosen["trial_id"]
    assert result(second, "select")["best_val_auc"] == chosen["best_val_auc"]
