"""A run's cost where its model is looked at: metrics on the MLflow run its steps reported, tags on the
version its register step reported, in a real MLflow store (sqlite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from workflows.local.cost_tracking import cost_metrics, record_cost
from workflows.local.ledger import local_ledger, read_cost, write_cost
from workflows.local.record import Attempt, Node, RunRecord
from workflows.settings import load_settings


def step_attempt(
    run_dir: Path, module: str, seconds: float, phase: str = "Succeeded", code: int = 0
) -> Attempt:
    return Attempt(
        number=1, started_at="2026-11-22T10:00:00Z", finished_at="2026-11-22T10:01:00Z",
        duration_seconds=seconds, phase=phase, exit_code=code,
        command=["python", "-m", module, "--run-dir", str(run_dir)],
    )  # fmt: skip


def write(path: Path, value: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


@pytest.fixture
def trained_run(tmp_path, monkeypatch) -> tuple[Path, str, MlflowClient]:
    """A finished run's folder whose train step logged to an MLflow run and whose register step made version 1."""
    monkeypatch.setenv("MLOPS_STORAGE_ROOT", str(tmp_path / ".mlops"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = load_settings()
    client = MlflowClient(settings.tracking_uri, settings.tracking_uri)
    experiment = client.create_experiment("costs", artifact_location=settings.artifact_root)
    run_id = client.create_run(experiment).info.run_id
    client.create_registered_model("costed")
    client.create_model_version("costed", f"runs:/{run_id}/model", run_id=run_id)
    run_dir = tmp_path / ".mlops" / "runs" / "training-abc12"
    gpu = {"requests": {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}}
    doc = {
        "kind": "Workflow",
        "spec": {
            "templates": [
                {"name": "train", "container": {"resources": gpu}},
                {
                    "name": "register",
                    "container": {"resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                },
            ]
        },
    }
    run_dir.mkdir(parents=True)
    (run_dir / "workflow.yaml").write_text(yaml.safe_dump(doc))
    record = RunRecord(
        name=run_dir.name, uid="u", template="training", creation_timestamp="2026-11-22T10:00:00Z",
        parameters={}, run_dir=str(run_dir), phase="Succeeded", started_at="2026-11-22T10:00:00Z",
        nodes={
            "train": Node("train", "train", "Succeeded", attempts=[step_attempt(run_dir, "steps.train", 360.0)]),
            "register": Node(
                "register", "register", "Succeeded", attempts=[step_attempt(run_dir, "steps.register", 4.0)]
            ),
        },
    )  # fmt: skip
    (run_dir / "run.json").write_text(json.dumps(record.to_json()))
    write(run_dir / "train" / "result.json", {"run_id": run_id, "model_uri": "runs:/x/model"})
    write(
        run_dir / "train" / "usage.json",
        {"wall_seconds": 355.0, "cpu_seconds": 700.0, "peak_rss_mib": 2048.0},
    )
    write(
        run_dir / "register" / "result.json", {"model_name": "costed", "version": "1", "decision": "promote"}
    )
    write(
        run_dir / "register" / "usage.json", {"wall_seconds": 3.0, "cpu_seconds": 1.5, "peak_rss_mib": 300.0}
    )
    return run_dir, run_id, client


def test_the_cost_lands_on_the_mlflow_run_and_the_registered_version(trained_run):
    run_dir, run_id, client = trained_run
    settings = load_settings()
    ledger = local_ledger(run_dir, settings)
    assert (ledger.mlflow_runs, ledger.model) == ([run_id], {"name": "costed", "version": "1"})
    write_cost(run_dir, ledger)
    assert read_cost(run_dir).to_json() == ledger.to_json()
    assert record_cost(ledger, settings) == [f"MLflow run {run_id}", "model costed version 1"]
    totals = ledger.totals()
    assert totals["gpu_hours"] == 0.1  # 360 s x 1 GPU
    assert totals["cpu_seconds"] == 701.5
    metrics = client.get_run(run_id).data.metrics
    assert metrics["mlops.cost_usd"] == totals["cost"] and metrics["mlops.gpu_hours"] == 0.1
    tags = client.get_model_version("costed", "1").tags
    assert (tags["mlops.cost_usd"], tags["mlops.gpu_hours"]) == (str(totals["cost"]), "0.1")
    assert tags["mlops.cost_currency"] == "USD"


def test_recording_the_same_ledger_again_adds_no_second_point(trained_run):
    """A starter gone after its recorder logged: the run's cost is recorded again in the command's process."""
    run_dir, run_id, client = trained_run
    settings = load_settings()
    ledger = local_ledger(run_dir, settings)
    record_cost(ledger, settings)
    record_cost(ledger, settings)
    assert [len(client.get_metric_history(run_id, key)) for key in cost_metrics(ledger)] == [1] * 7
    first = ledger.totals()["cost"]
    ledger.finished_at = "2026-11-22T11:30:00+00:00"  # resumed, finished later, with one more line priced
    ledger.lines[0].cost += 1.0
    record_cost(ledger, settings)
    history = client.get_metric_history(run_id, "mlops.run_cost_usd")
    assert [point.value for point in sorted(history, key=lambda p: p.timestamp)] == [
        first,
        ledger.totals()["cost"],
    ]
    assert client.get_run(run_id).data.metrics["mlops.run_cost_usd"] == ledger.totals()["cost"]


def test_a_run_with_no_mlflow_run_records_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_STORAGE_ROOT", str(tmp_path / ".mlops"))
    run_dir = tmp_path / ".mlops" / "runs" / "hello-1"
    run_dir.mkdir(parents=True)
    record = RunRecord(
        name="hello-1", uid="u", template="hello", creation_timestamp="", parameters={}, run_dir=str(run_dir),
        phase="Failed", nodes={"hello": Node("hello", "hello", "Failed", attempts=[
            step_attempt(run_dir, "steps.ingest", 2.0, "Failed", 65)])},
    )  # fmt: skip
    (run_dir / "run.json").write_text(json.dumps(record.to_json()))
    ledger = local_ledger(run_dir, load_settings())
    assert [(line.step, line.source, line.cost) for line in ledger.lines] == [("hello", "run.json", 0.0)]
    assert record_cost(ledger, load_settings()) == []
    assert not (tmp_path / ".mlops" / "mlflow.db").exists()


@pytest.mark.parametrize("warm", [False, True], ids=["in-process", "through-the-warm-starter"])
def test_the_drift_check_that_started_a_retrain_is_part_of_its_versions_cost(trained_run, warm):
    import io

    from rich.console import Console

    from workflows.cli.costs import settle_cost
    from workflows.local.warm_start import WarmStarter

    retrain_dir, run_id, client = trained_run
    drift_dir = retrain_dir.parent / "drift-xyz98"
    drift_dir.mkdir()
    doc = {"kind": "Workflow", "spec": {"templates": [
        {"name": "drift", "container": {"resources": {"requests": {"cpu": "1", "memory": "4Gi"}}}},
        {"name": "retrain", "resource": {"action": "create"}},
    ]}}  # fmt: skip
    (drift_dir / "workflow.yaml").write_text(yaml.safe_dump(doc))
    started = Attempt(number=1, started_at="", duration_seconds=400.0, phase="Succeeded", exit_code=0)
    retrain = Node("retrain", "retrain", "Succeeded", children=[retrain_dir.name], attempts=[started])
    drift = Node("drift", "drift", "Succeeded", attempts=[step_attempt(drift_dir, "steps.drift", 90.0)])
    record = RunRecord(
        name=drift_dir.name, uid="d", template="drift", creation_timestamp="", parameters={},
        run_dir=str(drift_dir), phase="Succeeded", nodes={"drift": drift, "retrain": retrain},
    )  # fmt: skip
    (drift_dir / "run.json").write_text(json.dumps(record.to_json()))
    said = io.StringIO()
    starter = WarmStarter(None) if warm else None  # mlops run records through its starter (MLflow loaded)
    try:
        settle_cost(Console(file=said, width=300), record, load_settings(), starter)
    finally:
        if starter is not None:
            starter.close()
    assert (drift_dir / "logs" / "cost.log").exists() == warm  # the forked recorder's log
    drift_cost = json.loads((drift_dir / "cost.json").read_text())
    assert [line["step"] for line in drift_cost["lines"]] == ["drift"]  # the resource node is no pod
    retrain_cost = json.loads((retrain_dir / "cost.json").read_text())
    assert retrain_cost["upstream"] == {drift_dir.name: drift_cost["totals"]["cost"]}
    model_cost = round(retrain_cost["totals"]["cost"] + drift_cost["totals"]["cost"], 6)
    assert retrain_cost["totals"]["model_cost"] == model_cost
    assert client.get_model_version("costed", "1").tags["mlops.cost_usd"] == str(model_cost)
    assert f"recorded on MLflow run {run_id}, model costed version 1" in said.getvalue()
