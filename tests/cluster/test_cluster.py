"""mlops submit, retry, logs and apply against a test Argo Server and Kubernetes API on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import hera.workflows.models as m
import pytest
import yaml

from tests.support.fake_cluster import FakeCluster, cluster_with_templates
from workflows.argo.lint import lint_paths
from workflows.pipelines.compile import MANIFESTS_DIR

TOKEN = "argo-test-token-3f9"
MLOPS = str(Path(sys.executable).parent / "mlops")


@pytest.fixture
def cluster(tmp_path):
    """A fake cluster holding the compiled templates, the service account and the settings ConfigMap."""
    fake, server = cluster_with_templates(TOKEN, tmp_path)
    yield fake
    server.shutdown()


def mlops(cluster: FakeCluster, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "ARGO_", "KUBECONFIG"))}
    return subprocess.run(
        [MLOPS, *args], env=clean | cluster.env | env, capture_output=True, text=True, timeout=120
    )


def posted(cluster: FakeCluster, path: str) -> list:
    return [r for r in cluster.requests if r.method == "POST" and r.path == path]


def test_dry_run_prints_a_workflow_that_passes_lint(cluster, tmp_path):
    done = mlops(cluster, "submit", "training", "--dry-run", "-p", "epochs=2")
    assert done.returncode == 0, done.stderr
    manifest = tmp_path / "run.yaml"
    manifest.write_text(done.stdout)
    assert [str(p) for p in lint_paths([manifest])] == []
    workflow = yaml.safe_load(done.stdout)
    assert workflow["spec"]["workflowTemplateRef"] == {"name": "training"}
    arguments = {p["name"]: p["value"] for p in workflow["spec"]["arguments"]["parameters"]}
    assert arguments["epochs"] == "2"
    assert arguments["data-uri"] == "s3://fraud-data/incoming/"
    assert arguments["storage-root"] == "s3://mlops-runs/argo-mlops"
    assert cluster.requests == []  # a dry run sends nothing


def test_a_sweep_is_submitted_from_its_template_with_its_trials_and_lanes(cluster):
    refused = mlops(cluster, "submit", "sweep", "-p", "trials=16", "-p", "parallelism=4")
    assert (
        refused.returncode == 78
        and "WorkflowTemplate argo-mlops/sweep: MISSING (run: mlops apply)" in refused.stderr
    )
    assert mlops(cluster, "apply").returncode == 0
    done = mlops(cluster, "submit", "sweep", "-p", "trials=16", "-p", "parallelism=4")
    assert done.returncode == 0, done.stderr
    [create] = posted(cluster, "/api/v1/workflows/argo-mlops")
    workflow = m.Workflow.model_validate(create.body["workflow"])
    assert workflow.spec.workflow_template_ref.name == "sweep"
    arguments = {p.name: p.value for p in workflow.spec.arguments.parameters}
    assert arguments["trials"] == "16" and arguments["parallelism"] == "4"
    assert arguments["storage-root"] == "s3://mlops-runs/argo-mlops"


def test_submit_creates_a_workflow_from_the_template_with_the_token(cluster):
    done = mlops(cluster, "submit", "training", "-p", "epochs=3", "-p", "min-auc=0.7")
    assert done.returncode == 0, done.stderr
    name = done.stdout.strip()
    assert name.startswith("training-")
    [create] = posted(cluster, "/api/v1/workflows/argo-mlops")
    assert create.authorization == f"Bearer {TOKEN}"
    workflow = m.Workflow.model_validate(create.body["workflow"])
    assert workflow.spec.workflow_template_ref.name == "training"
    arguments = {p.name: p.value for p in workflow.spec.arguments.parameters}
    assert arguments["epochs"] == "3" and arguments["min-auc"] == "0.7"
    assert arguments["model-name"] == "fraud-detector"
    # preflight looked for the template before anything was created
    looked = [r.path for r in cluster.requests]
    assert looked.index("/api/v1/workflow-templates/argo-mlops/training") < looked.index(create.path)


def test_wait_follows_the_nodes_and_exits_with_the_result(cluster):
    done = mlops(cluster, "submit", "training", "--wait", "--interval", "0.01")
    assert done.returncode == 0, done.stderr
    assert "train                    Succeeded" in done.stderr
    assert done.stderr.strip().endswith("Succeeded")

    cluster.fail_step = "train"
    failed = mlops(cluster, "submit", "training", "--wait", "--interval", "0.01")
    assert failed.returncode == 1
    assert "train                    Failed  Error (exit code 75)" in failed.stderr
    assert "evaluate" not in failed.stderr


def test_retry_resumes_a_failed_run_from_its_failed_step(cluster):
    cluster.fail_step = "evaluate"
    name = mlops(cluster, "submit", "training", "--wait", "--interval", "0.01").stdout.strip()
    done = mlops(cluster, "retry", name, "--wait", "--interval", "0.01")
    assert done.returncode == 0, done.stderr
    [retry] = [r for r in cluster.requests if r.method == "PUT"]
    assert retry.path == f"/api/v1/workflows/argo-mlops/{name}/retry"
    assert retry.body == {"name": name, "namespace": "argo-mlops"}
    assert "evaluate                 Succeeded" in done.stderr

    missing = mlops(cluster, "retry", "training-nope")
    assert missing.returncode == 65 and "training-nope" in missing.stderr


@pytest.mark.parametrize("via", ["argo", "kube"])
def test_logs_print_one_step(cluster, via):
    name = mlops(cluster, "submit", "training", "--wait", "--interval", "0.01").stdout.strip()
    done = mlops(cluster, "logs", name, "--step", "train", "--via", via)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("train: ") for line in lines)


def test_via_kube_creates_the_workflow_custom_object(cluster):
    done = mlops(cluster, "submit", "drift", "--via", "kube", "-p", "current-uri=s3://fraud-data/incoming/")
    assert done.returncode == 0, done.stderr
    [create] = posted(cluster, "/apis/argoproj.io/v1alpha1/namespaces/argo-mlops/workflows")
    assert create.authorization == f"Bearer {TOKEN}"
    assert create.body["kind"] == "Workflow" and create.body["apiVersion"] == "argoproj.io/v1alpha1"
    assert create.body["spec"]["workflowTemplateRef"] == {"name": "drift"}
    m.Workflow.model_validate(create.body)
    # the drift run starts training runs: preflight wants both templates
    assert "preflight: WorkflowTemplate argo-mlops/training: ok" in done.stderr


def test_preflight_names_what_is_missing_and_submits_nothing(cluster):
    del cluster.core[("configmaps", "argo-mlops-settings")]
    del cluster.objects[("workflowtemplates", "training")]
    done = mlops(cluster, "submit", "training")
    assert done.returncode == 78
    assert "preflight: ConfigMap argo-mlops/argo-mlops-settings: MISSING" in done.stderr
    assert "preflight: WorkflowTemplate argo-mlops/training: MISSING (run: mlops apply)" in done.stderr
    assert not posted(cluster, "/api/v1/workflows/argo-mlops")

    local = mlops(cluster, "submit", "drift", MLOPS_STORAGE_ROOT=".mlops")
    assert local.returncode == 78
    assert "parameter storage-root=.mlops: MISSING (a local path; pods need s3://)" in local.stderr


def test_server_errors_are_one_line_with_the_contract_code(cluster):
    unreachable = mlops(cluster, "submit", "training", ARGO_SERVER="http://127.0.0.1:9")
    assert unreachable.returncode == 75
    assert "unreachable" in unreachable.stderr and "Traceback" not in unreachable.stderr

    refused = mlops(cluster, "submit", "training", ARGO_TOKEN="wrong")
    assert refused.returncode == 77
    assert "ARGO_TOKEN" in refused.stderr and "Traceback" not in refused.stderr

    unknown = mlops(cluster, "submit", "training", "--dry-run", "-p", "epoch=3")
    assert unknown.returncode == 65
    assert "parameter 'epoch'" in unknown.stderr

    unset = mlops(cluster, "submit", "training", ARGO_SERVER="")
    assert unset.returncode == 78 and "ARGO_SERVER" in unset.stderr


def test_a_parameter_a_pod_label_cannot_hold_is_refused_before_anything_is_sent(cluster):
    """Every pod carries the run's experiment as a label (cost allocation); Kubernetes refuses a label value
    with spaces, so such a run would create no pod at all: refused at submit, naming the parameter."""
    refused = mlops(cluster, "submit", "training", "-p", "experiment=Fraud detection 2026")
    assert refused.returncode == 65, refused.stderr
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "parameter 'experiment'" in lines[0] and "pod label" in lines[0], (
        refused.stderr
    )
    assert posted(cluster, "/api/v1/workflows/argo-mlops") == []
    fine = mlops(cluster, "submit", "training", "--dry-run", "-p", "experiment=fraud-2026.q4")
    assert fine.returncode == 0, fine.stderr


def test_apply_twice_makes_the_same_objects(cluster, tmp_path):
    cluster.objects.clear()
    first = mlops(cluster, "apply")
    assert first.returncode == 0, first.stderr
    kinds = sorted((plural, name) for plural, name in cluster.objects)
    assert kinds == [
        ("cronworkflows", "drift-check"), ("cronworkflows", "retrain"),
        ("eventsources", "argo-mlops-data"), ("sensors", "argo-mlops-new-data"),
        ("workflowtemplates", "drift"), ("workflowtemplates", "sweep"),
        ("workflowtemplates", "training"),
    ]  # fmt: skip
    assert first.stderr.count(" created ") == len(kinds)
    versions = {key: obj["metadata"]["resourceVersion"] for key, obj in cluster.objects.items()}
    sent = len(cluster.requests)

    # the server's fields and the cron controller's annotation and status are not differences
    second = mlops(cluster, "apply")
    assert second.returncode == 0, second.stderr
    assert second.stderr.count(" unchanged ") == len(kinds)
    assert [r.method for r in cluster.requests[sent:]] == ["GET"] * len(kinds)
    assert {key: obj["metadata"]["resourceVersion"] for key, obj in cluster.objects.items()} == versions

    # a changed template is replaced at its current resourceVersion, still one object
    changed = tmp_path / "manifests"
    changed.mkdir()
    for path in MANIFESTS_DIR.glob("*.yaml"):
        (changed / path.name).write_text(
            path.read_text().replace("activeDeadlineSeconds: 21600", "activeDeadlineSeconds: 7200")
        )
    third = mlops(cluster, "apply", "--folder", str(changed))
    assert third.returncode == 0, third.stderr
    assert "WorkflowTemplate/training updated" in third.stderr
    [update] = [
        r for r in cluster.requests if r.method == "PUT" and r.path.endswith("/workflowtemplates/training")
    ]
    assert update.body["metadata"]["resourceVersion"] == versions[("workflowtemplates", "training")]
    assert cluster.objects[("workflowtemplates", "training")]["spec"]["activeDeadlineSeconds"] == 7200
    assert len(cluster.objects) == len(kinds)


def test_apply_refuses_manifests_that_fail_lint(cluster, tmp_path):
    broken = tmp_path / "manifests"
    broken.mkdir()
    text = (MANIFESTS_DIR / "events.yaml").read_text().replace("eventSourceName:", "eventSource:")
    (broken / "events.yaml").write_text(text)
    done = mlops(cluster, "apply", "--folder", str(broken))
    assert done.returncode == 65
    assert "unknown field 'eventSource'" in done.stderr
    assert not [r for r in cluster.requests if r.method in ("POST", "PUT")]
