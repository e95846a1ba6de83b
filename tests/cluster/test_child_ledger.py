"""The cluster ledger of the Workflows a run started: a drift check's retrain, created by its resource template,
read back through the (fake) Argo Server and carrying the drift check's cost as ``upstream`` (issue 19).

The child is found by the name the resource node saved (``outputs.parameters``, the template's
``valueFrom.jsonPath: '{.metadata.name}'``: argoexec's SaveResourceParameters, workflow/executor/resource.go),
or, when the resource met its failureCondition and saved none, by the labels its manifest gives it and the
owner reference ``setOwnerReference`` sets to the run (ResourceTemplate, workflow_types.go).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.cluster.test_cost_ledger import PRICES, RUN, TOKEN, pod, recorded_workflow
from tests.support.fake_cluster import FakeCluster
from workflows.cluster.child_ledger import fetch_family, started_children
from workflows.cluster.client import ArgoServer
from workflows.cluster.ledger import cluster_ledger
from workflows.pipelines.compile import MANIFESTS_DIR
from workflows.settings import Settings

DRIFT = "drift-m4q7z"
SELECTOR = "argo-mlops/started-by=drift"


def drift_workflow(saved_name: bool = True) -> dict:
    """A drift check whose start-retrain resource created RUN (named in its outputs, or not when it failed)."""
    template = yaml.safe_load((MANIFESTS_DIR / "drift.yaml").read_text())
    start = {
        "id": f"{DRIFT}-400",
        "name": f"{DRIFT}.start-retrain",
        "displayName": "start-retrain",
        "type": "Pod",
        "templateName": "start-retrain",
        "phase": "Succeeded" if saved_name else "Failed",
        "startedAt": "2026-11-22T09:58:00Z",
        "finishedAt": "2026-11-22T10:46:00Z",
        "resourcesDuration": {"cpu": 29, "memory": 29},
    }
    if saved_name:
        start["outputs"] = {"parameters": [{"name": "workflow-name", "value": RUN}], "exitCode": "0"}
    else:
        start["message"] = (
            "Error (exit code 64): failure condition 'status.phase in (Failed,Error)' evaluated true"
        )
    nodes = {
        f"{DRIFT}-100": {**pod(f"{DRIFT}-100", "load-current", "load-current", "Succeeded", 0, 60,
                               {"cpu": 30, "memory": 1229}), "name": f"{DRIFT}.load-current"},
        f"{DRIFT}-200": {**pod(f"{DRIFT}-200", "drift", "drift", "Succeeded", 1, 120,
                               {"cpu": 240, "memory": 4915}), "name": f"{DRIFT}.drift"},
        f"{DRIFT}-400": start,
    }  # fmt: skip
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": DRIFT, "namespace": "argo-mlops"},
        "spec": {"workflowTemplateRef": {"name": "drift"}},
        "status": {
            "phase": "Succeeded" if saved_name else "Failed",
            "startedAt": "2026-11-22T09:55:00Z",
            "finishedAt": "2026-11-22T10:47:00Z",
            "nodes": nodes,
            "storedWorkflowTemplateSpec": template["spec"],
        },
    }


def retrain(owner_uid: str, name: str = RUN) -> dict:
    """RUN as the resource created it: the manifest's label, and the owner reference to the drift run
    (its ``uid``, which the API server set when the drift run was created)."""
    child = recorded_workflow()
    child["metadata"] |= {
        "name": name,
        "labels": {"argo-mlops/started-by": "drift"},
        "ownerReferences": [
            {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": DRIFT, "uid": owner_uid}
        ],
    }
    return child


@pytest.fixture
def argo(monkeypatch):
    fake = FakeCluster(token=TOKEN)
    server, url = fake.serve()
    monkeypatch.setenv("ARGO_SERVER", url)
    monkeypatch.setenv("ARGO_TOKEN", TOKEN)
    monkeypatch.setenv("MLOPS_PRICES", json.dumps(PRICES))
    yield fake
    server.shutdown()


def test_the_retrain_named_in_the_resource_outputs_carries_the_drift_cost(argo):
    started_by = argo.put("workflows", drift_workflow())["metadata"]["uid"]
    argo.put("workflows", retrain(started_by))
    settings = Settings()
    drift, [child] = fetch_family(ArgoServer(settings), DRIFT, settings)
    assert [r.path for r in argo.requests] == [
        f"/api/v1/workflows/argo-mlops/{DRIFT}",
        f"/api/v1/workflows/argo-mlops/{RUN}",
    ]  # found by name: no list
    assert (drift.run, drift.template, child.run, child.template) == (DRIFT, "drift", RUN, "training")
    assert child.upstream == {DRIFT: drift.totals()["cost"]} and drift.totals()["cost"] > 0
    alone = cluster_ledger(argo.objects[("workflows", RUN)], settings)
    assert child.lines == alone.lines  # its own lines are its Workflow's, from resourcesDuration
    assert child.totals()["model_cost"] == round(alone.totals()["cost"] + drift.totals()["cost"], 6)
    assert [line.step for line in drift.lines] == ["drift", "load-current", "start-retrain"]


def test_a_failed_resource_saves_no_name_so_the_child_is_found_by_label_and_owner(argo):
    started_by = argo.put("workflows", drift_workflow(saved_name=False))["metadata"]["uid"]
    argo.put("workflows", retrain(started_by))
    other = retrain(owner_uid="another-drift-run", name="training-zzzzz")  # same label, another owner
    argo.put("workflows", other)
    settings = Settings()
    assert started_children(argo.objects[("workflows", DRIFT)]) == ([], [SELECTOR])
    drift, children = fetch_family(ArgoServer(settings), DRIFT, settings)
    assert [child.run for child in children] == [RUN]
    assert children[0].upstream == {DRIFT: drift.totals()["cost"]}
    [listed] = [r for r in argo.requests if r.path == "/api/v1/workflows/argo-mlops"]
    assert listed.query["listOptions.labelSelector"] == [SELECTOR]


def test_mlops_cost_shows_the_runs_a_cluster_run_started(argo):
    from tests.conftest import ROOT

    argo.put("workflows", retrain(argo.put("workflows", drift_workflow())["metadata"]["uid"]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")} | {"COLUMNS": "200"}
    env |= {key: os.environ[key] for key in ("MLOPS_PRICES", "ARGO_SERVER", "ARGO_TOKEN")}
    command = [sys.executable, "-m", "workflows.cli", "cost", "--run", DRIFT, "--cluster"]
    shown = subprocess.run(
        [*command, "--json"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert shown.returncode == 0, shown.stderr
    found = json.loads(shown.stdout)
    [child] = found["started"]
    assert (child["run"], child["upstream"]) == (RUN, {DRIFT: found["totals"]["cost"]})
    assert child["totals"]["model_cost"] == round(child["totals"]["cost"] + found["totals"]["cost"], 6)
    table = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert table.returncode == 0, table.stderr
    model_cost = f"{child['totals']['model_cost']:.6f} USD"
    assert f"{RUN}: its model cost {model_cost}, {DRIFT}'s included" in table.stdout


def test_no_child_when_the_run_started_none():
    assert started_children(copy.deepcopy(recorded_workflow())) == ([], [])
