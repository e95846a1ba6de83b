"""notify: the run summary with failures and log lines, delivered to a webhook, never failing."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tests.conftest import local_env, run_step


@pytest.fixture
def webhook():
    """A Slack-style incoming webhook on loopback that records what it receives."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/T000", received
    server.shutdown()


FAILURES = json.dumps(
    [
        {
            "displayName": "ingest",
            "templateName": "ingest",
            "phase": "Failed",
            "message": "Error (exit code 65)",
        }
    ]
)


def test_failed_run_is_summarised_with_the_steps_error_and_log(tmp_path, webhook):
    url, received = webhook
    run_dir = tmp_path / "runs" / "training-abc12"
    (run_dir / "logs").mkdir(parents=True)
    (run_dir / "logs" / "ingest.attempt-1.log").write_text(
        "[ingest] reading\ningest: error: data/: does not exist\n"
    )
    env = local_env(tmp_path) | {"MLOPS_NOTIFY_URL": url}
    done = run_step(
        "notify", "--run-dir", str(run_dir), "--workflow-status", "Failed", "--failures", FAILURES, env=env
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((run_dir / "notify" / "summary.json").read_text())
    assert summary["workflow"] == "training-abc12" and summary["status"] == "Failed"
    assert summary["failures"][0]["first_error"] == "ingest: error: data/: does not exist"
    assert summary["failures"][0]["log_tail"][-1] == "ingest: error: data/: does not exist"
    assert len(received) == 1
    assert "training-abc12* Failed" in received[0]["text"] and "`ingest` failed" in received[0]["text"]
    assert done.outputs["delivered"] == "true"


def test_a_dead_webhook_never_fails_the_workflow(tmp_path):
    from tests.conftest import free_port

    env = local_env(tmp_path) | {"MLOPS_NOTIFY_URL": f"http://127.0.0.1:{free_port()}/hook"}
    done = run_step("notify", "--run-dir", str(tmp_path / "r"), "--workflow-status", "Succeeded", env=env)
    assert done.returncode == 0
    assert done.outputs["delivered"] == "false"
    assert "could not be delivered" in done.stderr
    assert "127.0.0.1" not in done.stderr  # the webhook URL is a credential: never logged
