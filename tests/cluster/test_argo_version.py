"""mlops submit's preflight reads the Argo Server's version (GET /api/v1/version) and refuses one older
than the manifests need (3.6: CronWorkflow spec.schedules, synchronization.mutexes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from steps.errors import BadSetting
from tests.support.fake_cluster import FakeCluster, cluster_with_templates
from workflows.cluster.client import ArgoServer
from workflows.cluster.submit import argo_version
from workflows.settings import Settings

TOKEN = "argo-version-token-71c"
MLOPS = str(Path(sys.executable).parent / "mlops")
VERSION = "/api/v1/version"
CREATE = "/api/v1/workflows/argo-mlops"


@pytest.fixture
def cluster(tmp_path):
    """A fake cluster with the compiled templates, the service account and the settings ConfigMap."""
    fake, server = cluster_with_templates(TOKEN, tmp_path)
    yield fake
    server.shutdown()


def submit(cluster: FakeCluster, *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "ARGO_", "KUBECONFIG"))}
    return subprocess.run(
        [MLOPS, "submit", "training", *args],
        env=clean | cluster.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def sent(cluster: FakeCluster) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in cluster.requests]


def test_preflight_reads_the_version_first_and_submits_to_a_supported_server(cluster):
    done = submit(cluster)
    assert done.returncode == 0, done.stderr
    assert "preflight: Argo Workflows version v3.6.2: ok" in done.stderr
    first = cluster.requests[0]
    assert (first.method, first.path, first.authorization) == ("GET", VERSION, f"Bearer {TOKEN}")
    assert ("POST", CREATE) in sent(cluster)


def test_an_older_server_is_refused_in_one_line_before_anything_else_is_sent(cluster):
    cluster.argo_version = "v3.5.8"
    done = submit(cluster)
    assert done.returncode == 78
    assert done.stderr.strip() == (
        f"error: preflight: the Argo Server at {cluster.url} runs Argo Workflows v3.5.8; the manifests need "
        ">= 3.6 (CronWorkflow spec.schedules, synchronization.mutexes): upgrade Argo Workflows"
    )
    assert sent(cluster) == [("GET", VERSION)]


def test_a_version_that_is_not_a_release_is_let_through_with_a_note(cluster):
    cluster.argo_version = "untagged"
    done = submit(cluster)
    assert done.returncode == 0, done.stderr
    assert (
        "preflight: Argo Workflows version: not checked (untagged: not a release version; the manifests need >= 3.6)"
        in done.stderr
    )
    assert ("POST", CREATE) in sent(cluster)


@pytest.mark.parametrize(
    ("version", "accepted"),
    [
        ("v3.6.0", True), ("v3.6.0-rc1", True), ("v3.7.2", True), ("v3.10.1", True), ("v4.0.5", True),
        ("v3.6.0+5f1c2b7", True), ("v3.5.14", False), ("v2.12.13", False), ("v3.4.0-rc3", False),
    ],
)  # fmt: skip
def test_the_version_is_compared_as_numbers(cluster, monkeypatch, version, accepted):
    cluster.argo_version = version
    monkeypatch.setenv("ARGO_SERVER", cluster.url)
    monkeypatch.setenv("ARGO_TOKEN", TOKEN)
    server = ArgoServer(Settings())
    if accepted:
        finding = argo_version(server)
        assert (finding.ok, finding.line()) == (True, f"preflight: Argo Workflows version {version}: ok")
    else:
        with pytest.raises(BadSetting, match=f"runs Argo Workflows {version}; the manifests need >= 3.6"):
            argo_version(server)
    assert sent(cluster) == [("GET", VERSION)]


def test_an_answer_without_the_documented_fields_is_noted_not_refused(cluster, monkeypatch):
    cluster.version_info = lambda: {"version": "v3.6.2"}  # a proxy's partial answer, not Argo's Version
    monkeypatch.setenv("ARGO_SERVER", cluster.url)
    monkeypatch.setenv("ARGO_TOKEN", TOKEN)
    finding = argo_version(ArgoServer(Settings()))
    assert finding.line() == (
        "preflight: Argo Workflows version: not checked (the server does not say (GET /api/v1/version); "
        "the manifests need >= 3.6)"
    )


def test_a_token_forbidden_to_read_the_version_is_noted_and_the_submit_goes_on(cluster):
    cluster.forbidden.add(VERSION)
    done = submit(cluster)
    assert done.returncode == 0, done.stderr
    assert (
        "preflight: Argo Workflows version: not checked (forbidden to read it; the manifests need >= 3.6)"
        in done.stderr
    )
    assert sent(cluster)[0] == ("GET", VERSION) and ("POST", CREATE) in sent(cluster)


def test_via_kube_there_is_no_argo_server_to_ask_and_it_says_so(cluster):
    done = submit(cluster, "--via", "kube")
    assert done.returncode == 0, done.stderr
    assert (
        "preflight: Argo Workflows version: not checked (no Argo Server on --via kube; the manifests need >= 3.6)"
        in done.stderr
    )
    assert ("GET", VERSION) not in sent(cluster)
    assert ("POST", "/apis/argoproj.io/v1alpha1/namespaces/argo-mlops/workflows") in sent(cluster)
