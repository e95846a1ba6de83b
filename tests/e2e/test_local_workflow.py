"""`mlops run training`: the compiled workflow on the local executor, end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e
FAST = ["-p", "epochs=6", "-p", "batch-size=128"]


def mlops(env: dict[str, str], *args: str, timeout: float = 400) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workflows.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def local(tmp_path, sample_data) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_") and k != "MLFLOW_TRACKING_URI"}
    return env | {
        "MLOPS_STORAGE_ROOT": str(tmp_path / ".mlops"),
        "MLOPS_DATA_URI": str(sample_data),
        "MLOPS_CACHE": "off",  # each run trains (a cached rerun: tests/e2e/test_cached_retrain.py)
        "COLUMNS": "200",
    }


def record(env: dict[str, str], output: str) -> dict:
    name = next(line.split()[1] for line in output.splitlines() if line.startswith(("running ", "resuming ")))
    return json.loads((Path(env["MLOPS_STORAGE_ROOT"]) / "runs" / name / "run.json").read_text())


def champion(env: dict[str, str]) -> str | None:
    """The champion's version, or None when the model has none (an unreadable registry fails the test)."""
    client = MlflowClient(f"sqlite:///{env['MLOPS_STORAGE_ROOT']}/mlflow.db")
    models = client.search_registered_models("name = 'fraud-detector'")
    aliases = models[0].aliases if models else {}
    return str(aliases["champion"]) if "champion" in aliases else None


def test_run_registers_a_champion_then_a_challenger_with_the_reason(local):
    first = mlops(local, "run", "training", *FAST)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "model: promote (test AUC" in first.stdout and "no champion yet" in first.stdout
    assert champion(local) == "1"
    assert "deployed: commit " in first.stdout
    assert "registered version 1: the challenger, promoted to champion" in first.stdout
    log = subprocess.run(
        ["git", "--git-dir", f"{local['MLOPS_STORAGE_ROOT']}/gitops.git", "log", "--format=%s"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert log.splitlines()[0].startswith("Deploy fraud-detector version 1 (run training-")
    second = mlops(local, "run", "training", *FAST, "-p", "min-delta=0.05")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "model: reject (test AUC" in second.stdout and "+ min-delta 0.0500" in second.stdout
    assert "registered version 2 as challenger; champion is version 1" in second.stdout
    nodes = record(local, second.stdout)["nodes"]
    assert nodes["promote"]["phase"] == "Skipped" and nodes["register"]["phase"] == "Succeeded"
    # Warm starts on by default: once the starter had its libraries, the steps were forked from it.
    assert nodes["register"]["attempts"][0]["warm"] and nodes["evaluate"]["attempts"][0]["warm"]
    assert nodes["deploy"]["phase"] == "Skipped"
    assert champion(local) == "1"


def test_kill_9_of_train_is_retried_and_resumes_from_its_checkpoint(local, tmp_path):
    from workflows.local.sample_data import generate, write_partitions

    # Enough rows that an epoch takes a second or so: long enough to be interrupted.
    write_partitions(generate(40_000, seed=3), str(tmp_path / "bigger"), 2)
    process = subprocess.Popen(
        [sys.executable, "-m", "workflows.cli", "run", "training", "-p", f"data-uri={tmp_path / 'bigger'}",
         "-p", "epochs=8", "-p", "batch-size=16", "-p", "min-auc=0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=local, cwd=ROOT,
    )  # fmt: skip
    runs = Path(local["MLOPS_STORAGE_ROOT"]) / "runs"
    deadline = time.monotonic() + 300
    killed = None
    while killed is None and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
        for run_json in runs.glob("*/run.json"):
            train = json.loads(run_json.read_text())["nodes"]["train"]
            log = Path(train["attempts"][0]["log"]) if train["attempts"] else None
            if log and log.exists() and "[train] epoch 2/" in log.read_text():
                killed = train["attempts"][0]["pid"]
                os.kill(killed, signal.SIGKILL)
    output, _ = process.communicate(timeout=400)
    assert killed, output
    assert process.returncode == 0, output
    train = record(local, output)["nodes"]["train"]
    assert [a["phase"] for a in train["attempts"]] == ["Error", "Succeeded"]
    assert train["attempts"][0]["message"] == "killed by signal 9"
    assert "resumed from epoch" in Path(train["attempts"][1]["log"]).read_text()


def test_a_bad_data_uri_fails_at_ingest_without_retry_and_notify_still_runs(local, tmp_path):
    first = mlops(local, "run", "training", *FAST)
    assert first.returncode == 0, first.stdout
    before = champion(local)
    bad = mlops(local, "run", "training", "-p", f"data-uri={tmp_path / 'nothing-here'}")
    assert bad.returncode == 65, bad.stdout
    run = record(local, bad.stdout)
    assert run["phase"] == "Failed"
    assert len(run["nodes"]["ingest"]["attempts"]) == 1
    assert run["exit_handler"]["phase"] == "Succeeded"
    summary = json.loads((Path(run["run_dir"]) / "notify" / "summary.json").read_text())
    assert summary["status"] == "Failed"
    assert summary["failures"][0]["step"] == "ingest"
    assert summary["failures"][0]["first_error"].endswith("nothing-here: does not exist")
    assert champion(local) == before


def evaluate_sees_min_auc_unchecked(folder: Path) -> Path:
    """The training manifest with evaluate's min-auc fed through an argument `-p` checking cannot follow
    (a reference plus text), so a bad value reaches evaluate: a fault planted in the middle of the DAG."""
    import yaml

    doc = yaml.safe_load((ROOT / "manifests" / "training.yaml").read_text())
    (dag,) = [t for t in doc["spec"]["templates"] if t["name"] == "training"]
    (evaluate,) = [t for t in dag["dag"]["tasks"] if t["name"] == "evaluate"]
    for argument in evaluate["arguments"]["parameters"]:
        if argument["name"] == "min-auc":
            argument["value"] = "{{workflow.parameters.min-auc}}0"
    path = folder / "training-planted.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_resume_reruns_only_what_did_not_succeed(local, tmp_path):
    manifest = str(evaluate_sees_min_auc_unchecked(tmp_path))
    failed = mlops(local, "run", manifest, *FAST, "-p", "min-auc=1.5")  # evaluate refuses 1.50
    assert failed.returncode == 65, failed.stdout
    run = record(local, failed.stdout)
    assert run["nodes"]["evaluate"]["phase"] == "Failed"
    kept = {name: run["nodes"][name]["attempts"] for name in ("ingest", "validate-data", "features", "train")}

    resumed = mlops(local, "run", manifest, "--resume", run["name"], "-p", "min-auc=0.5")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = record(local, resumed.stdout)
    assert after["name"] == run["name"] and after["phase"] == "Succeeded"
    for name, attempts in kept.items():
        assert after["nodes"][name]["reused"] is True
        assert after["nodes"][name]["attempts"] == attempts
    assert (
        after["nodes"]["evaluate"]["phase"] == "Succeeded"
        and after["nodes"]["promote"]["phase"] == "Succeeded"
    )
    again = mlops(local, "run", manifest, "--resume", run["name"])
    assert again.returncode == 65 and "already succeeded" in again.stderr


def versions(env: dict[str, str]) -> int:
    client = MlflowClient(f"sqlite:///{env['MLOPS_STORAGE_ROOT']}/mlflow.db")
    return len(client.search_model_versions("name = 'fraud-detector'"))


@pytest.fixture(scope="module")
def incoming(tmp_path_factory) -> Path:
    from workflows.local.sample_data import generate, write_partitions

    root = tmp_path_factory.mktemp("incoming")
    write_partitions(generate(6000, seed=31, start="2026-04-01"), str(root / "steady"), 2)
    write_partitions(generate(6000, seed=31, drift=1.0, start="2026-04-01"), str(root / "drifted"), 2)
    return root


def test_drift_workflow_retrains_only_when_the_data_drifted(local, incoming):
    assert mlops(local, "run", "training", *FAST).returncode == 0
    calm = mlops(local, "drift", "--current-uri", str(incoming / "steady"))
    assert calm.returncode == 0, calm.stdout + calm.stderr
    assert "drift: no drift" in calm.stdout
    assert record(local, calm.stdout)["nodes"]["start-retrain"]["phase"] == "Skipped"
    assert versions(local) == 1

    hot = mlops(local, "drift", "--current-uri", str(incoming / "drifted"))
    assert hot.returncode == 0, hot.stdout + hot.stderr
    assert "drift: DRIFT" in hot.stdout
    run = record(local, hot.stdout)
    retrain = run["nodes"]["start-retrain"]
    assert retrain["phase"] == "Succeeded" and len(retrain["children"]) == 1
    child = json.loads(
        (Path(local["MLOPS_STORAGE_ROOT"]) / "runs" / retrain["children"][0] / "run.json").read_text()
    )
    assert child["phase"] == "Succeeded" and child["template"] == "training"
    assert child["parameters"]["data-uri"].endswith("retrain-data/retrain.parquet")
    assert versions(local) == 2
    # Not just "started": what the retrain decided, from its own notify summary.
    assert f"  {child['name']}: Succeeded" in hot.stdout
    assert f"  {child['name']}: model: " in hot.stdout
    assert f"  {child['name']}: registered version 2" in hot.stdout
    html = (Path(run["run_dir"]) / "drift" / "report.html").read_text()
    assert "amount" in html


def test_drift_without_a_champion_fails_clearly_and_retrains_nothing(local, incoming):
    done = mlops(local, "drift", "--current-uri", str(incoming / "drifted"))
    assert done.returncode == 65, done.stdout
    nodes = record(local, done.stdout)["nodes"]
    assert nodes["drift"]["phase"] == "Failed" and len(nodes["drift"]["attempts"]) == 1
    assert nodes["start-retrain"]["attempts"] == []
    log = Path(nodes["drift"]["attempts"][0]["log"]).read_text()
    assert "drift: error: model 'fraud-detector' has no champion" in log


def test_an_empty_window_fails_at_load_current_and_retrains_nothing(local, incoming):
    done = mlops(local, "drift", "--current-uri", str(incoming / "drifted"), "-p", "since=2031-01-01")
    assert done.returncode == 65, done.stdout
    nodes = record(local, done.stdout)["nodes"]
    assert nodes["load-current"]["phase"] == "Failed" and len(nodes["load-current"]["attempts"]) == 1
    assert nodes["drift"]["attempts"] == [] and nodes["start-retrain"]["attempts"] == []
    assert (
        "no rows between 2031-01-01 and the end"
        in Path(nodes["load-current"]["attempts"][0]["log"]).read_text()
    )
