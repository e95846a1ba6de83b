"""The budget gate of ``mlops run`` (issue 19): ``-p max-cost`` / ``-p max-gpu-hours``.

A run projected over its budget by the last successful runs of its template (per row of the data they
ingested, times the rows given) is refused in one line, exit 65, before any step; one that passes its
budget mid-run starts no later step (register never starts), runs its exit handler and ends Failed with
the reason. Driven by a tiny budget against a steep price list, never by wall-clock time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from workflows.argo.ledger import Ledger, Line
from workflows.local.budget import take_budget
from workflows.local.cost_estimate import estimate
from workflows.local.ledger import write_cost
from workflows.local.record import Attempt, Node, RunRecord
from workflows.local.stop import NODE_NOT_STARTED, OMITTED

# One currency unit per vCPU-second: any step that runs at all costs more than the tiny budgets below.
STEEP = {
    "on_demand": {"vcpu_hour": 3600.0, "gib_hour": 0.0, "gpu_hour": {"default": 0.0}},
    "spot": {"vcpu_hour": 3600.0, "gib_hour": 0.0, "gpu_hour": {"default": 0.0}},
}


def workflow(root: Path, data: Path) -> Path:
    def step(name: str) -> dict:
        return {
            "name": name,
            "container": {
                "image": "steps:1",
                "command": [sys.executable, "-c", f"open({str(root / name)!r}, 'w').write('ran')"],
                "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
            },
        }

    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "budgeted-"},
        "spec": {
            "entrypoint": "main",
            "onExit": "notify",
            "arguments": {"parameters": [{"name": "data-uri", "value": str(data)}]},
            "templates": [
                {
                    "name": "main",
                    "dag": {
                        "tasks": [
                            {"name": "features", "template": "features"},
                            {"name": "train", "template": "train", "depends": "features"},
                            {"name": "register", "template": "register", "depends": "train"},
                        ]
                    },
                },
                step("features"),
                step("train"),
                step("register"),
                step("notify"),
            ],
        },
    }
    path = root / "budgeted.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def data_file(root: Path, rows: int) -> Path:
    path = root / "data.csv"
    path.write_text("amount,label\n" + "".join(f"{i}.5,{i % 2}\n" for i in range(rows)))
    return path


def past_run(
    runs_root: Path, name: str, started: str, cost: float, rows: int, phase: str = "Succeeded"
) -> None:
    """A finished run of ``budgeted`` as ``mlops run`` leaves it: run.json, ingest's result.json, cost.json."""
    run_dir = runs_root / name
    (run_dir / "ingest").mkdir(parents=True)
    (run_dir / "ingest" / "result.json").write_text(json.dumps({"rows_in": rows, "rows_out": rows}))
    command = ["python", "-m", "steps.ingest", "--run-dir", str(run_dir)]
    attempt = Attempt(number=0, started_at=started, finished_at=started, phase="Succeeded", command=command)
    ingest = Node(name="ingest", template="ingest", phase="Succeeded", attempts=[attempt])
    record = RunRecord(
        name=name, uid=name, template="budgeted", creation_timestamp=started, parameters={},
        run_dir=str(run_dir), phase=phase, started_at=started, nodes={"ingest": ingest},
    )  # fmt: skip
    (run_dir / "run.json").write_text(json.dumps(record.to_json()))
    line = Line(
        step="train", template="train", attempt=1, phase="Succeeded", exit_code=0, retried=False,
        preempted=False, capacity="on-demand", gpu_type="default", wall_seconds=60.0, requests={},
        gpu_seconds=36.0 * rows, cost=cost,
    )  # fmt: skip
    ledger = Ledger(
        run=name, template="budgeted", phase=phase, started_at=started, finished_at=started,
        where="local", lines=[line], prices={"currency": "USD"},
    )  # fmt: skip
    write_cost(run_dir, ledger)


def mlops(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_") and k != "MLFLOW_TRACKING_URI"}
    env |= {
        "MLOPS_STORAGE_ROOT": str(root / ".mlops"),
        "MLOPS_PRICES": json.dumps(STEEP),
        "MLOPS_LOCAL_WARM_START": "false",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "workflows.cli", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture
def history(tmp_path) -> Path:
    """Two successful runs at 0.02 and 0.03 USD a row, and a failed one that must not count."""
    runs_root = tmp_path / ".mlops" / "runs"
    past_run(runs_root, "budgeted-aaaaa", "2026-11-20T10:00:00Z", cost=1.0, rows=50)
    past_run(runs_root, "budgeted-bbbbb", "2026-11-21T10:00:00Z", cost=3.0, rows=100)
    past_run(runs_root, "budgeted-ccccc", "2026-11-22T10:00:00Z", cost=900.0, rows=1, phase="Failed")
    return runs_root


def test_the_estimate_is_the_history_per_row_times_the_rows_given(tmp_path, history):
    projected = estimate(history, "budgeted", str(data_file(tmp_path, 100)))
    assert projected.runs == ["budgeted-aaaaa", "budgeted-bbbbb"]  # the failed run is no basis
    assert projected.totals["cost"] == pytest.approx((1.0 / 50 + 3.0 / 100) / 2 * 100)  # 2.5
    assert projected.totals["gpu_hours"] == pytest.approx(100 * 36.0 / 3600)
    assert projected.rows == 100
    assert estimate(history, "other-template", None) is None
    unscaled = estimate(history, "budgeted", str(tmp_path / "no-such-data"))
    assert unscaled.rows is None and unscaled.totals["cost"] == pytest.approx(2.0)


def test_a_run_estimated_over_its_budget_is_refused_before_any_step(tmp_path, history):
    data = data_file(tmp_path, 100)
    manifest, given = workflow(tmp_path, data), f"data-uri={data}"  # -p: else the settings' data-uri
    refused = mlops(tmp_path, "run", str(manifest), "-p", given, "-p", "max-cost=2")
    assert refused.returncode == 65, refused.stdout + refused.stderr
    assert refused.stderr.strip() == (
        "error: budget max-cost 2 USD: this budgeted run is estimated at 2.500000 USD (100 rows at the per-row "
        "cost of runs budgeted-aaaaa, budgeted-bbbbb); nothing was started: raise -p max-cost or give it "
        "less data"
    )
    assert sorted(p.name for p in history.iterdir()) == ["budgeted-aaaaa", "budgeted-bbbbb", "budgeted-ccccc"]
    assert not any((tmp_path / step).exists() for step in ("features", "train", "register", "notify"))
    over_gpu = mlops(tmp_path, "run", str(manifest), "-p", given, "-p", "max-gpu-hours=0.5")
    assert over_gpu.returncode == 65 and "budget max-gpu-hours 0.5: " in over_gpu.stderr
    assert "estimated at 1.000000" in over_gpu.stderr


def test_a_run_that_passes_its_budget_mid_run_stops_at_the_next_step(tmp_path):
    manifest = workflow(tmp_path, data_file(tmp_path, 10))
    done = mlops(tmp_path, "run", str(manifest), "-p", "max-cost=0.000001")
    assert done.returncode == 65, done.stdout + done.stderr
    [run_dir] = (tmp_path / ".mlops" / "runs").iterdir()
    record = json.loads((run_dir / "run.json").read_text())
    assert record["phase"] == "Failed"
    assert record["message"].startswith("Stopped: budget max-cost 1e-06 USD passed (")
    assert record["message"].endswith(" spent when features ended); no later step started")
    assert record["message"] in done.stdout
    nodes = record["nodes"]
    assert nodes["features"]["phase"] == "Succeeded"
    # Never started, as Argo's stopped DAG leaves them: no attempt, no process, nothing registered.
    assert (nodes["train"]["phase"], nodes["train"]["message"]) == ("Failed", NODE_NOT_STARTED)
    assert (nodes["register"]["phase"], nodes["register"]["message"]) == ("Omitted", OMITTED)
    for later in ("train", "register"):
        assert nodes[later]["attempts"] == [] and not (tmp_path / later).exists()
    assert record["exit_handler"]["phase"] == "Succeeded" and (tmp_path / "notify").exists()
    cost = json.loads((run_dir / "cost.json").read_text())
    assert cost["totals"]["cost"] > 0.000001
    assert [line["template"] for line in cost["lines"]] == ["features", "notify"]
    assert "budget:     max-cost 1e-06 USD; no successful budgeted run to estimate from" in done.stdout


def test_a_budget_under_its_estimate_is_shown_and_a_bad_one_refused(tmp_path, history, monkeypatch):
    from steps.errors import BadInput
    from workflows.local.executor import LocalRun
    from workflows.settings import Settings

    monkeypatch.setenv("MLOPS_STORAGE_ROOT", str(tmp_path / ".mlops"))
    doc = yaml.safe_load(workflow(tmp_path, data_file(tmp_path, 100)).read_text())
    parameters = {"max-cost": "10", "max-gpu-hours": "2"}
    budget = take_budget(parameters, doc)
    assert parameters == {} and budget.limits == {"cost": 10.0, "gpu_hours": 2.0}
    run = LocalRun(doc, parameters, str(history))
    assert budget.refuse_if_over(run, Settings()) == (
        "budget:     estimated 2.500000 USD of max-cost 10 USD, 1.000000 of max-gpu-hours 2 "
        "(100 rows at the per-row cost of runs budgeted-aaaaa, budgeted-bbbbb)"
    )
    for bad in ("abc", "0", "-1", "nan"):
        with pytest.raises(BadInput) as refused:
            take_budget({"max-cost": bad}, doc)
        assert str(refused.value) == (
            f"parameter 'max-cost': {bad!r} is not an amount above 0; pass -p max-cost=NUMBER"
        )
    declared = {"spec": {"arguments": {"parameters": [{"name": "max-cost", "value": "1"}]}}}
    kept = {"max-cost": "5"}
    assert take_budget(kept, declared).limits == {} and kept == {"max-cost": "5"}  # the workflow's own


def test_without_an_exit_handler_the_record_written_last_says_why(tmp_path, monkeypatch):
    from workflows.local.executor import LocalRun
    from workflows.settings import Settings

    monkeypatch.setenv("MLOPS_PRICES", json.dumps(STEEP))
    settings = Settings()
    doc = yaml.safe_load(workflow(tmp_path, data_file(tmp_path, 10)).read_text())
    del doc["spec"]["onExit"]
    parameters = {"max-gpu-hours": "1", "max-cost": "0.000001"}
    budget = take_budget(parameters, doc)
    run = LocalRun(
        doc, parameters, str(tmp_path / "runs"), on_change=budget.watching(lambda run: None, settings)
    )
    record = run.run()
    written = json.loads((run.run_dir / "run.json").read_text())
    assert record.phase == written["phase"] == "Failed"
    assert record.message == written["message"] == budget.reason
    assert budget.reason.startswith("Stopped: budget max-cost 1e-06 USD passed") and budget.exit_code() == 65
    assert [name for name, node in record.nodes.items() if node.attempts] == ["features"]
