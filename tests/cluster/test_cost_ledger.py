"""A cluster run's ledger, from a recorded Workflow status read back through the (fake) Argo Server.

The status uses Argo's documented fields (``NodeStatus`` in pkg/apis/workflow/v1alpha1/workflow_types.go:
id, name, displayName, type, templateName, phase, message, startedAt, finishedAt, children,
outputs.exitCode, resourcesDuration) and its naming of retried attempts (``train(0)``, ``train(1)``
under a ``Retry`` node, workflow/controller/operator.go); ``resourcesDuration`` counts CPU in core-seconds
and memory in 100Mi-seconds (docs/resource-duration.md, ``ResourceQuantityDenominator``).
"""

from __future__ import annotations

import json

import pytest
import yaml

from tests.support.fake_cluster import FakeCluster
from workflows.cluster.client import ArgoServer
from workflows.cluster.ledger import cluster_ledger, fetch_ledger
from workflows.pipelines.compile import MANIFESTS_DIR
from workflows.settings import Settings

TOKEN = "argo-cost-token-7c1"
PRICES = {
    "on_demand": {"vcpu_hour": 0.04, "gib_hour": 0.005, "gpu_hour": {"default": 3.0}},
    "spot": {"vcpu_hour": 0.01, "gib_hour": 0.001, "gpu_hour": {"default": 1.0}},
}
RUN = "training-k2x9p"


def pod(
    node_id: str, name: str, template: str, phase: str, minute: int, seconds: int, held: dict, **extra
) -> dict:
    return {
        "id": node_id,
        "name": f"{RUN}.{name}",
        "displayName": name,
        "type": "Pod",
        "templateName": template,
        "phase": phase,
        "boundaryID": RUN,
        "startedAt": f"2026-11-22T10:{minute:02d}:00Z",
        "finishedAt": f"2026-11-22T10:{minute + seconds // 60:02d}:{seconds % 60:02d}Z",
        "resourcesDuration": held,
        **extra,
    }


def recorded_workflow() -> dict:
    """A training run whose train step was reclaimed three times on spot and finished on on-demand."""
    template = yaml.safe_load((MANIFESTS_DIR / "training.yaml").read_text())
    train_ids = [f"{RUN}-21{i}" for i in range(4)]
    reclaimed = {
        "message": "Pod was terminated in response to imminent node shutdown.",
        "outputs": {"exitCode": "143"},
    }
    nodes = {
        RUN: {"id": RUN, "name": RUN, "displayName": RUN, "type": "DAG", "templateName": "training",
              "phase": "Succeeded", "children": [f"{RUN}-100", f"{RUN}-200"]},
        f"{RUN}-100": {"id": f"{RUN}-100", "name": f"{RUN}.ingest", "displayName": "ingest", "type": "Retry",
                       "templateName": "ingest", "phase": "Succeeded", "children": [f"{RUN}-101"]},
        f"{RUN}-101": pod(f"{RUN}-101", "ingest(0)", "ingest", "Succeeded", 0, 120,
                          {"cpu": 60, "memory": 2458}, outputs={"exitCode": "0"}),
        f"{RUN}-200": {"id": f"{RUN}-200", "name": f"{RUN}.train", "displayName": "train", "type": "Retry",
                       "templateName": "train", "phase": "Succeeded", "children": train_ids},
        **{node_id: pod(node_id, f"train({i})", "train", "Failed", 10 + i * 5, 240,
                        {"cpu": 480, "memory": 19660, "nvidia.com/gpu": 240}, **reclaimed)
           for i, node_id in enumerate(train_ids[:3])},
        train_ids[3]: pod(train_ids[3], "train(3)", "train", "Succeeded", 30, 600,
                          {"cpu": 1200, "memory": 49152, "nvidia.com/gpu": 600}, outputs={"exitCode": "0"}),
    }  # fmt: skip
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": RUN, "namespace": "argo-mlops"},
        "spec": {"workflowTemplateRef": {"name": "training"}},
        "status": {
            "phase": "Succeeded",
            "startedAt": "2026-11-22T10:00:00Z",
            "finishedAt": "2026-11-22T10:45:00Z",
            "nodes": nodes,
            "storedWorkflowTemplateSpec": template["spec"],
        },
    }


@pytest.fixture
def argo(monkeypatch):
    fake = FakeCluster(token=TOKEN)
    server, url = fake.serve()
    fake.put("workflows", recorded_workflow())
    monkeypatch.setenv("ARGO_SERVER", url)
    monkeypatch.setenv("ARGO_TOKEN", TOKEN)
    monkeypatch.setenv("MLOPS_PRICES", json.dumps(PRICES))
    yield fake
    server.shutdown()


def test_the_ledger_comes_from_resources_duration_and_node_times(argo):
    settings = Settings()
    ledger = fetch_ledger(ArgoServer(settings), RUN, settings)
    assert [r.path for r in argo.requests] == [f"/api/v1/workflows/argo-mlops/{RUN}"]
    assert (ledger.run, ledger.template, ledger.where, ledger.phase) == (
        RUN,
        "training",
        "cluster",
        "Succeeded",
    )
    assert (ledger.started_at, ledger.finished_at) == ("2026-11-22T10:00:00Z", "2026-11-22T10:45:00Z")
    train = [line for line in ledger.lines if line.step == "train"]
    assert [(t.attempt, t.retried, t.preempted, t.capacity, t.exit_code) for t in train] == [
        (1, True, True, "spot", 143),
        (2, True, True, "spot", 143),
        (3, True, True, "spot", 143),
        (4, False, False, "on-demand", 0),  # asInt(retries) >= 3 in train's podSpecPatch
    ]
    last = train[-1]
    assert (last.wall_seconds, last.vcpu_seconds, last.gpu_seconds) == (600.0, 1200.0, 600.0)
    assert last.gib_seconds == 4800.0  # 49152 x 100Mi-seconds = 8 GiB for 600 s
    assert last.requests == {"cpu": 2.0, "memory_gib": 8.0, "gpus": 1.0}  # as the template declares
    assert last.cpu_seconds is None and last.source == "resourcesDuration"  # used CPU is not in the status
    assert last.cost == round(1200 / 3600 * 0.04 + 4800 / 3600 * 0.005 + 600 / 3600 * 3.0, 6)
    spot = train[0]
    assert spot.cost == round(480 / 3600 * 0.01 + 19660 * 100 / 1024 / 3600 * 0.001 + 240 / 3600 * 1.0, 6)
    totals = ledger.totals()
    assert totals["gpu_hours"] == round((3 * 240 + 600) / 3600, 6)
    assert totals["retries_cost"] == round(3 * spot.cost, 6)
    assert totals["retries_share"] == round(3 * spot.cost / totals["cost"], 4)
    [ingest] = [line for line in ledger.lines if line.step == "ingest"]
    assert (ingest.attempt, ingest.retried, ingest.capacity, ingest.gpu_seconds) == (
        1,
        False,
        "on-demand",
        0.0,
    )


def test_an_unknown_capacity_label_is_refused_in_one_line(monkeypatch):
    from steps.errors import BadInput

    monkeypatch.setenv("MLOPS_SPOT_CAPACITY", "preemptible")
    workflow = recorded_workflow()
    with pytest.raises(BadInput) as refused:
        cluster_ledger(workflow, Settings())
    assert str(refused.value) == (
        "template train: nodeSelector karpenter.sh/capacity-type=spot is neither MLOPS_SPOT_CAPACITY "
        "(preemptible) nor MLOPS_ON_DEMAND_CAPACITY (on-demand); set one to it"
    )


def test_mlops_cost_reads_a_cluster_run_through_the_argo_server(argo):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")} | {"COLUMNS": "200"}
    env |= {key: os.environ[key] for key in ("MLOPS_PRICES", "ARGO_SERVER", "ARGO_TOKEN")}
    done = subprocess.run(
        [sys.executable, "-m", "workflows.cli", "cost", "--run", RUN, "--cluster", "--json"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    settings = Settings()
    assert shown == cluster_ledger(argo.objects[("workflows", RUN)], settings).to_json()
    assert [r.authorization for r in argo.requests] == [f"Bearer {TOKEN}"]
