"""Planted secrets never leave the environment: a full local run (train, register, deploy, notify)
with every secret setting set, then every byte it wrote is searched for them: run records, logs,
outputs, the MLflow database and artifacts, the GitOps history, the console, the webhook body.

That run uses none of the secrets, so a second test plants them where they are used: steps whose
run folder and storage root are on S3 (moto, behind a recording proxy), a deploy that pushes to a
git host asking for the GitOps token and syncs through the ArgoCD double, and ``mlops submit``
against the Argo Server and Kubernetes API double. It checks each double received its credential,
then searches every byte written, stored, printed or sent for every secret (raw, base64,
percent-encoded); a third test checks that the search finds a planted secret in each form."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, urlsplit

import boto3
import pytest
from mlflow import MlflowClient

from tests.conftest import ROOT, run_step
from tests.e2e.test_gitops_token import encodings
from tests.support.fake_argocd import FakeArgoCD
from tests.support.fake_cluster import cluster_with_templates
from tests.support.flaky_proxy import HOP_BY_HOP
from tests.support.git_http import git_host

pytestmark = [pytest.mark.e2e, pytest.mark.faults]
SECRETS = {
    "MLOPS_GITOPS_TOKEN": "ghp_plantedGitopsToken5e1f",
    "MLOPS_ARGOCD_TOKEN": "argocd-planted-token-77ab",
    "AWS_SECRET_ACCESS_KEY": "plantedAwsSecretKey/9Qx+2",
    "ARGO_TOKEN": "argo-planted-token-c4d9",
}
WEBHOOK_SECRET = "T0PLANTED/B0HOOK/xyzSecretPath"


def webhook() -> tuple[ThreadingHTTPServer, str, list[bytes]]:
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/services/{WEBHOOK_SECRET}", bodies


def test_no_planted_secret_is_written_anywhere_by_a_full_run(tmp_path, sample_data):
    server, url, bodies = webhook()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_") and k != "MLFLOW_TRACKING_URI"}
    env |= SECRETS | {
        "MLOPS_STORAGE_ROOT": str(tmp_path / ".mlops"),
        "MLOPS_DATA_URI": str(sample_data),
        "MLOPS_NOTIFY_URL": url,
        "AWS_ACCESS_KEY_ID": "AKIAPLANTEDKEYID0000",
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "workflows.cli", "run", "training", "-p", "epochs=6", "-p", "batch-size=128", "-p", "min-auc=0.5"],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
        )  # fmt: skip
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert bodies, "notify did not post to the webhook"
    summary = json.loads((next((tmp_path / ".mlops" / "runs").glob("*/notify/summary.json"))).read_text())
    assert summary["model"]["deployed_commit"]  # the run went all the way through deploy

    written = [p for p in (tmp_path / ".mlops").rglob("*") if p.is_file()]
    assert any(p.name == "mlflow.db" for p in written) and any(p.suffix == ".log" for p in written)
    history = subprocess.run(
        ["git", "--git-dir", str(tmp_path / ".mlops" / "gitops.git"), "log", "-p", "--all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout  # git objects are compressed: read the history as text
    planted = [*SECRETS.values(), WEBHOOK_SECRET, env["AWS_ACCESS_KEY_ID"]]
    for secret in planted:
        needle = secret.encode()
        leaks = [str(p) for p in written if needle in p.read_bytes()]
        leaks += [
            where
            for where, text in (("stdout", done.stdout), ("stderr", done.stderr), ("git history", history))
            if secret in text
        ]
        leaks += ["webhook body" for body in bodies if needle in body]
        assert leaks == [], (secret, leaks)


# --- the secrets planted where they are used: S3, ArgoCD, the GitOps host, the Argo Server ---

USED = {
    "AWS_ACCESS_KEY_ID": "AKIAPLANTEDUSEDK3Y7Q",
    "AWS_SECRET_ACCESS_KEY": "plantedUsedAwsSecret/8Rw+3kLmZp",
    "MLOPS_ARGOCD_TOKEN": "argocd-used-token-5be1d0",
    "MLOPS_GITOPS_TOKEN": "ghp_usedGitopsToken93ac7f",
    "ARGO_TOKEN": "argo-used-token-d81e4a",
}
APP, MODEL, GITOPS_REPO = "fraud-serving", "svc", "serving.git"
BUCKET = "secret-scan"


def forms(secret: str) -> list[bytes]:
    """The secret raw, base64-encoded at any alignment (``encodings`` of the GitOps token test), and
    percent-encoded (an AWS secret has ``/`` and ``+``, which a URL or a form would escape)."""
    return [*encodings(secret), quote(secret, safe="").encode()]


def found(texts: dict[str, bytes], secrets: dict[str, str] = USED) -> list[tuple[str, str]]:
    """(setting, where) for each planted secret, in any of its forms, found in any of ``texts``."""
    return [
        (name, where)
        for where, text in texts.items()
        for name, secret in secrets.items()
        if any(form in text for form in forms(secret))
    ]


def context(text: bytes, secret: str) -> str:
    """Where in ``text`` a form of ``secret`` is, with a little around it, for the failure message."""
    at = max((text.find(form) for form in forms(secret)), default=-1)
    return repr(text[max(at - 200, 0) : at + 200])


@dataclass
class S3Request:
    method: str
    path: str  # with the query, as sent
    headers: dict[str, str]
    body: bytes


class RecordingProxy:
    """A proxy on loopback in front of moto's server that records every request, whole."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.requests: list[S3Request] = []

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                assert "chunked" not in self.headers.get("Transfer-Encoding", ""), "body framing not read"
                proxy.requests.append(S3Request(self.command, self.path, dict(self.headers.items()), body))
                connection = http.client.HTTPConnection(
                    proxy.upstream.hostname, proxy.upstream.port, timeout=60
                )
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                connection.request(self.command, self.path, body=body or None, headers=headers)
                response = connection.getresponse()
                data = response.read()
                self.send_response(response.status)
                dropped = HOP_BY_HOP if self.command == "HEAD" else HOP_BY_HOP | {"content-length"}
                for key, value in response.getheaders():
                    if key.lower() not in dropped:
                        self.send_header(key, value)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                connection.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

            def log_message(self, *args) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_port}"


def signed_with(request: S3Request, host: str, access_key: str, secret_key: str) -> bool:
    """Whether the request's SigV4 ``Authorization`` was computed with this key pair: the signature
    is recomputed from the signed headers as recorded, with the planted secret key."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    match = re.fullmatch(
        r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, "
        r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})",
        request.headers.get("Authorization", ""),
    )
    if match is None or match.group(1) != access_key:
        return False
    _, _, region, signed, signature = match.groups()
    headers = {k.lower(): v for k, v in request.headers.items()}
    wanted = AWSRequest(
        method=request.method,
        url=f"http://{host}{request.path}",
        headers={name: headers[name] for name in signed.split(";")},
        data=request.body,
    )
    wanted.context["timestamp"] = headers["x-amz-date"]
    auth = S3SigV4Auth(Credentials(access_key, secret_key), "s3", region)
    string_to_sign = auth.string_to_sign(wanted, auth.canonical_request(wanted))
    return auth.signature(string_to_sign, wanted) == signature


def authorization(request) -> str:
    return next((v for k, v in request.headers.items() if k.lower() == "authorization"), "")


def sent(double: str, requests: list) -> dict[str, bytes]:
    """What a double recorded of each request, its Authorization header left out: method, path,
    query, the other headers and the body."""
    texts = {}
    for number, request in enumerate(requests):
        record = {k: v for k, v in vars(request).items() if k not in ("authorization", "headers")}
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        body = record.pop("body")
        texts[f"{double} request {number}"] = repr((record, headers)).encode() + (
            body if isinstance(body, bytes) else repr(body).encode()
        )
    return texts


def bucket_objects(client) -> dict[str, bytes]:
    """Every object of every bucket on moto's server, read back."""
    objects = {}
    for bucket in client.list_buckets()["Buckets"]:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for item in page.get("Contents", []):
                key = f"s3://{bucket['Name']}/{item['Key']}"
                objects[key] = client.get_object(Bucket=bucket["Name"], Key=item["Key"])["Body"].read()
    return objects


def test_the_scan_finds_a_planted_secret_in_any_form():
    """The scanner is not blind: each secret is found raw, inside a base64 text at any offset (as in
    a Basic header), percent-encoded, and as a byte in a bigger blob; nothing is found in a clean one."""
    for name, secret in USED.items():
        for prefix in ("", "x", "xy", "x-access-token:"):
            blob = base64.b64encode(f"{prefix}{secret}".encode())
            assert found({"b64": b"Basic " + blob + b"\r\n"}) == [(name, "b64")]
        assert found({"raw": b"\0log: " + secret.encode() + b"\n"}) == [(name, "raw")]
        assert found({"url": f"?token={quote(secret, safe='')}".encode()}) == [(name, "url")]
    assert found({"clean": b"AKIA argo token ghp_ " * 100}) == []


def test_secrets_used_against_s3_argocd_the_git_host_and_argo_are_written_nowhere(
    s3_server, sample_data, tmp_path, monkeypatch
):
    """Every secret is planted in every process's environment and really used: the S3 requests are
    signed with the planted key pair (the signature recomputed here), ArgoCD gets the Bearer token,
    the git host authenticates the GitOps token on the push, the Argo Server and the Kubernetes API
    get the Argo token. Then every byte the steps and ``mlops submit`` wrote or printed is searched
    for every secret, raw, base64 or percent-encoded: the run folder and storage root on S3 (every
    object read back), the local files (cwd, HOME, TMPDIR, outputs, the MLflow database), stdout and
    stderr, result.json, the remote's history and objects, and the doubles' records of each request;
    only an Authorization header may carry a secret, and only its own double's."""
    for name in [k for k in os.environ if k.startswith(("MLOPS_", "ARGO_", "KUBECONFIG", "GIT_CONFIG_"))]:
        monkeypatch.delenv(name)
    written = tmp_path / "written"  # where the processes may write; all of it is searched
    home, scratch, cwd, outputs = (written / name for name in ("home", "tmpdir", "cwd", "outputs"))
    for folder in (home, scratch, cwd, outputs):
        folder.mkdir(parents=True)
    (home / ".gitconfig").write_text("[credential]\n\thelper = store\n")  # git would keep a token it held
    monkeypatch.setattr(tempfile, "tempdir", str(outputs))  # run_step's outputs folders
    given = tmp_path / "given"  # the test's own inputs (the kubeconfig holds the Argo token)
    given.mkdir()

    moto = boto3.client(
        "s3", endpoint_url=s3_server.url, region_name="us-east-1",
        aws_access_key_id=USED["AWS_ACCESS_KEY_ID"], aws_secret_access_key=USED["AWS_SECRET_ACCESS_KEY"],
    )  # fmt: skip
    moto.create_bucket(Bucket=BUCKET)
    for path in sorted(sample_data.glob("*.parquet")):
        moto.upload_file(str(path), BUCKET, f"incoming/{path.name}")
    s3 = RecordingProxy(s3_server.url)
    s3_proxy, s3_url = s3.serve()

    tracking = f"sqlite:///{written / 'mlflow.db'}"
    registry = MlflowClient(tracking)
    registry.create_registered_model(MODEL)
    registry.create_model_version(MODEL, f"s3://models/{MODEL}/1", tags={"mlops.data_fingerprint": "1" * 16})
    registry.set_registered_model_alias(MODEL, "champion", "1")

    run_dir = f"s3://{BUCKET}/mlops/runs/scan"
    env = USED | {
        "AWS_ENDPOINT_URL": s3_url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "MLOPS_STORAGE_ROOT": f"s3://{BUCKET}/mlops",
        "MLOPS_DATA_URI": f"s3://{BUCKET}/incoming/",
        "MLFLOW_TRACKING_URI": tracking,
        "MLOPS_ARGOCD_APP": APP,
        "HOME": str(home),
        "TMPDIR": str(scratch),
    }
    streams: dict[str, bytes] = {}
    with git_host(tmp_path / "host", USED["MLOPS_GITOPS_TOKEN"]) as host:
        host.create(GITOPS_REPO)
        argocd = FakeArgoCD(APP, USED["MLOPS_ARGOCD_TOKEN"], repo=host.root / GITOPS_REPO)
        argocd_server, argocd_url = argocd.serve()
        cluster, cluster_server = cluster_with_templates(USED["ARGO_TOKEN"], given)
        env |= {"MLOPS_GITOPS_REPO_URL": host.url(GITOPS_REPO), "MLOPS_ARGOCD_SERVER": argocd_url}
        try:
            steps = [
                ("ingest", "--data-uri", f"s3://{BUCKET}/incoming/"),
                ("validate_data",),
                ("features",),
                ("deploy", "--model-name", MODEL, "--version", "1", "--poll-seconds", "0.05"),
            ]
            for step, *args in steps:
                done = run_step(step, "--run-dir", run_dir, *args, env=env, cwd=cwd)
                streams[f"{step} stdout"] = done.stdout.encode()
                streams[f"{step} stderr"] = done.stderr.encode()
                assert done.returncode == 0, done.stderr[-3000:]
            submitted = subprocess.run(
                [sys.executable, "-m", "workflows.cli", "submit", "training", "--wait", "--interval", "0.01"],
                capture_output=True, cwd=cwd, timeout=120,
                env=os.environ | env | {"ARGO_SERVER": cluster.url, "KUBECONFIG": str(given / "kubeconfig")},
            )  # fmt: skip
            streams["submit stdout"], streams["submit stderr"] = submitted.stdout, submitted.stderr
            assert submitted.returncode == 0, submitted.stderr.decode()[-3000:]
        finally:
            for server in (s3_proxy, argocd_server, cluster_server):
                server.shutdown()

        # Each secret was used: the doubles received it.
        signed = [r for r in s3.requests if "Authorization" in r.headers]
        assert len(signed) == len(s3.requests) > 10
        proxy, key_id = urlsplit(s3_url).netloc, USED["AWS_ACCESS_KEY_ID"]
        assert all(signed_with(r, proxy, key_id, USED["AWS_SECRET_ACCESS_KEY"]) for r in signed)
        assert not any(signed_with(r, proxy, key_id, "not" + USED["AWS_SECRET_ACCESS_KEY"]) for r in signed)
        assert {r.path.split("?")[0] for r in s3.requests if r.method == "PUT"} >= {
            f"/{BUCKET}/mlops/runs/scan/deploy/result.json"
        }
        assert {r.authorization for r in argocd.requests} == {f"Bearer {USED['MLOPS_ARGOCD_TOKEN']}"}
        assert any(
            r.method == "POST" and r.path.endswith("/sync") and r.status == 200 for r in argocd.requests
        )
        assert host.requests and all(r.authenticated for r in host.requests)
        assert [(r.method, r.status) for r in host.requests if r.service == "git-receive-pack"] == [
            ("GET", 200),
            ("POST", 200),
        ]
        assert {r.authorization for r in cluster.requests} == {f"Bearer {USED['ARGO_TOKEN']}"}
        assert any(r.method == "POST" and r.path == "/api/v1/workflows/argo-mlops" for r in cluster.requests)
        assert any(r.path.startswith("/api/v1/namespaces/") for r in cluster.requests)  # the kube API too

        history = subprocess.run(
            ["git", "--git-dir", str(host.root / GITOPS_REPO), "log", "-p", "--all"],
            capture_output=True, check=True,
        ).stdout  # fmt: skip
        assert f"Deploy {MODEL} version 1".encode() in history
        texts = {str(p): p.read_bytes() for p in written.rglob("*") if p.is_file()}
        texts |= bucket_objects(moto) | streams
        texts |= {"git log -p --all": history, "git objects": host.contents(GITOPS_REPO)}

    results = {f"{run_dir}/{step}/result.json" for step in ("ingest", "validate-data", "features", "deploy")}
    assert results <= texts.keys() and any(p.startswith(str(outputs)) for p in texts)
    assert not (home / ".git-credentials").exists()

    texts |= sent("S3", s3.requests) | sent("ArgoCD", argocd.requests) | sent("cluster", cluster.requests)
    texts["git host requests"] = repr(host.requests).encode()
    leaked = found(texts)
    assert leaked == [], [(name, where, context(texts[where], USED[name])) for name, where in leaked]

    # An Authorization header carries its own double's credential and no other secret.
    for double, requests, own in (
        ("S3", s3.requests, "AWS_ACCESS_KEY_ID"),
        ("ArgoCD", argocd.requests, "MLOPS_ARGOCD_TOKEN"),
        ("cluster", cluster.requests, "ARGO_TOKEN"),
    ):
        others = {name: value for name, value in USED.items() if name != own}
        headers = "".join(authorization(r) for r in requests).encode()
        assert found({f"{double} Authorization": headers}, others) == []
