"""Preemption: train killed (SIGKILL) or reclaimed (SIGTERM) at random points, several seeds.

Each interrupted training is run again, as the executor's retry would, until it succeeds; it
must resume from its checkpoint and end with the weights and metrics of an uninterrupted run,
in the same MLflow run, with no second run and no duplicate model version. One run goes through
the local executor itself, which retries the killed task by the template's retry strategy.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import ROOT, local_env, run_step

pytestmark = [pytest.mark.e2e, pytest.mark.faults]
# --device cpu: the digests compared must not depend on whether a GPU is visible
TRAIN_ARGS = ["--epochs", "6", "--patience", "10", "--batch-size", "64", "--seed", "3", "--device", "cpu"]
SEEDS = (11, 23, 37)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """Data ingested and featurised once, and an uninterrupted training of it."""
    from workflows.local.sample_data import generate, write_partitions

    root = tmp_path_factory.mktemp("preemption")
    write_partitions(generate(8_000, seed=3), str(root / "data"), 2)
    env = local_env(root) | {"MLOPS_EXPERIMENT": "preemption"}
    base = root / "base"
    for step, args in (
        ("ingest", ["--data-uri", str(root / "data")]),
        ("validate_data", []),
        ("features", []),
    ):
        done = run_step(step, "--run-dir", str(base), *args, env=env)
        assert done.returncode == 0, done.stderr
    straight = root / "straight"
    shutil.copytree(base, straight)
    uninterrupted = run_step("train", "--run-dir", str(straight), *TRAIN_ARGS, env=env)
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    return root, base, env, uninterrupted.result


def interrupt(run_dir: Path, env: dict[str, str], rng: random.Random) -> tuple[int, str]:
    """Start train; at a random epoch and a random moment in it, send SIGKILL or SIGTERM."""
    sig = rng.choice([signal.SIGKILL, signal.SIGTERM])
    epoch, delay = rng.randint(1, 4), rng.uniform(0.0, 0.4)
    process = subprocess.Popen(
        [sys.executable, "-m", "steps.train", "--run-dir", str(run_dir), *TRAIN_ARGS],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT,
        env=os.environ | env | {"MLOPS_OUTPUTS_DIR": str(run_dir / "outputs")},
    )  # fmt: skip
    for line in process.stderr:
        if line.startswith(f"[train] epoch {epoch}/"):
            threading.Timer(delay, process.send_signal, (sig,)).start()
            break
    process.stderr.read()
    process.wait(timeout=120)
    return process.returncode, sig.name


def runs_in(env: dict[str, str]) -> int:
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("preemption")
    return len(client.search_runs([experiment.experiment_id])) if experiment else 0


@pytest.mark.parametrize("seed", SEEDS)
def test_interrupted_training_resumes_to_the_uninterrupted_result(prepared, seed):
    root, base, env, expected = prepared
    run_dir = root / f"seed-{seed}"
    shutil.copytree(base, run_dir)
    runs_before = runs_in(env)

    code, sent = interrupt(run_dir, env, random.Random(seed))
    if code == 0:  # the signal came after the last epoch; nothing to resume
        pytest.skip(f"{sent} arrived after training ended")
    assert code in (75, -signal.SIGKILL), (sent, code)  # SIGTERM: checkpoint saved, exit 75
    first_run = json.loads((run_dir / "train" / "mlflow-run.json").read_text())["run_id"]

    for _attempt in range(3):  # the executor's retries
        resumed = run_step("train", "--run-dir", str(run_dir), *TRAIN_ARGS, env=env)
        if resumed.returncode == 0:
            break
        assert resumed.returncode == 75, resumed.stderr
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.result["run_id"] == first_run
    for key in ("weights_digest", "best_val_auc", "best_epoch", "epochs_run"):
        assert resumed.result[key] == expected[key], (sent, key)
    assert runs_in(env) == runs_before + 1

    evaluate = run_step("evaluate", "--run-dir", str(run_dir), "--min-auc", "0.5", env=env)
    assert evaluate.returncode == 0, evaluate.stderr
    env_model = env | {"MLOPS_MODEL_NAME": f"preempted-{seed}"}
    versions = [run_step("register", "--run-dir", str(run_dir), env=env_model) for _ in range(2)]
    assert [v.returncode for v in versions] == [0, 0]
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    assert (
        len(client.search_model_versions(f"name = 'preempted-{seed}'")) == 1
    )  # a retried register adds none
    history = client.get_metric_history(first_run, "val_auc")
    assert {m.step for m in history} >= set(range(1, expected["epochs_run"] + 1))


def test_the_executor_retries_a_killed_train_from_its_checkpoint(tmp_path, sample_data):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_") and k != "MLFLOW_TRACKING_URI"}
    env |= {
        "MLOPS_STORAGE_ROOT": str(tmp_path / ".mlops"),
        "MLOPS_DATA_URI": str(sample_data),
        "COLUMNS": "200",
    }
    runs = tmp_path / ".mlops" / "runs"
    process = subprocess.Popen(
        [sys.executable, "-m", "workflows.cli", "run", "training", "-p", "epochs=6", "-p", "batch-size=64"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    killed = None
    deadline = time.monotonic() + 300
    while killed is None and time.monotonic() < deadline and process.poll() is None:
        for record_path in runs.glob("*/run.json"):
            record = json.loads(record_path.read_text())
            train = record["nodes"].get("train") or {}
            attempts = train.get("attempts") or []
            log = Path(attempts[-1]["log"]) if attempts and attempts[-1].get("log") else None
            if attempts and attempts[-1].get("pid") and log and "epoch 2/" in log.read_text(errors="replace"):
                os.kill(attempts[-1]["pid"], signal.SIGKILL)
                killed = attempts[-1]["pid"]
        time.sleep(0.2)
    output, _ = process.communicate(timeout=600)
    assert killed, output
    assert process.returncode == 0, output
    [record_path] = runs.glob("*/run.json")
    train = json.loads(record_path.read_text())["nodes"]["train"]
    assert [a["exit_code"] for a in train["attempts"]] == [137, 0]
    assert "resumed from epoch" in Path(train["attempts"][1]["log"]).read_text()
    client = MlflowClient(f"sqlite:///{tmp_path / '.mlops' / 'mlflow.db'}")
    assert len(client.search_model_versions("name = 'fraud-detector'")) == 1
