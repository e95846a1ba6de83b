"""The budget gate of ``mlops submit`` (issue 19): ``-p max-cost`` / ``-p max-gpu-hours`` with ``--wait``.

The estimate comes from the template's last successful cluster runs, listed through the (fake) Argo Server by
the label Argo gives a Workflow made from a template (``workflows.argoproj.io/workflow-template``), their
ledgers from their node status; a run that passes its budget is stopped with Argo's stop
(``PUT /api/v1/workflows/{ns}/{name}/stop``). The run's progress is a recorded status the test reveals one
node per poll: nothing here depends on wall-clock time.
"""

from __future__ import annotations

import copy
import json

import pytest

from steps.errors import StepError
from tests.cluster.test_cluster import TOKEN, mlops, posted
from tests.cluster.test_cost_ledger import PRICES, recorded_workflow
from tests.support.fake_cluster import cluster_with_templates
from workflows.cluster.budget import TEMPLATE_LABEL, Watch
from workflows.cluster.client import ArgoServer
from workflows.cluster.ledger import cluster_ledger
from workflows.local.budget import take_budget
from workflows.settings import Settings

CREATE = "/api/v1/workflows/argo-mlops"


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    fake, server = cluster_with_templates(TOKEN, tmp_path)
    fake.env["MLOPS_PRICES"] = json.dumps(PRICES)
    for key, value in fake.env.items():  # this process prices the expected ledgers the same way
        monkeypatch.setenv(key, value)
    yield fake
    server.shutdown()


def past_run(
    name: str, phase: str = "Succeeded", rows: int | None = None, template: str = "training"
) -> dict:
    """A finished training run as the Argo Server lists it: the template label, its node status."""
    workflow = recorded_workflow()
    workflow["metadata"] |= {"name": name, "labels": {TEMPLATE_LABEL: template}}
    workflow["status"]["phase"] = phase
    if rows is not None:
        [ingest] = [n for n in workflow["status"]["nodes"].values() if n["displayName"] == "ingest(0)"]
        ingest["outputs"]["parameters"] = [{"name": "rows-out", "value": str(rows)}]
    return workflow


def one_cost() -> dict:
    return cluster_ledger(recorded_workflow(), Settings()).totals()


@pytest.mark.parametrize(("limit", "total"), [("max-cost", "cost"), ("max-gpu-hours", "gpu_hours")])
def test_a_run_estimated_over_its_budget_is_refused_and_nothing_is_sent(cluster, limit, total):
    for name in ("training-aaaa1", "training-aaaa2"):
        cluster.put("workflows", past_run(name))
    cluster.put("workflows", past_run("training-failed", phase="Failed"))  # not a basis for an estimate
    cluster.put("workflows", past_run("drift-other", template="drift"))
    budget = one_cost()[total] / 2
    done = mlops(cluster, "submit", "training", "--wait", "-p", f"{limit}={budget}")
    assert done.returncode == 65, done.stderr
    [line] = [line for line in done.stderr.splitlines() if "error:" in line]
    assert f"budget {limit} {budget:g}" in line
    assert f"estimated at {one_cost()[total]:.6f}" in line
    assert "(the average of runs training-aaaa1, training-aaaa2; not scaled by rows)" in line
    assert not posted(cluster, CREATE)  # refused before anything was sent
    [listed] = [r for r in cluster.requests if r.method == "GET" and r.path == CREATE]
    assert listed.query["listOptions.labelSelector"] == [f"{TEMPLATE_LABEL}=training"]


def test_the_estimate_is_scaled_by_the_rows_of_the_data_given(cluster, s3_env):
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="fraud-data")
    rows = "\n".join(f"{i},0" for i in range(3000))
    s3.put_object(Bucket="fraud-data", Key="incoming/batch.csv", Body=f"id,label\n{rows}\n".encode())
    for name in ("training-bbbb1", "training-bbbb2"):
        cluster.put("workflows", past_run(name, rows=1000))
    cost = one_cost()["cost"]

    over = mlops(cluster, "submit", "training", "--wait", "-p", f"max-cost={2 * cost}", **s3_env)
    assert over.returncode == 65, over.stderr
    assert f"estimated at {3 * cost:.6f}" in over.stderr
    assert "3,000 rows at the per-row cost of runs training-bbbb1, training-bbbb2" in over.stderr
    assert not posted(cluster, CREATE)

    enough = f"max-cost={4 * cost}"
    under = mlops(cluster, "submit", "training", "--wait", "--interval", "0.01", "-p", enough, **s3_env)
    assert under.returncode == 0, under.stderr
    assert f"budget: estimated {3 * cost:.6f}" in under.stderr and "3,000 rows" in under.stderr
    assert len(posted(cluster, CREATE)) == 1


def node(step: str, minute: int, held: dict) -> dict:
    return {
        "displayName": step,
        "templateName": step,
        "phase": "Succeeded",
        "startedAt": f"2026-11-22T10:{minute:02d}:00Z",
        "finishedAt": f"2026-11-22T10:{minute:02d}:50Z",
        "resourcesDuration": held,
        "outputs": {"exitCode": "0"},
    }


def test_a_run_that_passes_its_budget_is_stopped_at_the_next_step_boundary(cluster):
    cluster.recorded_nodes = [
        node("ingest", 0, {"cpu": 30, "memory": 100}),
        node("features", 1, {"cpu": 60, "memory": 100}),
        node("train", 2, {"cpu": 1200, "memory": 49152, "nvidia.com/gpu": 600}),  # the GPU step passes it
        node("evaluate", 3, {"cpu": 30, "memory": 100}),
        node("register", 4, {"cpu": 30, "memory": 100}),
    ]
    done = mlops(cluster, "submit", "training", "--wait", "--interval", "0.01", "-p", "max-cost=0.05")
    assert done.returncode == 65, done.stderr
    assert "no successful training run to estimate from: checked as it runs" in done.stderr
    name = done.stdout.strip()
    stored = cluster.objects[("workflows", name)]
    [stop] = [r for r in cluster.requests if r.method == "PUT"]
    assert stop.path == f"/api/v1/workflows/argo-mlops/{name}/stop"
    assert stop.body == {"name": name, "namespace": "argo-mlops"}
    assert stored["spec"]["shutdown"] == "Stop"
    # stopped at the boundary after train: evaluate and register never started; notify (onExit) ran
    steps = [n["displayName"] for n in stored["status"]["nodes"].values()]
    assert steps == ["ingest", "features", "train", f"{name}.onExit"]
    assert (stored["status"]["phase"], stored["status"]["message"]) == (
        "Failed",
        "Stopped with strategy 'Stop'",
    )
    spent = cluster_ledger(stored, Settings()).totals()["cost"]
    [line] = [line for line in done.stderr.splitlines() if "error:" in line]
    assert "budget max-cost 0.05 " in line and f"({spent:.6f} " in line and "spent when train ended" in line


def test_a_budget_without_wait_or_the_argo_server_is_refused_before_anything_is_sent(cluster):
    alone = mlops(cluster, "submit", "training", "-p", "max-cost=1")
    assert alone.returncode == 65
    assert alone.stderr.strip().splitlines()[-1].endswith("checked only while mlops follows it; add --wait")
    kube = mlops(cluster, "submit", "training", "--wait", "--via", "kube", "-p", "max-gpu-hours=1")
    assert kube.returncode == 78 and "leave out --via kube" in kube.stderr
    bad = mlops(cluster, "submit", "training", "--wait", "-p", "max-cost=lots")
    assert bad.returncode == 65 and "pass -p max-cost=NUMBER" in bad.stderr
    assert cluster.requests == []


def test_the_server_refuses_to_stop_a_completed_run_and_the_watch_says_it_had_ended(cluster):
    cluster.put("workflows", past_run("training-done1"))
    settings = Settings()
    server = ArgoServer(settings)
    with pytest.raises(StepError, match="cannot shutdown a completed workflow"):
        server.stop("training-done1")
    # the watch saw it running and over budget; by the time its stop arrives the run has ended
    seen_running = copy.deepcopy(cluster.objects[("workflows", "training-done1")])
    seen_running["status"]["phase"] = "Running"
    said = []
    watch = Watch(server, take_budget({"max-cost": "0.01"}, {}), settings, said.append)
    watch(seen_running)
    assert "budget max-cost 0.01" in watch.reason and "had ended before the stop arrived" in watch.reason
    assert said == []  # no claim that it was stopped
    assert [r.answered for r in cluster.requests if r.method == "PUT"] == [500, 500]
    assert "shutdown" not in cluster.objects[("workflows", "training-done1")]["spec"]  # nothing was patched
