"""mlops apply and mlops logs against a Kubernetes API that behaves like one: it adds the fields the API
server and Argo's controllers add, refuses stale writes, unknown resources, tokens and RBAC it does
not grant, and log requests that name no container (tests/support/fake_cluster.py says which
documented behaviour each follows). Each test checks what was sent."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from steps.errors import BadSetting, StepError
from tests.support.fake_cluster import LAST_USED_SCHEDULE, FakeCluster, cluster_with_templates, kubeconfig
from workflows.cluster.apply import apply_object, cluster_objects
from workflows.cluster.client import KubeApi
from workflows.pipelines.compile import MANIFESTS_DIR
from workflows.settings import Settings

TOKEN = "kube-api-token-5d2"
MLOPS = str(Path(sys.executable).parent / "mlops")
CUSTOM = "/apis/argoproj.io/v1alpha1/namespaces/argo-mlops"
SERVER_SET = ("uid", "creationTimestamp", "generation", "resourceVersion", "managedFields")


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    """An empty fake cluster (the objects apply makes are its to make), reached through KUBECONFIG."""
    fake, server = cluster_with_templates(TOKEN, tmp_path)
    fake.objects.clear()
    monkeypatch.setenv("KUBECONFIG", fake.env["KUBECONFIG"])
    yield fake
    server.shutdown()


def kube() -> KubeApi:
    return KubeApi(Settings())


def apply_all(folder: Path = MANIFESTS_DIR) -> dict[str, str]:
    api = kube()
    return {
        f"{doc['kind']}/{doc['metadata']['name']}": apply_object(api, doc)
        for _, doc in cluster_objects(folder)
    }


def writes(cluster: FakeCluster, since: int = 0) -> list:
    return [r for r in cluster.requests[since:] if r.method in ("POST", "PUT")]


def changed_manifests(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    folder = tmp_path / "manifests"
    folder.mkdir(exist_ok=True)
    for path in MANIFESTS_DIR.glob("*.yaml"):
        text = path.read_text()
        for old, new in edits:
            text = text.replace(old, new)
        (folder / path.name).write_text(text)
    return folder


def test_the_server_and_the_cron_controller_add_their_fields(cluster):
    assert set(apply_all().values()) == {"created"}
    for (plural, name), stored in cluster.objects.items():
        meta = stored["metadata"]
        assert all(meta.get(key) for key in SERVER_SET), (plural, name, meta)
        assert meta["managedFields"][0]["manager"] == "OpenAPI-Generator"  # the Python client's User-Agent
    retrain = cluster.objects[("cronworkflows", "retrain")]
    assert retrain["metadata"]["annotations"][LAST_USED_SCHEDULE] == "CRON_TZ=UTC 0 3 * * 1"
    assert retrain["status"]["phase"] == "Active" and "lastScheduledTime" in retrain["status"]
    # the controller's patch is a write: a newer version than the create answered, and (no status
    # subresource) a new generation; a template nobody else touched stays at generation 1
    [create] = [r for r in writes(cluster) if r.path == f"{CUSTOM}/cronworkflows"][1:]
    assert create.body["metadata"]["name"] == "retrain" and create.answered == 201
    assert retrain["metadata"]["generation"] == 2
    assert [m["manager"] for m in retrain["metadata"]["managedFields"]] == [
        "OpenAPI-Generator",
        "workflow-controller",
    ]
    assert cluster.objects[("workflowtemplates", "training")]["metadata"]["generation"] == 1


def test_a_second_apply_finds_everything_unchanged_and_writes_nothing(cluster):
    apply_all()
    versions = {key: obj["metadata"]["resourceVersion"] for key, obj in cluster.objects.items()}
    before = len(cluster.requests)

    assert set(apply_all().values()) == {"unchanged"}
    assert writes(cluster, before) == []
    assert [r.method for r in cluster.requests[before:]] == ["GET"] * 7
    assert {key: obj["metadata"]["resourceVersion"] for key, obj in cluster.objects.items()} == versions


def test_a_change_replaces_at_the_current_version_and_keeps_what_others_added(cluster, tmp_path):
    apply_all()
    # ArgoCD, syncing the same templates, adds its own label and annotation
    template = copy.deepcopy(cluster.objects[("workflowtemplates", "training")])
    template["metadata"]["labels"]["app.kubernetes.io/instance"] = "argo-mlops"
    template["metadata"]["annotations"] = {
        "argocd.argoproj.io/tracking-id": "argo-mlops:argoproj.io/WorkflowTemplate"
    }
    cluster.put("workflowtemplates", template, "argocd-controller")
    current = {key: copy.deepcopy(obj) for key, obj in cluster.objects.items()}
    before = len(cluster.requests)

    folder = changed_manifests(
        tmp_path, ("activeDeadlineSeconds: 21600", "activeDeadlineSeconds: 7200"), ("0 3 * * 1", "0 4 * * 1")
    )
    done = apply_all(folder)
    assert done["WorkflowTemplate/training"] == "updated" and done["CronWorkflow/retrain"] == "updated"
    assert done["WorkflowTemplate/drift"] == "unchanged"

    puts = {r.path.rsplit("/", 2)[-2]: r for r in writes(cluster, before)}
    assert set(puts) == {"workflowtemplates", "cronworkflows"} and all(
        r.method == "PUT" for r in puts.values()
    )
    assert all(r.answered == 200 and r.authorization == f"Bearer {TOKEN}" for r in puts.values())
    sent = puts["workflowtemplates"].body
    old = current[("workflowtemplates", "training")]
    assert sent["metadata"]["resourceVersion"] == old["metadata"]["resourceVersion"]
    assert sent["metadata"]["uid"] == old["metadata"]["uid"]
    assert "managedFields" not in sent["metadata"]  # left out: the server keeps them
    assert sent["metadata"]["labels"]["app.kubernetes.io/instance"] == "argo-mlops"
    assert sent["metadata"]["annotations"] == old["metadata"]["annotations"]
    assert sent["spec"]["activeDeadlineSeconds"] == 7200
    sent_cron = puts["cronworkflows"].body
    old_cron = current[("cronworkflows", "retrain")]
    assert sent_cron["status"] == old_cron["status"]  # no status subresource: a PUT without it erases it
    assert sent_cron["metadata"]["annotations"][LAST_USED_SCHEDULE] == "CRON_TZ=UTC 0 3 * * 1"
    assert sent_cron["spec"]["schedules"] == ["0 4 * * 1"]

    stored = cluster.objects[("workflowtemplates", "training")]
    assert stored["metadata"]["generation"] == old["metadata"]["generation"] + 1
    assert stored["metadata"]["creationTimestamp"] == old["metadata"]["creationTimestamp"]
    assert {m["manager"] for m in stored["metadata"]["managedFields"]} == {
        "OpenAPI-Generator",
        "argocd-controller",
    }
    cron = cluster.objects[("cronworkflows", "retrain")]
    assert (
        cron["metadata"]["annotations"][LAST_USED_SCHEDULE] == "CRON_TZ=UTC 0 4 * * 1"
    )  # the controller saw it

    again = len(cluster.requests)
    assert set(apply_all(folder).values()) == {"unchanged"}
    assert writes(cluster, again) == []


def test_a_write_between_read_and_replace_is_a_conflict_and_apply_reads_again(cluster, tmp_path):
    apply_all()
    cluster.interfere.add(("cronworkflows", "retrain"))  # the cron controller runs it right after our GET
    read_at = cluster.objects[("cronworkflows", "retrain")]["metadata"]["resourceVersion"]
    before = len(cluster.requests)

    done = apply_all(changed_manifests(tmp_path, ("0 3 * * 1", "0 5 * * 1")))
    assert done["CronWorkflow/retrain"] == "updated"
    path = f"{CUSTOM}/cronworkflows/retrain"
    sent = [
        (r.method, r.answered, (r.body or {}).get("metadata", {}).get("resourceVersion"))
        for r in cluster.requests[before:]
        if r.path == path
    ]
    [(_, _, stale), (_, _, fresh)] = [s for s in sent if s[0] == "PUT"]
    assert [(m, code) for m, code, _ in sent] == [("GET", 200), ("PUT", 409), ("GET", 200), ("PUT", 200)]
    assert stale == read_at and int(fresh) > int(read_at)
    assert cluster.objects[("cronworkflows", "retrain")]["spec"]["schedules"] == ["0 5 * * 1"]


def test_the_fake_refuses_what_the_api_server_refuses(cluster):
    apply_all()
    url = f"{cluster.url}{CUSTOM}/workflowtemplates/training"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    stored = copy.deepcopy(cluster.objects[("workflowtemplates", "training")])

    unversioned = copy.deepcopy(stored)
    del unversioned["metadata"]["resourceVersion"]
    answer = requests.put(url, json=unversioned, headers=auth, timeout=10)
    assert answer.status_code == 422
    assert (
        answer.json()["reason"] == "Invalid" and "must be specified for an update" in answer.json()["message"]
    )

    stale = copy.deepcopy(stored)
    stale["metadata"]["resourceVersion"] = "1"
    answer = requests.put(url, json=stale, headers=auth, timeout=10)
    assert answer.status_code == 409 and answer.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'Operation cannot be fulfilled on workflowtemplates.argoproj.io "training": the object has been '
        "modified; please apply your changes to the latest version and try again",
        "reason": "Conflict", "details": {"name": "training", "group": "argoproj.io", "kind": "workflowtemplates"},
        "code": 409,
    }  # fmt: skip

    answer = requests.post(f"{cluster.url}{CUSTOM}/workflowtemplates", json=stored, headers=auth, timeout=10)
    assert (answer.status_code, answer.json()["reason"]) == (409, "AlreadyExists")

    answer = requests.get(f"{cluster.url}{CUSTOM}/workflowtemplates/nope", headers=auth, timeout=10)
    assert (answer.status_code, answer.json()["details"]["name"]) == (404, "nope")

    answer = requests.get(url, headers={"Authorization": "Bearer wrong"}, timeout=10)
    assert (answer.status_code, answer.json()["kind"], answer.json()["reason"]) == (
        401,
        "Status",
        "Unauthorized",
    )

    with pytest.raises(StepError, match="must be specified for an update"):
        kube().replace(unversioned)
    assert cluster.objects[("workflowtemplates", "training")] == stored  # nothing refused was stored


def test_a_token_without_rbac_is_refused_with_the_servers_reason(cluster, tmp_path):
    cluster.tokens_without_rbac.add("no-rbac-token")
    config = tmp_path / "no-rbac"
    config.write_text(kubeconfig(cluster.url, "no-rbac-token", cluster.namespace))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "ARGO_", "KUBECONFIG"))}
    done = subprocess.run(
        [MLOPS, "apply"], env=clean | {"KUBECONFIG": str(config)}, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 77, done.stderr
    assert "Traceback" not in done.stderr
    assert (
        'cronworkflows.argoproj.io "drift-check" is forbidden: User "system:serviceaccount:argo-mlops:no-rbac" '
        'cannot get resource "cronworkflows" in API group "argoproj.io"' in " ".join(done.stderr.split())
    )
    [sent] = cluster.requests
    assert (sent.method, sent.path, sent.authorization, sent.answered) == (
        "GET", f"{CUSTOM}/cronworkflows/drift-check", "Bearer no-rbac-token", 403,
    )  # fmt: skip
    assert cluster.objects == {}


def test_a_resource_the_server_does_not_serve_is_a_missing_crd_not_a_missing_object(cluster):
    cluster.served -= {"eventsources", "sensors"}  # Argo Events not installed
    api = kube()
    [events] = [doc for _, doc in cluster_objects(MANIFESTS_DIR) if doc["kind"] == "EventSource"]
    with pytest.raises(
        BadSetting, match=r"does not serve eventsources\.argoproj\.io .*install Argo Events's CRDs"
    ):
        apply_object(api, events)
    sent = cluster.requests[-1]
    assert (sent.method, sent.path, sent.answered) == ("GET", f"{CUSTOM}/eventsources/argo-mlops-data", 404)
    assert writes(cluster) == []  # a missing CRD is not a missing object: nothing was POSTed


# --- logs through the Kubernetes API ---


def finished_run(cluster: FakeCluster) -> dict:
    cluster.put(
        "workflowtemplates", yaml.safe_load((MANIFESTS_DIR / "training.yaml").read_text())
    )  # the fixture cleared the store
    reply = cluster.create_workflow(
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "training-"},
         "spec": {"workflowTemplateRef": {"name": "training"}}}, 201, "test",
    )  # fmt: skip
    workflow = reply.body
    while workflow["status"]["phase"] == "Running":
        cluster.advance(workflow)
    return workflow


def test_kube_logs_ask_for_the_main_container_and_read_a_log_cut_anywhere(cluster):
    run = finished_run(cluster)
    # a killed container's log: CRLF, UTF-8 cut by the chunks, and a last line cut mid-character
    cluster.pod_logs["train"] = "épochs 1/2 …\r\nAUC 0.91 ✓\nkilled mid-wri".encode() + "✓".encode()[:2]
    cluster.log_chunk = 5
    before = len(cluster.requests)

    lines = list(kube().logs(run, "train"))
    assert lines == [("train", "épochs 1/2 …"), ("train", "AUC 0.91 ✓"), ("train", "killed mid-wri\ufffd")]
    listed, read = cluster.requests[before:]
    assert (listed.path, listed.query) == (
        "/api/v1/namespaces/argo-mlops/pods",
        {"labelSelector": [f"workflows.argoproj.io/workflow={run['metadata']['name']}"]},
    )
    [train] = [n for n in run["status"]["nodes"].values() if n["displayName"] == "train"]
    assert (
        read.method == "GET"
        and read.path == f"/api/v1/namespaces/argo-mlops/pods/{cluster.pod_name(run, train)}/log"
    )
    assert read.query == {"container": ["main"]}
    assert (read.authorization, read.answered) == (f"Bearer {TOKEN}", 200)

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "ARGO_", "KUBECONFIG"))}
    done = subprocess.run(
        [MLOPS, "logs", run["metadata"]["name"], "--step", "train", "--via", "kube"],
        env=clean | cluster.env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "train: épochs 1/2 …",
        "train: AUC 0.91 ✓",
        "train: killed mid-wri\ufffd",
    ]


def test_the_fake_refuses_a_log_request_that_names_no_container(cluster):
    run = finished_run(cluster)
    pod = cluster.pod_name(run, next(iter(run["status"]["nodes"].values())))
    url = f"{cluster.url}/api/v1/namespaces/argo-mlops/pods/{pod}/log"
    auth = {"Authorization": f"Bearer {TOKEN}"}

    answer = requests.get(url, headers=auth, timeout=10)
    assert answer.status_code == 400 and answer.json()["reason"] == "BadRequest"
    assert answer.json()["message"] == (
        f"a container name must be specified for pod {pod}, choose one of: [wait main] "
        "or one of the init containers: [init]"
    )
    answer = requests.get(url, params={"container": "nope"}, headers=auth, timeout=10)
    assert (answer.status_code, answer.json()["message"]) == (
        400,
        f"container nope is not valid for pod {pod}",
    )
    answer = requests.get(url, params={"container": "main"}, headers=auth, timeout=10)
    assert answer.status_code == 200 and answer.headers["Transfer-Encoding"] == "chunked"
    assert answer.text == f"{pod}: kube line 1\n{pod}: kube line 2"  # no newline at the end
