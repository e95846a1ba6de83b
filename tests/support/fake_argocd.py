"""A test stand-in for the ArgoCD API server (``argocd-server``'s REST gateway), on loopback.

It follows ArgoCD's documented REST API, the ApplicationService of
``server/application/application.proto`` as grpc-gateway serves it (swagger: ``assets/swagger.json``),
and the sources behind it (argoproj/argo-cd ``server/application/application.go``, ``util/argo``
``SetAppOperation``, ``server/server.go`` ``getClaims``; argoproj/gitops-engine ``pkg/sync``):

- ``GET /api/v1/applications/{name}``: the Application, with the fields the server and the
  controller set: ``metadata`` (``namespace``, ``resourceVersion``), ``spec`` (``source.targetRevision``,
  ``syncPolicy.automated`` when auto-sync is on), ``operation`` while one runs, and ``status``:
  ``sync.{status,revision}``, ``health.{status,message}``, ``reconciledAt``, ``history`` and
  ``operationState.{operation,phase,message,startedAt,finishedAt,syncResult.revision}``.
- ``POST /api/v1/applications/{name}/sync`` (``ApplicationSyncRequest``: ``prune``, ``revision``, ...):
  resolves the revision (the branch's commit when none is given), sets ``operation`` and clears
  ``status.operationState`` (``SetAppOperation``), and answers the Application. The controller picks
  the operation up at the next look.
- ``DELETE /api/v1/applications/{name}/operation`` (``TerminateOperation``): sets the running
  operation's phase to ``Terminating``; the controller then ends it ``Failed`` with "Operation
  terminated" and clears ``operation`` (gitops-engine ``syncContext.Terminate``).

What it refuses, as ArgoCD does (errors carry grpc-gateway's body ``{"error", "code", "message"}``
and its HTTP mapping of gRPC codes):

- no ``Authorization: Bearer`` token: 401 "no session information"; another token: 401 "invalid
  session: ..." (``Unauthenticated``);
- an application it does not know: 403 "permission denied", as for one the token may not see
  (``getAppEnforceRBAC``: not to leak which applications exist, since the fix for
  GHSA-2q5c-qw9c-fmvq in 2.6.7 and its backports; 404 only when the request names a project);
- a sync or a terminate with a token that may only read (``may_sync=False``): 403 "permission denied:
  applications, sync, <project>/<app>, ..." (``PermissionDenied``);
- a sync while an operation runs: 400 "another operation is already in progress"
  (``FailedPrecondition``); a ``revision`` other than the target under auto-sync: 400 "Cannot sync
  to ...: auto-sync currently set to ..."; a terminate with no operation: 400 "Unable to terminate
  operation. No operation is in progress" (``InvalidArgument``).

Time is driven by the requests, never by a clock: each ``GET`` is one look of the controller, an
operation stays ``Running`` for ``polls`` looks (``never-finishes``: until terminated), and with
``auto_sync="prompt"`` the controller starts a sync of the branch's new commit at the first look or
sync request after a push (``"races"``: at the moment a sync request arrives, which it then refuses). ArgoCD does
not auto-sync again a commit whose automated sync failed. ``in_progress=N``: an operation on the
branch's current commit is already running at the start, for N looks. Every request is recorded
(method, path, query, headers, body, the status answered).
"""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from tests.support.fake_http import Recorded, Reply, read_request, send, start

SCENARIOS = ("healthy", "degraded", "sync-error", "never-finishes")
AUTO_SYNC = (None, "prompt", "races")
BASE = "/api/v1/applications/"
START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
# grpc-gateway's runtime.HTTPStatusFromCode for the codes ArgoCD answers here.
HTTP_STATUS = {3: 400, 5: 404, 7: 403, 9: 400, 16: 401}
USER = "mlops-ci"


@dataclass
class Sent(Recorded):
    """One request as it reached the server, and the status it got."""

    headers: dict[str, str] = field(default_factory=dict)
    status: int = 0


@dataclass
class Operation:
    """One sync operation: who started it, on which commit, and how it ended."""

    revision: str
    automated: bool
    started_at: str
    polls_left: int | None  # looks until it ends; None: until terminated
    prune: bool = True
    phase: str = "Running"
    message: str = ""
    finished_at: str | None = None
    seen: bool = True  # False between a sync request and the controller's first look

    def spec(self) -> dict[str, Any]:
        initiated = {"automated": True} if self.automated else {"username": USER}
        return {"sync": {"revision": self.revision, "prune": self.prune}, "initiatedBy": initiated}


def grpc_error(code: int, message: str) -> Reply:
    """An error as grpc-gateway writes it."""
    return Reply(HTTP_STATUS[code], {"error": message, "code": code, "message": message})


@dataclass
class FakeArgoCD:
    app: str
    token: str
    scenario: str = "healthy"
    repo: str | Path | None = None  # the bare repository the Application's source points at
    branch: str = "main"
    auto_sync: str | None = None
    polls: int = 2
    in_progress: int = 0
    may_sync: bool = True
    project: str = "default"
    requests: list[Sent] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS or self.auto_sync not in AUTO_SYNC:
            raise ValueError(f"scenario {self.scenario!r}, auto_sync {self.auto_sync!r}")
        if self.auto_sync and self.repo is None:
            raise ValueError("auto-sync follows a branch: give the repository")
        self._lock = threading.Lock()
        self._tick = 0
        self._made_up = 0
        head = self._head() or self._made_up_revision()
        if self.in_progress:
            self.operations.append(Operation(head, bool(self.auto_sync), self.clock(), self.in_progress))
            self.synced: str | None = None
        else:
            done = Operation(head, False, self.clock(), 0, phase="Succeeded", finished_at=self.clock())
            done.message = "successfully synced (all tasks run)"
            self.operations.append(done)
            self.synced = head
        self.health = {"status": "Healthy"}
        self.reconciled_at = self.clock()
        self.history: list[dict[str, Any]] = []

    # --- the world behind the API: the repository and the controller ---

    def clock(self) -> str:
        return (START + timedelta(seconds=self._tick)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _head(self) -> str | None:
        if self.repo is None:
            return None
        done = subprocess.run(
            ["git", "--git-dir", str(self.repo), "rev-parse", "--verify", "-q", f"refs/heads/{self.branch}"],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip() or None

    def _made_up_revision(self) -> str:
        self._made_up += 1
        return f"{self._made_up:040x}"

    def _target(self) -> str | None:
        return self._head() if self.repo is not None else self.operations[-1].revision

    def _polls(self) -> int | None:
        return None if self.scenario == "never-finishes" else self.polls

    @property
    def running(self) -> Operation | None:
        last = self.operations[-1] if self.operations else None
        return last if last is not None and last.finished_at is None else None

    def _look(self) -> None:
        """One look of the controller at a running operation."""
        operation = self.running
        if operation is None:
            return
        if not operation.seen:
            operation.seen = True
        elif operation.phase == "Terminating":
            self._finish(operation, "Failed", "Operation terminated")
        elif operation.polls_left is None:
            pass
        elif operation.polls_left > 0:
            operation.polls_left -= 1
        elif self.scenario == "sync-error":
            self._finish(operation, "Failed", "one or more objects failed to apply")
        else:
            self._finish(operation, "Succeeded", "successfully synced (all tasks run)")

    def _finish(self, operation: Operation, phase: str, message: str) -> None:
        operation.phase, operation.message, operation.finished_at = phase, message, self.clock()
        self.reconciled_at = operation.finished_at
        if phase == "Succeeded":
            self.synced = operation.revision
            self.history.append(
                {
                    "id": len(self.history),
                    "revision": operation.revision,
                    "deployStartedAt": operation.started_at,
                    "deployedAt": operation.finished_at,
                }
            )
            if self.scenario == "degraded":
                self.health = {
                    "status": "Degraded",
                    "message": "InferenceService fraud: predictor container crash-looping",
                }

    def _auto_sync(self, request: str) -> None:
        """The controller's automated sync: a sync of the branch's new commit when none is running."""
        if self.auto_sync is None or self.running is not None:
            return
        if self.auto_sync == "races" and request != "sync":
            return
        head = self._head()
        if head is None or head == self.synced:
            return
        last = self.operations[-1]
        if last.automated and last.revision == head and last.phase in ("Failed", "Error"):
            return  # "Skipping auto-sync: failed previous sync attempt to <revision>"
        self.operations.append(Operation(head, True, self.clock(), self._polls()))

    # --- the API ---

    def application(self) -> dict[str, Any]:
        target = self._target()
        status: dict[str, Any] = {
            "sync": {"status": "Synced" if target == self.synced else "OutOfSync", "revision": target},
            "health": dict(self.health),
            "reconciledAt": self.reconciled_at,
            "history": list(self.history),
        }
        last = self.operations[-1]
        if last.seen:
            state = {
                "operation": last.spec(),
                "phase": last.phase,
                "message": last.message,
                "startedAt": last.started_at,
                "syncResult": {"revision": last.revision},
            }
            if last.finished_at:
                state["finishedAt"] = last.finished_at
            status["operationState"] = state
        source = {"repoURL": str(self.repo or ""), "path": "serving", "targetRevision": self.branch}
        application: dict[str, Any] = {
            "metadata": {"name": self.app, "namespace": "argocd", "resourceVersion": str(1000 + self._tick)},
            "spec": {
                "project": self.project,
                "source": source,
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "serving"},
                "syncPolicy": {"automated": {"prune": True}} if self.auto_sync else {},
            },
            "status": status,
        }
        if self.running is not None:
            application["operation"] = self.running.spec()
        return application

    def _denied(self, action: str) -> Reply:
        return grpc_error(
            7,
            f"permission denied: applications, {action}, {self.project}/{self.app}, sub: {USER}, iat: {START:%Y-%m-%dT%H:%M:%SZ}",
        )

    def _sync(self, body: Any) -> Reply:
        if not self.may_sync:
            return self._denied("sync")
        if body is not None and not isinstance(body, dict):
            return grpc_error(3, "invalid character in request body")
        body = body or {}
        self._auto_sync("sync")
        if self.running is not None:
            return grpc_error(9, "another operation is already in progress")
        revision = body.get("revision") or ""
        if self.auto_sync and revision and revision != self.branch:
            return grpc_error(9, f"Cannot sync to {revision}: auto-sync currently set to {self.branch}")
        resolved = revision if len(revision) == 40 else self._head() or self._made_up_revision()
        operation = Operation(resolved, False, self.clock(), self._polls(), prune=bool(body.get("prune")))
        operation.seen = False
        self.operations.append(operation)
        return Reply(200, self.application())

    def _terminate(self) -> Reply:
        if not self.may_sync:
            return self._denied("sync")
        operation = self.running
        if operation is None:
            return grpc_error(3, "Unable to terminate operation. No operation is in progress")
        operation.phase = "Terminating"
        return Reply(200, {})

    def route(self, request: Sent) -> Reply:
        name, _, rest = request.path.removeprefix(BASE).partition("/")
        known = {("GET", ""), ("POST", "sync"), ("DELETE", "operation")}
        if not request.path.startswith(BASE) or not name or (request.method, rest) not in known:
            return grpc_error(5, "Not Found")
        with self._lock:
            self._tick += 1
            if not request.authorization.startswith("Bearer ") or not request.authorization[7:]:
                return grpc_error(16, "no session information")
            if request.authorization != f"Bearer {self.token}":
                return grpc_error(16, "invalid session: token contains an invalid number of segments")
            if name != self.app:
                return grpc_error(7, "permission denied")
            if request.method == "GET":
                self._look()
                self._auto_sync("get")
                return Reply(200, self.application())
            if request.method == "POST":
                return self._sync(request.body)
            return self._terminate()

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        """Start on loopback; returns the server (``shutdown()`` it) and its URL."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body, parts = read_request(self)
                request = Sent(
                    self.command,
                    parts.path,
                    self.headers.get("Authorization", ""),
                    body,
                    parse_qs(parts.query),
                    headers=dict(self.headers.items()),
                )
                reply = fake.route(request)
                request.status = reply.code
                fake.requests.append(request)
                send(self, reply)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle

            def log_message(self, *args: Any) -> None:
                pass

        return start(Handler)
