"""A test stand-in for the ArgoCD API server: the two endpoints a deploy calls, on loopback.

``GET /api/v1/applications/{name}`` and ``POST /api/v1/applications/{name}/sync``, with the fields
ArgoCD documents (``operation``, ``status.operationState.{startedAt,finishedAt,phase,message}``,
``status.reconciledAt``, ``status.sync.status``, ``status.health.{status,message}``). Each sync
runs for two polls, then ends as the scenario says. Every request is recorded for assertions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from tests.support.fake_http import Recorded, Reply, not_found, serve

SCENARIOS = ("healthy", "degraded", "sync-error", "never-finishes")


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

    def route(self, request: Recorded) -> Reply:
        base = f"/api/v1/applications/{self.app}"
        if request.method == "GET" and request.path == base:
            return Reply(200, self.application())
        if request.method == "POST" and request.path == f"{base}/sync":
            self.operations += 1
            self.polls_left = 2
            return Reply(200, self.application(advance=False))
        return not_found(f'applications.argoproj.io "{request.path}" not found')

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        return serve(self.route, self.requests, self.token)
