"""Ctrl-C during `mlops run training`: train stops with its checkpoint, notify runs, the run is a
resumable `Failed`, nothing is left running, and `mlops run --resume` finishes it from the checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.local.test_stop_run import Output, end_all, gone, starter_of, wait_until_gone
from workflows.local import stop as local_stop

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def bigger(tmp_path_factory) -> Path:
    from workflows.local.sample_data import generate, write_partitions

    # Enough rows that an epoch takes a second or more: train is still running when the test freezes it.
    out = tmp_path_factory.mktemp("bigger") / "data"
    write_partitions(generate(40_000, seed=3), str(out), 2)
    return out


@pytest.fixture
def cleanup():
    marks: list[str] = []
    yield marks
    for mark in marks:
        end_all(mark)


def train_attempt(runs: Path) -> dict | None:
    """train's running attempt once its log shows a finished epoch (so a checkpoint exists)."""
    for path in runs.glob("*/run.json"):
        attempts = json.loads(path.read_text())["nodes"]["train"]["attempts"]
        if attempts and attempts[-1].get("pid") and attempts[-1].get("log"):
            log = Path(attempts[-1]["log"])
            if log.exists() and "[train] epoch 1/" in log.read_text():
                return attempts[-1]
    return None


def test_ctrl_c_stops_training_keeps_the_checkpoint_and_resume_finishes_it(tmp_path, bigger, cleanup):
    mark = uuid.uuid4().hex
    cleanup.append(mark)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_") and k != "MLFLOW_TRACKING_URI"}
    env |= {"MLOPS_STORAGE_ROOT": str(tmp_path / ".mlops"), "MLOPS_TEST_RUN_MARK": mark, "COLUMNS": "200"}
    runs = tmp_path / ".mlops" / "runs"
    process = subprocess.Popen(
        [sys.executable, "-m", "workflows.cli", "run", "training", "-p", f"data-uri={bigger}",
         "-p", "epochs=3", "-p", "batch-size=32", "-p", "min-auc=0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
        start_new_session=True,
    )  # fmt: skip
    output = Output(process)
    deadline = time.monotonic() + 600
    while (attempt := train_attempt(runs)) is None:
        assert process.poll() is None and time.monotonic() < deadline, output.text
        time.sleep(0.02)
    # The test drives the timing: train is frozen after its first checkpoint, Ctrl-C is pressed, and
    # train is thawed once the CLI says it sent SIGTERM, which train then finds waiting.
    os.kill(attempt["pid"], signal.SIGSTOP)
    starter = starter_of(mark, process.pid)
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal
    try:
        output.wait_for("stopping")
    finally:
        os.kill(attempt["pid"], signal.SIGCONT)
    output = output.all(300)

    assert process.returncode == 128 + signal.SIGINT, output
    [record_path] = runs.glob("*/run.json")
    run = json.loads(record_path.read_text())
    assert (run["phase"], run["message"]) == ("Failed", local_stop.STOP_MESSAGE)
    train = run["nodes"]["train"]
    assert (train["phase"], train["attempts"][-1]["exit_code"]) == ("Failed", 75), output
    assert len(train["attempts"]) == 1  # a stopped step is not retried
    assert (Path(run["run_dir"]) / "train" / "checkpoint.pt").exists()
    assert {run["nodes"][n]["phase"] for n in ("evaluate", "register", "promote", "deploy")} == {"Omitted"}
    assert run["exit_handler"]["phase"] == "Succeeded"
    summary = json.loads((Path(run["run_dir"]) / "notify" / "summary.json").read_text())
    assert summary["status"] == "Failed"
    assert "train: error: stopped by SIGTERM" in output
    assert f"log: {train['attempts'][-1]['log']}" in output
    assert f"mlops run training --resume {run['name']}" in output
    assert wait_until_gone(mark) == {}
    assert gone(attempt["pid"]) and gone(starter)

    resumed = subprocess.run(
        [sys.executable, "-m", "workflows.cli", "run", "training", "--resume", run["name"]],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600, check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = json.loads(record_path.read_text())
    assert after["phase"] == "Succeeded" and after["nodes"]["deploy"]["phase"] in ("Succeeded", "Skipped")
    assert "resumed from epoch" in Path(after["nodes"]["train"]["attempts"][-1]["log"]).read_text()
    assert wait_until_gone(mark) == {}
