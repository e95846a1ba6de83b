"""`mlops drift` on a drifted window that holds one class (a window of fault data): what the retrain
learns from (``retrain-data``), and that a child refusing its data is not created twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import ROOT
from workflows.local.sample_data import generate, write_partitions

pytestmark = pytest.mark.e2e
WINDOW_ROWS = 400


def mlops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workflows.cli", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=900, check=False,
    )  # fmt: skip


def run_record(env: dict[str, str], name: str) -> dict:
    return json.loads((Path(env["MLOPS_STORAGE_ROOT"]) / "runs" / name / "run.json").read_text())


def started(env: dict[str, str], output: str) -> dict:
    """The record of the run ``mlops`` reports it started."""
    return run_record(
        env, next(line.split()[1] for line in output.splitlines() if line.startswith("running "))
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory, sample_data) -> dict:
    """A champion trained by the training workflow on ``sample_data``, and a drifted window after its
    period that holds only frauds."""
    root = tmp_path_factory.mktemp("drift-retrain")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_") and k != "MLFLOW_TRACKING_URI"}
    env |= {"MLOPS_STORAGE_ROOT": str(root / ".mlops"), "MLOPS_DATA_URI": str(sample_data), "COLUMNS": "200"}
    first = mlops(env, "run", "training", "-p", "epochs=6", "-p", "batch-size=128")
    assert first.returncode == 0, first.stdout + first.stderr
    drifted = generate(WINDOW_ROWS * 40, seed=41, drift=1.0, start="2026-04-01", days=7)
    window = drifted[drifted["target"] == 1].head(WINDOW_ROWS)
    assert len(window) == WINDOW_ROWS
    write_partitions(window, str(root / "faults"), 2)
    return {"env": env, "window": str(root / "faults")}


def test_on_the_window_alone_the_child_refuses_it_once(world):
    done = mlops(world["env"], "drift", "--current-uri", world["window"], "-p", "retrain-data=current")
    assert done.returncode != 0, done.stdout
    run = started(world["env"], done.stdout)
    assert run["nodes"]["drift"]["phase"] == "Succeeded" and "drift: DRIFT" in done.stdout
    assert run["nodes"]["retrain-data"]["phase"] == "Succeeded"
    retrain = run["nodes"]["start-retrain"]
    assert retrain["phase"] == "Failed" and len(retrain["attempts"]) == 1 and len(retrain["children"]) == 1
    assert (
        "failure condition 'status.phase in (Error,Failed)' evaluated true"
        in retrain["attempts"][0]["message"]
    )
    child = run_record(world["env"], retrain["children"][0])
    assert child["parameters"]["data-uri"].endswith("load-current/current.parquet")
    validate = child["nodes"]["validate-data"]
    assert child["phase"] == "Failed" and validate["phase"] == "Failed"
    assert [a["exit_code"] for a in validate["attempts"]] == [65]
    assert "has only class 1" in Path(validate["attempts"][0]["log"]).read_text()


def test_by_default_the_retrain_learns_from_the_champions_data_plus_the_window(world, sample_data):
    done = mlops(world["env"], "drift", "--current-uri", world["window"])
    assert done.returncode == 0, done.stdout + done.stderr
    run = started(world["env"], done.stdout)
    assembled = json.loads((Path(run["run_dir"]) / "retrain-data" / "result.json").read_text())
    assert assembled["source"] == "reference+current" and assembled["reference_uri"] == str(sample_data)
    assert assembled["current_rows"] == WINDOW_ROWS
    reference = pd.concat(pd.read_parquet(p) for p in sorted(sample_data.glob("*.parquet")))
    assert assembled["rows"] == len(reference.drop_duplicates()) + WINDOW_ROWS
    retrain = run["nodes"]["start-retrain"]
    assert retrain["phase"] == "Succeeded" and len(retrain["attempts"]) == 1
    child = run_record(world["env"], retrain["children"][0])
    assert child["phase"] == "Succeeded" and child["template"] == "training"
    assert child["parameters"]["data-uri"] == assembled["uri"]
    assert assembled["uri"].endswith("retrain-data/retrain.parquet")
    ingested = json.loads((Path(child["run_dir"]) / "ingest" / "result.json").read_text())
    assert ingested["rows_out"] == assembled["rows"]
    assert child["nodes"]["validate-data"]["phase"] == "Succeeded"
