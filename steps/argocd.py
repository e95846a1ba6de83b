"""The ArgoCD API calls a deploy needs: sync an Application, then wait until it is Synced and Healthy.

Waiting follows the ArgoCD CLI: keep polling while an operation is running, while the last
operation has no ``finishedAt``, or while the app was reconciled before that operation finished;
done at sync ``Synced`` and health ``Healthy``. A failed operation or a Degraded app is a failed
deploy, and so is the timeout.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from steps.contract import log
from steps.errors import PermissionDenied, StepError, Transient

BAD_HEALTH = {"Degraded", "Missing"}


class SyncFailed(StepError):
    """The Application did not become Synced and Healthy."""


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


class ArgoCD:
    def __init__(self, server: str, token: str, verify_tls: bool = True, request_timeout: float = 10) -> None:
        import requests

        self.server = server.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.verify = verify_tls
        self.request_timeout = request_timeout

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        import requests

        try:
            response = self.session.request(
                method, f"{self.server}{path}", timeout=self.request_timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise Transient(f"ArgoCD at {self.server} is unreachable: {type(exc).__name__}") from None
        if response.status_code in (401, 403):
            raise PermissionDenied(
                f"ArgoCD refused {method} {path}: {response.status_code} (check the ArgoCD token)"
            )
        if response.status_code >= 500:
            raise Transient(f"ArgoCD answered {response.status_code} to {method} {path}")
        if response.status_code >= 400:
            message = response.json().get("message", response.text[:200]) if response.content else ""
            raise SyncFailed(f"ArgoCD refused {method} {path}: {response.status_code} {message}")
        return response.json() if response.content else {}

    def application(self, app: str) -> dict[str, Any]:
        return self._call("GET", f"/api/v1/applications/{app}")

    def sync(self, app: str) -> str | None:
        """Start a sync; returns the previous operation's start, to tell ours from it without clocks."""
        previous = ((self.application(app).get("status") or {}).get("operationState") or {}).get("startedAt")
        self._call("POST", f"/api/v1/applications/{app}/sync", json={"prune": True})
        return previous

    def wait_healthy(
        self, app: str, previous: str | None, timeout: float, poll: float = 2.0
    ) -> dict[str, Any]:
        """Poll until our sync (the operation after ``previous``) left the app Synced and Healthy;
        raises SyncFailed on failure, degradation or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            application = self.application(app)
            status = application.get("status") or {}
            operation = status.get("operationState") or {}
            if application.get("operation") or operation.get("startedAt") in (None, previous):
                operation = {}  # ours is still running, or not yet started: the state shown is older
            finished, reconciled = _time(operation.get("finishedAt")), _time(status.get("reconciledAt"))
            phase = operation.get("phase")
            if finished and phase in ("Failed", "Error"):
                raise SyncFailed(f"sync of {app} {phase.lower()}: {operation.get('message', 'no message')}")
            settled = (
                bool(operation) and finished is not None and reconciled is not None and reconciled >= finished
            )
            sync_status = (status.get("sync") or {}).get("status")
            health = status.get("health") or {}
            if settled and health.get("status") in BAD_HEALTH:
                raise SyncFailed(
                    f"{app} is {health['status']} after the sync: {health.get('message', 'no message')}"
                )
            if settled and sync_status == "Synced" and health.get("status") == "Healthy":
                return status
            if time.monotonic() > deadline:
                raise SyncFailed(
                    f"{app} not Synced and Healthy after {timeout:.0f}s (sync {sync_status}, health {health.get('status')})"
                )
            log("deploy", f"waiting for {app}: sync {sync_status}, health {health.get('status')}")
            time.sleep(poll)
