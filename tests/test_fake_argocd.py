"""The ArgoCD double refuses what ArgoCD refuses (tests/support/fake_argocd.py), and steps.argocd
reads those refusals right: in process, against the double on loopback, with a real bare repository."""

from __future__ import annotations

import os
import subprocess

import pytest
import requests

from steps.argocd import ArgoCD, OperationInProgress
from steps.errors import PermissionDenied
from steps.gitops import ensure_local_remote
from tests.support.fake_argocd import FakeArgoCD

APP, TOKEN = "serving", "argocd-token-0b1c"
APPLICATION = f"/api/v1/applications/{APP}"


@pytest.fixture
def remote(tmp_path) -> str:
    ensure_local_remote((tmp_path / "remote.git").as_uri(), "main")
    return str(tmp_path / "remote.git")


def push(remote: str, tmp_path, name: str) -> str:
    """A commit on main, pushed as a deploy would."""
    work = tmp_path / f"work-{name}"
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
    }
    subprocess.run(["git", "clone", "-q", remote, str(work)], check=True, capture_output=True)
    (work / f"{name}.txt").write_text(name)
    for command in (["add", "."], ["commit", "-qm", name], ["push", "-q", "origin", "HEAD:main"]):
        subprocess.run(["git", *command], cwd=work, check=True, capture_output=True, env=os.environ | env)
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def served():
    """Start a double; yields (double, url); shuts it down after."""
    started = []

    def start(fake: FakeArgoCD) -> str:
        server, url = fake.serve()
        started.append(server)
        return url

    yield start
    for server in started:
        server.shutdown()


def call(url: str, method: str, path: str, token: str | None = TOKEN, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.request(method, f"{url}{path}", headers=headers, timeout=10, **kwargs)


@pytest.mark.parametrize(
    ("method", "path", "token", "options", "status", "code", "message"),
    [
        ("GET", APPLICATION, None, {}, 401, 16, "no session information"),
        ("GET", APPLICATION, "another-token", {}, 401, 16, "invalid session: token contains"),
        ("GET", "/api/v1/applications/not-ours", TOKEN, {}, 403, 7, "permission denied"),
        ("POST", f"{APPLICATION}/sync", TOKEN, {"in_progress": 2}, 400, 9, "another operation is already in progress"),
        ("POST", f"{APPLICATION}/sync", TOKEN, {"may_sync": False}, 403, 7, "permission denied: applications, sync, default/serving"),
        ("DELETE", f"{APPLICATION}/operation", TOKEN, {}, 400, 3, "Unable to terminate operation. No operation is in progress"),
        ("DELETE", f"{APPLICATION}/operation", TOKEN, {"may_sync": False, "in_progress": 2}, 403, 7, "permission denied: applications, sync"),
    ],
)  # fmt: skip
def test_the_double_refuses_what_argocd_refuses(
    served, remote, method, path, token, options, status, code, message
):
    fake = FakeArgoCD(APP, TOKEN, repo=remote, **options)
    answer = call(served(fake), method, path, token, json={"prune": True} if method == "POST" else None)
    assert answer.status_code == status
    body = answer.json()
    assert body["code"] == code and body["message"].startswith(message) and body["error"] == body["message"]
    assert fake.requests[-1].status == status and fake.requests[-1].method == method


def test_under_auto_sync_a_revision_other_than_the_target_is_refused(served, remote):
    fake = FakeArgoCD(APP, TOKEN, repo=remote, auto_sync="prompt")
    answer = call(served(fake), "POST", f"{APPLICATION}/sync", json={"prune": True, "revision": "a" * 40})
    assert answer.status_code == 400
    assert answer.json()["message"] == f"Cannot sync to {'a' * 40}: auto-sync currently set to main"


def test_a_sync_clears_the_state_then_runs_and_a_terminate_ends_it_failed(served, remote):
    fake = FakeArgoCD(APP, TOKEN, repo=remote, scenario="never-finishes")
    url = served(fake)
    started = call(url, "POST", f"{APPLICATION}/sync", json={"prune": True}).json()
    assert started["operation"]["sync"]["prune"] is True and "operationState" not in started["status"]
    running = call(url, "GET", APPLICATION).json()
    assert running["status"]["operationState"]["phase"] == "Running" and "operation" in running
    assert call(url, "DELETE", f"{APPLICATION}/operation").status_code == 200
    ended = call(url, "GET", APPLICATION).json()
    state = ended["status"]["operationState"]
    assert "operation" not in ended and (state["phase"], state["message"]) == (
        "Failed",
        "Operation terminated",
    )
    assert state["finishedAt"] >= state["startedAt"]


def test_the_client_waits_for_the_auto_sync_of_its_push_and_judges_it(served, remote, tmp_path):
    fake = FakeArgoCD(APP, TOKEN, repo=remote, auto_sync="prompt")
    client = ArgoCD(served(fake), TOKEN)
    ours = push(remote, tmp_path, "deploy")
    status = client.deliver(APP, ours, timeout=30, poll=0.01)
    assert (
        status["sync"] == {"status": "Synced", "revision": ours} and status["health"]["status"] == "Healthy"
    )
    assert [r.method for r in fake.requests] == ["GET"] * len(fake.requests)  # nothing asked: judged
    assert fake.operations[-1].automated and fake.operations[-1].revision == ours


def test_the_client_reads_the_refusals(served, remote):
    fake = FakeArgoCD(APP, TOKEN, repo=remote, in_progress=5)
    client = ArgoCD(served(fake), TOKEN)
    with pytest.raises(OperationInProgress, match="400 another operation is already in progress"):
        client.request_sync(APP)
    assert client.terminate(APP) is True
    client.application(APP)  # the controller's look: terminated
    assert client.terminate(APP) is False  # nothing runs any more
    with pytest.raises(PermissionDenied, match="403 permission denied .*MLOPS_ARGOCD_APP"):
        client.check_access("not-ours")
    with pytest.raises(PermissionDenied, match="401 invalid session.*MLOPS_ARGOCD_TOKEN"):
        ArgoCD(served(FakeArgoCD(APP, TOKEN, repo=remote)), "wrong").check_access(APP)
