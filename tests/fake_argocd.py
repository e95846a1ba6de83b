"""A test stand-in for the ArgoCD API server: the two endpoints a deploy calls, on loopback.

``GET /api/v1/applications/{name}`` and ``POST /api/v1/applications/{name}/sync``, with the fields
ArgoCD documents (``operation``, ``status.operationState.{startedAt,finishedAt,phase,message}``,
``status.reconciledAt``, ``status.sync.status``, ``status.health.{status,message}``). Each sync
runs for two polls, then ends as the scenario says. Every request is recorded for assertions.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SCENARIOS = ("healthy", "degraded", "sync-error", "never-finishes")


@dataclass
class Recorded:
    method: str
    path: str
    authorization: str
    body: Any


@dataclass
class FakeArgoCD:
    app: str
    token: str
    scenario: str = "healthy"
    requests: list[Recorded] = field(default_factory=list)
    operations: int = 0
    polls_left: int = 0

    def clock(self, tick: int) -> str:
        return f"2026-11-22T10:{tick // 60:02d}:{tick % 60:02d}Z"

    def application(self, advance: bool = True) -> dict[str, Any]:
        """The Application as ArgoCD shows it; a GET advances a running sync by one poll."""
        status: dict[str, Any] = {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}
        if self.operations == 0:
            status["operationState"] = {
                "phase": "Succeeded",
                "startedAt": self.clock(0),
                "finishedAt": self.clock(1),
            }
            status["reconciledAt"] = self.clock(1)
            return {"metadata": {"name": self.app}, "status": status}
        started = self.clock(10 * self.operations)
        if self.polls_left > 0 or self.scenario == "never-finishes":
            self.polls_left -= advance
            status["sync"]["status"] = "OutOfSync"
            status["operationState"] = {"phase": "Running", "startedAt": started}
            return {"metadata": {"name": self.app}, "operation": {"sync": {"prune": True}}, "status": status}
        finished = self.clock(10 * self.operations + 5)
        phase = "Failed" if self.scenario == "sync-error" else "Succeeded"
        status["operationState"] = {
            "phase": phase,
            "startedAt": started,
            "finishedAt": finished,
            "message": "one or more objects failed to apply" if phase == "Failed" else "successfully synced",
        }
        status["reconciledAt"] = finished
        if self.scenario == "degraded":
            status["health"] = {
                "status": "Degraded",
                "message": "InferenceService fraud: predictor container crash-looping",
            }
        return {"metadata": {"name": self.app}, "status": status}

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.requests.append(Recorded(method, self.path, self.headers.get("Authorization", ""), body))
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._reply(
                        401, {"error": "unauthorized", "code": 16, "message": "no session information"}
                    )
                base = f"/api/v1/applications/{fake.app}"
                if method == "GET" and self.path == base:
                    return self._reply(200, fake.application())
                if method == "POST" and self.path == f"{base}/sync":
                    fake.operations += 1
                    fake.polls_left = 2
                    return self._reply(200, fake.application(advance=False))
                return self._reply(
                    404,
                    {
                        "error": "not found",
                        "code": 5,
                        "message": f'applications.argoproj.io "{self.path}" not found',
                    },
                )

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_port}"
