"""kill -9 of train mid-run, then run again: it resumes from the checkpoint and ends the same."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT, local_env, run_step

pytestmark = pytest.mark.e2e
# --device cpu: the digests compared must not depend on whether a GPU is visible
TRAIN_ARGS = ["--epochs", "6", "--patience", "10", "--batch-size", "32", "--seed", "5", "--device", "cpu"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Data ingested and featurised once; each training copies this run folder."""
    from workflows.local.sample_data import generate, write_partitions

    root = tmp_path_factory.mktemp("resume")
    write_partitions(generate(12_000, seed=5), str(root / "data"), 2)
    env = local_env(root)
    base = root / "base"
    for step, args in (
        ("ingest", ["--data-uri", str(root / "data")]),
        ("validate_data", []),
        ("features", []),
    ):
        done = run_step(step, "--run-dir", str(base), *args, env=env)
        assert done.returncode == 0, done.stderr
    return root, base, env


def train_until(run_dir, env: dict[str, str], line_start: str, signal_number: int) -> subprocess.Popen:
    """Start train as a subprocess and send it a signal once it logs a line starting ``line_start``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "steps.train", "--run-dir", str(run_dir), *TRAIN_ARGS],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT,
        env=os.environ | env | {"MLOPS_OUTPUTS_DIR": str(run_dir / "outputs")},
    )  # fmt: skip
    for line in process.stderr:
        if line.startswith(line_start):
            process.send_signal(signal_number)
            break
    return process


def test_killed_train_resumes_and_matches_an_uninterrupted_run(prepared):
    root, base, env = prepared
    straight, killed = root / "straight", root / "killed"
    shutil.copytree(base, straight)
    shutil.copytree(base, killed)

    uninterrupted = run_step("train", "--run-dir", str(straight), *TRAIN_ARGS, env=env)
    assert uninterrupted.returncode == 0, uninterrupted.stderr

    process = train_until(killed, env, "[train] epoch 2/", signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    run_id_before = json.loads((killed / "train" / "mlflow-run.json").read_text())["run_id"]

    resumed = run_step("train", "--run-dir", str(killed), *TRAIN_ARGS, env=env)
    assert resumed.returncode == 0, resumed.stderr
    epoch = int(re.search(r"resumed from epoch (\d+)", resumed.stderr).group(1))
    assert 2 <= epoch < 6
    assert resumed.result["resumed_from_epoch"] == epoch
    assert resumed.result["run_id"] == run_id_before  # the same MLflow run, not a second one
    for key in ("weights_digest", "best_val_auc", "best_epoch", "epochs_run"):
        assert resumed.result[key] == uninterrupted.result[key], key


def test_sigterm_saves_and_exits_transient(prepared):
    root, base, env = prepared
    folder = root / "terminated"
    shutil.copytree(base, folder)
    process = train_until(folder, env, "[train] epoch 1/", signal.SIGTERM)
    rest = process.stderr.read()
    process.wait(timeout=60)
    assert process.returncode == 75, rest
    assert "stopped by SIGTERM" in rest
    assert (folder / "train" / "checkpoint.pt").exists()
