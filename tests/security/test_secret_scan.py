"""Planted secrets never leave the environment: a full local run (train, register, deploy, notify)
with every secret setting set, then every byte it wrote is searched for them: run records, logs,
outputs, the MLflow database and artifacts, the GitOps history, the console, the webhook body."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import ROOT

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
