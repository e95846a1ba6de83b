"""The tracking server dies during `train` and comes back on the same port and database.

`train` either rides it out (MLflow's client retries) or exits 75 and its retry resumes from the
checkpoint; every epoch's metrics end up in the one MLflow run, and a version is registered only
for a run whose metrics are all there. With the server down, `register` exits 75 and registers
nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from mlflow import MlflowClient

from tests.conftest import ROOT, free_port, run_step, start_mlflow, stop_mlflow

pytestmark = [pytest.mark.e2e, pytest.mark.faults]
TRAIN_ARGS = ["--epochs", "8", "--patience", "20", "--batch-size", "64", "--seed", "6"]
# Fail fast instead of MLflow's default of 7 retries with exponential backoff (minutes).
QUICK_CLIENT = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}


def test_train_survives_a_tracking_server_restart(tmp_path, sample_data):
    home = tmp_path / "mlflow"
    home.mkdir()
    port = free_port()
    server = start_mlflow(home, port)
    env = QUICK_CLIENT | {
        "MLFLOW_TRACKING_URI": server.url,
        "MLOPS_STORAGE_ROOT": str(tmp_path / ".mlops"),
        "MLOPS_MODEL_NAME": "restarted",
        "MLOPS_EXPERIMENT": "restarted",
    }
    run_dir = tmp_path / "run"
    for step, args in (("ingest", ["--data-uri", str(sample_data)]), ("validate_data", []), ("features", [])):
        assert run_step(step, "--run-dir", str(run_dir), *args, env=env).returncode == 0

    train = subprocess.Popen(
        [sys.executable, "-m", "steps.train", "--run-dir", str(run_dir), *TRAIN_ARGS],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT,
        env=os.environ | env | {"MLOPS_OUTPUTS_DIR": str(tmp_path / "outputs")},
    )  # fmt: skip
    for line in train.stderr:
        if line.startswith("[train] epoch 2/"):
            stop_mlflow(server, signal.SIGKILL)  # the server dies mid-training
            break
    time.sleep(3)
    server = start_mlflow(home, port)  # and comes back on the same port and database
    rest = train.stderr.read()
    train.wait(timeout=300)
    try:
        assert train.returncode in (0, 75), rest
        attempts = [train.returncode]
        while attempts[-1] == 75 and len(attempts) < 4:  # the executor's retries
            retried = run_step("train", "--run-dir", str(run_dir), *TRAIN_ARGS, env=env)
            attempts.append(retried.returncode)
        assert attempts[-1] == 0, attempts
        result = run_step(
            "train", "--run-dir", str(run_dir), *TRAIN_ARGS, env=env
        ).result  # done: a no-op rerun
        client = MlflowClient(server.url)
        steps = {m.step for m in client.get_metric_history(result["run_id"], "val_auc")}
        assert steps >= set(range(1, result["epochs_run"] + 1)), (attempts, sorted(steps))
        assert len(client.search_runs([client.get_experiment_by_name("restarted").experiment_id])) == 1

        assert run_step("evaluate", "--run-dir", str(run_dir), "--min-auc", "0.5", env=env).returncode == 0
        stop_mlflow(server)
        down = run_step("register", "--run-dir", str(run_dir), env=env)
        assert down.returncode == 75, down.stderr
        assert "tracking server unavailable" in down.stderr
        server = start_mlflow(home, port)
        assert client.search_model_versions("name = 'restarted'") == []
        registered = run_step("register", "--run-dir", str(run_dir), env=env)
        assert registered.returncode == 0, registered.stderr
        [version] = client.search_model_versions("name = 'restarted'")
        run = client.get_run(version.run_id)
        assert "best_val_auc" in run.data.metrics and "test_roc_auc" in run.data.metrics, sorted(
            run.data.metrics
        )
    finally:
        stop_mlflow(server)
