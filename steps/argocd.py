"""The ArgoCD API calls a deploy needs: get a commit synced and judge that sync, and put a revert out.

ArgoCD runs one operation on an Application at a time: a sync request while one runs is refused
(400, "another operation is already in progress"), and with automated sync our own push starts
one. So ``deliver`` never takes that refusal for a failure: it waits for the running operation to
end, takes a finished operation on our commit (``status.operationState.syncResult.revision``) as
ours, and asks for a sync only when none has synced our commit. Our operation is judged by its
phase (Failed or Error: failed), then, once the app was reconciled after it, by health: done at
sync ``Synced`` and health ``Healthy``; Degraded or Missing, or the timeout, is a failed deploy.

``restore`` (a rollback) first terminates an operation still running on another commit
(``DELETE .../operation``, ArgoCD's TerminateOperation, which ends it as Failed), then asks for
the sync of the revert, unless the controller is already syncing it.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from steps.contract import log
from steps.errors import BadSetting, PermissionDenied, StepError, Transient
from steps.stopping import stop_requested

BAD_HEALTH = {"Degraded", "Missing"}
IN_PROGRESS = "another operation is already in progress"
NOTHING_RUNNING = "No operation is in progress"


class SyncFailed(StepError):
    """The Application did not become Synced and Healthy."""


class OperationInProgress(SyncFailed):
    """ArgoCD refused a sync: another operation is running."""


class Forbidden(PermissionDenied):
    """403: the token may not do this, or (for an application) there is no such application."""


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _short(revision: str | None) -> str:
    return (revision or "unknown")[:12]


def running_revision(application: dict[str, Any]) -> str | None:
    """The commit of the operation now running (None: none runs, or it names none)."""
    operation = application.get("operation")
    if not operation:
        return None
    state = (application.get("status") or {}).get("operationState") or {}
    return (operation.get("sync") or {}).get("revision") or (state.get("syncResult") or {}).get("revision")


def synced_revision(state: dict[str, Any]) -> str | None:
    """The commit a finished (or running) operation synced, from ``status.operationState``."""
    return (state.get("syncResult") or {}).get("revision") or (
        (state.get("operation") or {}).get("sync") or {}
    ).get("revision")


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
        if response.status_code >= 500:
            raise Transient(f"ArgoCD answered {response.status_code} to {method} {path}")
        if response.status_code < 400:
            return response.json() if response.content else {}
        try:  # grpc-gateway's error body: {"error", "code", "message"}
            message = str(response.json().get("message", ""))[:300]
        except ValueError:
            message = response.text[:200]
        refused = f"ArgoCD refused {method} {path}: {response.status_code} {message}".rstrip()
        if response.status_code == 401:
            raise PermissionDenied(f"{refused} (check MLOPS_ARGOCD_TOKEN)")
        if response.status_code == 403:
            raise Forbidden(refused)
        if response.status_code == 404:
            raise BadSetting(f"{refused} (check MLOPS_ARGOCD_APP)")
        if IN_PROGRESS in message:
            raise OperationInProgress(refused)
        raise SyncFailed(refused)

    def application(self, app: str) -> dict[str, Any]:
        return self._call("GET", f"/api/v1/applications/{app}")

    def check_access(self, app: str) -> None:
        """Read the Application: a token or an application ArgoCD refuses fails here, before any change.
        (ArgoCD answers 403 both for an application the token may not read and for one that does not
        exist, so as not to tell which exist.)"""
        try:
            self.application(app)
        except Forbidden as exc:
            raise PermissionDenied(
                f"{exc} (the token may not read application {app!r}, or there is none:"
                " check MLOPS_ARGOCD_APP and MLOPS_ARGOCD_TOKEN)"
            ) from None

    def request_sync(self, app: str) -> dict[str, Any]:
        """Ask for a sync of the target revision; raises OperationInProgress when one is running.
        No ``revision``: under automated sync ArgoCD refuses any but the target's."""
        return self._call("POST", f"/api/v1/applications/{app}/sync", json={"prune": True})

    def terminate(self, app: str) -> bool:
        """Terminate the running operation; False when none is running any more."""
        try:
            self._call("DELETE", f"/api/v1/applications/{app}/operation")
        except SyncFailed as exc:
            if NOTHING_RUNNING in str(exc):
                return False
            raise
        return True

    def deliver(self, app: str, revision: str, timeout: float, poll: float = 2.0) -> dict[str, Any]:
        """Get ``revision`` (a commit on the branch the app follows) synced, and judge that sync;
        returns the app's status once Synced and Healthy, raises SyncFailed otherwise."""
        deadline = time.monotonic() + timeout
        requested, before = False, None
        while True:
            application = self.application(app)
            status = application.get("status") or {}
            state = status.get("operationState") or {}
            sync_status = (status.get("sync") or {}).get("status")
            health = status.get("health") or {}
            ours = bool(state.get("finishedAt")) and (
                synced_revision(state) == revision or (requested and state.get("startedAt") != before)
            )
            if application.get("operation"):
                running = running_revision(application)
                whose = "ours" if running == revision or requested else f"commit {_short(running)}, not ours"
                log("deploy", f"waiting for the operation running on {app} ({whose}) to end")
            elif ours:
                phase = state.get("phase")
                if phase in ("Failed", "Error"):
                    raise SyncFailed(
                        f"sync of {app} {phase.lower()} at commit {_short(synced_revision(state))}:"
                        f" {state.get('message') or 'no message'}"
                    )
                finished, reconciled = _time(state.get("finishedAt")), _time(status.get("reconciledAt"))
                if finished is not None and reconciled is not None and reconciled >= finished:
                    if health.get("status") in BAD_HEALTH:
                        raise SyncFailed(
                            f"{app} is {health['status']} after the sync: {health.get('message', 'no message')}"
                        )
                    if sync_status == "Synced" and health.get("status") == "Healthy":
                        return status
                log("deploy", f"waiting for {app}: sync {sync_status}, health {health.get('status')}")
            elif not requested:
                before = state.get("startedAt")
                try:
                    self.request_sync(app)
                    requested = True
                    log("deploy", f"requested the sync of {app} to commit {_short(revision)}")
                except OperationInProgress:
                    log("deploy", f"an operation started on {app} before our sync request: waiting for it")
            if time.monotonic() > deadline:
                raise SyncFailed(
                    f"{app} not Synced and Healthy after {timeout:.0f}s"
                    f" (sync {sync_status}, health {health.get('status')}"
                    f"{', an operation still running' if application.get('operation') else ''})"
                )
            time.sleep(poll)

    def restore(self, app: str, revision: str, timeout: float, poll: float = 2.0) -> None:
        """A rollback's sync: terminate an operation running on another commit, then ask for the
        sync of ``revision`` (the revert), unless ArgoCD is syncing or has synced it already.
        Returns once the sync is asked for; raises StepError when it could not be."""
        deadline = time.monotonic() + timeout
        terminated = False
        while not stop_requested():
            application = self.application(app)
            state = (application.get("status") or {}).get("operationState") or {}
            if application.get("operation"):
                running = running_revision(application)
                if running == revision:
                    log("deploy", f"ArgoCD is already syncing the revert on {app}")
                    return
                if not terminated:
                    terminated = self.terminate(app)
                    if terminated:
                        log("deploy", f"terminated the operation running on {app} (commit {_short(running)})")
            elif synced_revision(state) == revision:
                log("deploy", f"ArgoCD has synced the revert on {app} already")
                return
            else:
                try:
                    self.request_sync(app)
                    log("deploy", f"requested the sync of the revert on {app} (commit {_short(revision)})")
                    return
                except OperationInProgress:
                    terminated = False  # an operation began meanwhile: look at it again
            if time.monotonic() > deadline:
                raise SyncFailed(f"the operation running on {app} did not end within {timeout:.0f}s")
            time.sleep(poll)
        log("deploy", f"stopped before the sync of the revert on {app} was asked for")
