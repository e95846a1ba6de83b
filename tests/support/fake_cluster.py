"""A test stand-in for a cluster: the Argo Server and Kubernetes API endpoints mlops calls, on loopback.

Argo Server (documented in Argo's swagger): ``GET /api/v1/version`` (Argo's ``Version``: version,
buildDate, gitCommit, gitTag, gitTreeState, goVersion, compiler, platform; ``argo_version`` sets it),
``GET /api/v1/workflow-templates/{ns}/{name}``,
``GET /api/v1/cron-workflows/{ns}/{name}``, ``POST /api/v1/workflows/{ns}`` (body
``{namespace, workflow}``), ``GET /api/v1/workflows/{ns}/{name}``, ``PUT .../{name}/retry``,
``PUT .../{name}/stop`` (body ``{name, namespace}``; it sets ``spec.shutdown: Stop`` as workflow/util/util.go's
``StopWorkflow`` patches it, and refuses a completed run with 500 "cannot shutdown a completed workflow") and
``GET .../{name}/log`` (one JSON ``{"result": {content, podName}}`` per line), and the list
``GET /api/v1/workflows/{ns}?listOptions.labelSelector=k=v`` (``{metadata, items}``). Its errors carry
grpc-gateway's body ``{code, message}``.

Kubernetes API, as the API server serves Argo's custom resources (the Kubernetes API conventions,
sig-architecture/api-conventions.md: "Metadata", "Concurrency Control and Consistency", "Response
Status Kind"; the CustomResourceDefinition docs, "Status subresource"; the Server-Side Apply docs,
"Field management"): the argoproj.io/v1alpha1 custom objects (``GET``/``POST`` a collection,
``GET``/``PUT`` one), ServiceAccounts, Secrets, ConfigMaps, pods by label and a pod's log.

What the server adds to what it was sent:

- on every write, a new ``metadata.resourceVersion`` (one counter for the whole store);
- on create, ``uid``, ``creationTimestamp``, ``generation: 1``; these never change after;
- ``generation`` goes up by one when anything outside ``metadata`` changes: Argo's CRDs declare no
  status subresource (manifests/base/crds), so a change of ``status`` counts as one of ``spec``;
- ``managedFields``: one entry per manager (the User-Agent's product, ``OpenAPI-Generator`` for the
  Python client) and operation; a write that leaves them out keeps them.

What Argo's controllers add: after a CronWorkflow is written, the cron controller merge-patches it
(workflow/cron: ``persistUpdate``; ``SetSchedules``) with the annotation
``cronworkflows.argoproj.io/last-used-schedule`` (``CRON_TZ=<timezone> <schedule>``, comma-joined)
and ``status`` (``lastScheduledTime``, ``conditions``, ``phase``, ``succeeded``, ``failed``): a write
of its own, so a new resourceVersion and generation. ``interfere`` names objects the controller
writes once more right after the next GET of them, so that a PUT at that GET's version is stale.

What it refuses, each with a ``Status`` body (``kind: Status``, ``status: Failure``, ``message``,
``reason``, ``details``, ``code``):

- no bearer token, or another one: 401 ``Unauthorized``;
- a token the server knows but no RoleBinding grants (``tokens_without_rbac``), or a path in
  ``forbidden``: 403 ``Forbidden`` ('User "..." cannot get resource ...');
- a resource whose CRD is not installed (not in ``served``): 404 "the server could not find the
  requested resource" with empty ``details``; an object that is not there: 404 with its name;
- a POST of an object that exists: 409 ``AlreadyExists``;
- a PUT without ``metadata.resourceVersion``: 422 ``Invalid`` (custom resources allow no
  unconditional update); at a stale one: 409 ``Conflict``; under another name: 400 ``BadRequest``;
- a pod log without ``container=``: 400 ``BadRequest`` "a container name must be specified for
  pod X, choose one of: [wait main] or one of the init containers: [init]" (Argo's pods run ``init``,
  ``wait`` and ``main``; pkg/registry/core/pod ``LogLocation``); an unknown container: 400.

A pod's log is streamed (``Transfer-Encoding: chunked``, ``text/plain``) in ``log_chunk``-byte
chunks that cut lines anywhere, and, as the log of a killed container may, it ends without a newline.

A submitted Workflow runs the tasks of its template's DAG one per poll, with the node fields
Argo reports (id, name, displayName, type, templateName, phase, message); the scenario can fail
one step, and a retry resumes from it; or, with ``recorded_nodes``, it reveals those pod nodes (a recorded
status a test drives) one per poll. A stopped run (``spec.shutdown: Stop``) starts no further node, runs its
``onExit`` template and ends Failed with "Stopped with strategy 'Stop'" (workflow/controller/operator.go).
Every request is recorded, headers included, for assertions.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from tests.support.fake_http import Recorded, Reply, read_request, send, start

ARGO = re.compile(
    r"^/api/v1/(workflow-templates|cron-workflows|workflows)/([^/]+)(?:/([^/]+))?(?:/(retry|log|stop))?$"
)
CUSTOM = re.compile(r"^/apis/argoproj\.io/v1alpha1/namespaces/([^/]+)/([a-z]+)(?:/([^/]+))?$")
CORE = re.compile(
    r"^/api/v1/namespaces/([^/]+)/(serviceaccounts|secrets|configmaps|pods)(?:/([^/]+))?(?:/(log))?$"
)
ARGO_PLURAL = {
    "workflow-templates": "workflowtemplates",
    "cron-workflows": "cronworkflows",
    "workflows": "workflows",
}
KINDS = {"serviceaccounts": "ServiceAccount", "secrets": "Secret", "configmaps": "ConfigMap"}
GROUP = "argoproj.io"
SERVED = {"workflows", "workflowtemplates", "cronworkflows", "eventsources", "sensors"}
LAST_USED_SCHEDULE = "cronworkflows.argoproj.io/last-used-schedule"
INIT_CONTAINERS, CONTAINERS = ["init"], ["wait", "main"]  # an Argo pod's (emissary executor)
NO_RBAC_USER = "system:serviceaccount:argo-mlops:no-rbac"


@dataclass
class KubeRequest(Recorded):
    """A recorded request, with its headers."""

    headers: dict[str, str] = field(default_factory=dict)
    answered: int | None = None  # the status code the fake answered with


@dataclass
class Streamed(Reply):
    """A reply sent in chunks (``Transfer-Encoding: chunked``); ``body`` is the list of chunks."""

    content_type: str = "text/plain"


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> Reply:
    """The Kubernetes API's answer to a failed call: a meta/v1 ``Status`` (api-conventions.md)."""
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message}
    body |= {"reason": reason, "details": details if details is not None else {}, "code": code}
    return Reply(code, body)


def argo_error(code: int, grpc_code: int, message: str) -> Reply:
    """The Argo Server's answer to a failed call: grpc-gateway's ``{code, message}``."""
    return Reply(code, {"code": grpc_code, "message": message})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fields(value: Any, depth: int = 3) -> dict[str, Any]:
    """A FieldsV1 set (``f:<key>`` per key), to a few levels: enough to show who owns what."""
    if not isinstance(value, dict) or depth == 0:
        return {}
    return {f"f:{key}": _fields(item, depth - 1) for key, item in value.items()}


def _without_metadata(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "metadata"}


@dataclass
class FakeCluster:
    token: str
    namespace: str = "argo-mlops"
    fail_step: str | None = None
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    core: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    version: int = 100  # the last resourceVersion given
    argo_version: str = "v3.6.2"
    forbidden: set[str] = field(default_factory=set)  # paths this token's RBAC refuses (403)
    tokens_without_rbac: set[str] = field(default_factory=set)  # known to the server, granted nothing
    served: set[str] = field(default_factory=lambda: set(SERVED))  # the argoproj.io CRDs installed
    controllers: bool = True  # Argo's cron controller acts on CronWorkflows
    interfere: set[tuple[str, str]] = field(default_factory=set)  # written by a controller after the next GET
    pod_logs: dict[str, bytes] = field(default_factory=dict)  # step -> its main container's log
    log_chunk: int = 7  # bytes per chunk of a streamed log
    recorded_nodes: list[dict[str, Any]] = field(default_factory=list)  # revealed one per poll

    # --- state ---

    def put(self, plural: str, document: dict[str, Any], manager: str = "kubectl-create") -> dict[str, Any]:
        """Store ``document`` as the API server would on a create or update, with the fields it sets;
        then let the controllers act on it."""
        stored = self.write(plural, copy.deepcopy(document), manager)
        if plural == "cronworkflows" and self.controllers:
            stored = self.cron_controller(stored)
        return stored

    def write(self, plural: str, document: dict[str, Any], manager: str) -> dict[str, Any]:
        meta = document.setdefault("metadata", {})
        old = self.objects.get((plural, meta.get("name", "")))
        self.version += 1
        meta["namespace"] = self.namespace
        meta["resourceVersion"] = str(self.version)
        if old is None:
            meta.update(uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1)
            managed = []
        else:
            before = old["metadata"]
            meta.update(uid=before["uid"], creationTimestamp=before["creationTimestamp"])
            changed = _without_metadata(document) != _without_metadata(old)
            meta["generation"] = before["generation"] + (1 if changed else 0)
            managed = meta.get("managedFields") or before.get("managedFields") or []
        entry = {
            "manager": manager,
            "operation": "Update",
            "apiVersion": document.get("apiVersion", "v1"),
            "time": _now(),
            "fieldsType": "FieldsV1",
            "fieldsV1": _fields({k: v for k, v in document.items() if k not in ("apiVersion", "kind")}),
        }
        meta["managedFields"] = [m for m in managed if m.get("manager") != manager] + [entry]
        self.objects[(plural, meta["name"])] = document
        return document

    def cron_controller(self, cron: dict[str, Any], always: bool = False) -> dict[str, Any]:
        """Argo's cron controller: when the schedule changed (or ``always``: it ran a workflow), the
        schedule it now uses and the status, in one merge patch."""
        spec = cron.get("spec") or {}
        schedules = spec.get("schedules") or [spec.get("schedule", "")]
        zone = f"CRON_TZ={spec['timezone']} " if spec.get("timezone") else ""
        used = ",".join(zone + s for s in schedules)
        if (
            not always
            and "status" in cron
            and (cron["metadata"].get("annotations") or {}).get(LAST_USED_SCHEDULE) == used
        ):
            return cron
        patched = copy.deepcopy(cron)
        patched["metadata"].setdefault("annotations", {})[LAST_USED_SCHEDULE] = used
        patched["status"] = (patched.get("status") or {}) | {
            "lastScheduledTime": _now(),
            "conditions": [],
            "phase": "Active",
            "succeeded": (patched.get("status") or {}).get("succeeded", 0),
            "failed": (patched.get("status") or {}).get("failed", 0),
        }
        patched["metadata"].pop("managedFields", None)  # a patch leaves them as they are
        return self.write("cronworkflows", patched, "workflow-controller")

    def add_core(self, plural: str, name: str) -> None:
        self.core[(plural, name)] = {
            "apiVersion": "v1",
            "kind": KINDS[plural],
            "metadata": {"name": name, "namespace": self.namespace},
        }

    def tasks_of(self, workflow: dict[str, Any]) -> list[dict[str, Any]]:
        ref = workflow["spec"]["workflowTemplateRef"]["name"]
        template = self.objects[("workflowtemplates", ref)]
        entry = template["spec"]["entrypoint"]
        dag = next(t for t in template["spec"]["templates"] if t["name"] == entry)["dag"]
        return dag["tasks"]

    def advance(self, workflow: dict[str, Any]) -> None:
        """One poll: the next pending task runs to its end (or fails, when the scenario says so)."""
        status = workflow["status"]
        if status["phase"] != "Running":
            return
        if workflow["spec"].get("shutdown") == "Stop":
            return self.stopped(workflow)
        if self.recorded_nodes:
            return self.reveal(workflow)
        name = workflow["metadata"]["name"]
        nodes = status["nodes"]
        for index, task in enumerate(self.tasks_of(workflow)):
            node_id = f"{name}-{1000 + index}"
            if nodes.get(node_id, {}).get("phase") == "Succeeded":
                continue
            failed = task["name"] == self.fail_step
            nodes[node_id] = {
                "id": node_id,
                "name": f"{name}.{task['name']}",
                "displayName": task["name"],
                "type": "Pod",
                "templateName": task["template"],
                "phase": "Failed" if failed else "Succeeded",
                "startedAt": f"2026-11-22T10:{index:02d}:00Z",
                **({"message": "Error (exit code 75)"} if failed else {}),
            }
            if failed:
                status.update(phase="Failed", message=f"child '{node_id}' failed")
            return
        status["phase"] = "Succeeded"

    def template_of(self, workflow: dict[str, Any]) -> dict[str, Any]:
        return self.objects[("workflowtemplates", workflow["spec"]["workflowTemplateRef"]["name"])]

    def reveal(self, workflow: dict[str, Any]) -> None:
        """One poll of a scripted run: the next of ``recorded_nodes`` appears, under this run's name, with the
        template the controller stores in the status; after the last, the run Succeeded."""
        status, name = workflow["status"], workflow["metadata"]["name"]
        status.setdefault("storedWorkflowTemplateSpec", copy.deepcopy(self.template_of(workflow)["spec"]))
        status.setdefault("startedAt", self.recorded_nodes[0].get("startedAt", _now()))
        shown = len(status["nodes"])
        if shown == len(self.recorded_nodes):
            status.update(phase="Succeeded", finishedAt=self.recorded_nodes[-1].get("finishedAt", _now()))
            return
        node = copy.deepcopy(self.recorded_nodes[shown])
        node_id = f"{name}-{2000 + shown}"
        named = {"id": node_id, "name": f"{name}.{node['displayName']}", "type": "Pod"}
        status["nodes"][node_id] = node | named

    def stopped(self, workflow: dict[str, Any]) -> None:
        """The controller's turn after a stop: no node starts, the onExit template runs, the run is Failed."""
        status, name = workflow["status"], workflow["metadata"]["name"]
        on_exit = workflow["spec"].get("onExit") or self.template_of(workflow)["spec"].get("onExit")
        if on_exit:
            node_id = f"{name}-onexit"
            status["nodes"][node_id] = {
                "id": node_id, "name": f"{name}.onExit", "displayName": f"{name}.onExit", "type": "Pod",
                "templateName": on_exit, "phase": "Succeeded", "startedAt": _now(),
            }  # fmt: skip
        status.update(phase="Failed", message="Stopped with strategy 'Stop'")

    def labelled(self, selector: str) -> list[dict[str, Any]]:
        """The Workflows a list with this equality-based label selector (``a=b,c=d``) returns, by name."""
        wanted = dict(term.split("=", 1) for term in selector.split(",") if "=" in term)
        return [
            copy.deepcopy(document)
            for (plural, _), document in sorted(self.objects.items())
            if plural == "workflows"
            and all((document["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())
        ]

    def pod_name(self, workflow: dict[str, Any], node: dict[str, Any]) -> str:
        return f"{workflow['metadata']['name']}-{node['templateName']}-{node['id'].rsplit('-', 1)[-1]}"

    def pods(self) -> dict[str, dict[str, Any]]:
        """Every run's pods, by name, as the API server lists them."""
        found = {}
        for (kind, _), workflow in self.objects.items():
            if kind != "workflows":
                continue
            for node in workflow["status"]["nodes"].values():
                name = self.pod_name(workflow, node)
                found[name] = {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": name,
                        "namespace": self.namespace,
                        "labels": {"workflows.argoproj.io/workflow": workflow["metadata"]["name"]},
                        "annotations": {"workflows.argoproj.io/node-name": node["name"]},
                        "creationTimestamp": node["startedAt"],
                    },
                    "spec": {
                        "initContainers": [
                            {"name": c, "image": "quay.io/argoproj/argoexec"} for c in INIT_CONTAINERS
                        ],
                        "containers": [{"name": c, "image": "argo-mlops/step"} for c in CONTAINERS],
                    },
                    "status": {"phase": node["phase"]},
                }
        return found

    def log_of(self, pod: dict[str, Any]) -> bytes:
        step = pod["metadata"]["annotations"]["workflows.argoproj.io/node-name"].split(".", 1)[-1]
        default = f"{pod['metadata']['name']}: kube line 1\n{pod['metadata']['name']}: kube line 2"
        return self.pod_logs.get(step, default.encode())

    # --- the Argo Server ---

    def version_info(self) -> dict[str, str]:
        """Argo's Version; a build from an untagged commit has no gitTag and a version like ``untagged``."""
        release = re.fullmatch(r"v\d+\.\d+\.\d+.*", self.argo_version) is not None
        return {
            "version": self.argo_version,
            "buildDate": "2026-11-02T09:14:07Z",
            "gitCommit": "5f1c2b7a9e0d4c3b8a6f1e2d3c4b5a6978f0e1d2",
            "gitTag": self.argo_version if release else "",
            "gitTreeState": "clean",
            "goVersion": "go1.24.9",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    def argo(self, request: Recorded, collection: str, name: str | None, action: str | None) -> Reply:
        plural = ARGO_PLURAL[collection]
        if request.method == "POST" and plural == "workflows" and name is None:
            workflow = copy.deepcopy(request.body["workflow"])
            return self.create_workflow(workflow, 200, "argo")
        if request.method == "GET" and plural == "workflows" and name is None:
            selector = (request.query or {}).get("listOptions.labelSelector", [""])[0]
            listed = {"metadata": {"resourceVersion": str(self.version)}, "items": self.labelled(selector)}
            return Reply(200, listed)
        stored = self.objects.get((plural, name or ""))
        if stored is None:
            return argo_error(404, 5, f'{plural}.argoproj.io "{name}" not found')
        if action == "stop" and request.method == "PUT":
            if stored["status"].get("phase") in ("Succeeded", "Failed", "Error"):
                message = f'workflow: "{name}", namespace: "{self.namespace}"'
                message = f"cannot shutdown a completed workflow: {message}"
                return argo_error(500, 13, message)  # util.AlreadyShutdownError, as codes.Internal
            stored["spec"]["shutdown"] = "Stop"
            return Reply(200, stored)
        if action == "retry" and request.method == "PUT":
            self.fail_step = None
            stored["status"].update(phase="Running", message="")
            return Reply(200, stored)
        if action == "log":
            lines = [
                {
                    "result": {
                        "podName": self.pod_name(stored, node),
                        "content": f"{node['displayName']}: line {i}",
                    }
                }
                for node in stored["status"]["nodes"].values()
                for i in (1, 2)
            ]
            return Reply(200, "\n".join(json.dumps(line) for line in lines) + "\n")
        if plural == "workflows":
            self.advance(stored)
        return Reply(200, stored)

    def create_workflow(self, workflow: dict[str, Any], code: int, manager: str) -> Reply:
        """Argo answers a create with 200, the Kubernetes API with 201."""
        ref = workflow["spec"].get("workflowTemplateRef", {}).get("name")
        if ("workflowtemplates", ref) not in self.objects:
            message = f'workflowtemplates.argoproj.io "{ref}" not found'
            return (
                argo_error(404, 5, message)
                if code == 200
                else status(
                    404, "NotFound", message, {"name": ref, "group": GROUP, "kind": "workflowtemplates"}
                )
            )
        meta = workflow["metadata"]
        meta["name"] = meta.pop("generateName", "wf-") + f"{len(self.objects):05d}"[-5:]
        workflow["status"] = {"phase": "Running", "nodes": {}}
        return Reply(code, self.put("workflows", workflow, manager))

    # --- the Kubernetes API ---

    def custom(self, request: KubeRequest, plural: str, name: str | None) -> Reply:
        if plural not in self.served:
            return status(404, "NotFound", "the server could not find the requested resource")
        manager = request.headers.get("User-Agent", "unknown").split("/", 1)[0]
        details = {"name": name, "group": GROUP, "kind": plural}
        if request.method == "POST" and name is None:
            document = copy.deepcopy(request.body)
            key = (plural, document["metadata"].get("name", ""))
            if plural == "workflows":
                return self.create_workflow(document, 201, manager)
            if key in self.objects:
                message = f'{plural}.{GROUP} "{key[1]}" already exists'
                return status(409, "AlreadyExists", message, details | {"name": key[1]})
            return Reply(201, self.put(plural, document, manager))
        if request.method == "GET" and plural == "workflows" and name is None:
            selector = (request.query or {}).get("labelSelector", [""])[0]
            found = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "WorkflowList", "items": []}
            found["items"] = self.labelled(selector)
            return Reply(200, found | {"metadata": {"resourceVersion": str(self.version)}})
        stored = self.objects.get((plural, name or ""))
        if stored is None:
            return status(404, "NotFound", f'{plural}.{GROUP} "{name}" not found', details)
        if request.method == "PUT":
            return self.update(request, plural, name, stored, manager, details)
        if plural == "workflows":
            self.advance(stored)
        answer = copy.deepcopy(stored)
        if (plural, name) in self.interfere:  # a controller writes it between this GET and the PUT
            self.interfere.discard((plural, name))
            if plural == "cronworkflows":
                self.cron_controller(stored, always=True)
            else:
                self.write(plural, copy.deepcopy(stored), "someone-else")
        return Reply(200, answer)

    def update(
        self, request: KubeRequest, plural: str, name: str, stored: dict, manager: str, details: dict
    ) -> Reply:
        document = copy.deepcopy(request.body)
        meta = document.get("metadata") or {}
        if meta.get("name") != name:
            message = (
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
            return status(400, "BadRequest", message)
        sent = meta.get("resourceVersion")
        if not sent:
            cause = "Invalid value: 0x0: must be specified for an update"
            return status(
                422, "Invalid", f'{plural}.{GROUP} "{name}" is invalid: metadata.resourceVersion: {cause}',
                details | {"causes": [{"reason": "FieldValueInvalid", "message": cause, "field": "metadata.resourceVersion"}]},
            )  # fmt: skip
        if sent != stored["metadata"]["resourceVersion"]:
            message = (
                f'Operation cannot be fulfilled on {plural}.{GROUP} "{name}": the object has been modified; '
                "please apply your changes to the latest version and try again"
            )
            return status(409, "Conflict", message, details)
        return Reply(200, self.put(plural, document, manager))

    def core_api(self, request: KubeRequest, plural: str, name: str | None, log: str | None) -> Reply:
        if plural != "pods":
            found = self.core.get((plural, name or ""))
            details = {"name": name, "kind": plural}
            return (
                Reply(200, found)
                if found
                else status(404, "NotFound", f'{plural} "{name}" not found', details)
            )
        pods = self.pods()
        if name is None:
            selector = (request.query or {}).get("labelSelector", [""])[0]
            key, _, value = selector.partition("=")
            items = [p for p in pods.values() if p["metadata"]["labels"].get(key) == value]
            return Reply(200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items})
        pod = pods.get(name)
        if pod is None:
            return status(404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"})
        if not log:
            return Reply(200, pod)
        container = (request.query or {}).get("container", [""])[0]
        if not container:
            message = (
                f"a container name must be specified for pod {name}, choose one of: [{' '.join(CONTAINERS)}]"
                f" or one of the init containers: [{' '.join(INIT_CONTAINERS)}]"
            )
            return status(400, "BadRequest", message)
        if container not in CONTAINERS + INIT_CONTAINERS:
            return status(400, "BadRequest", f"container {container} is not valid for pod {name}")
        text = self.log_of(pod) if container == "main" else b""
        return Streamed(200, [text[i : i + self.log_chunk] for i in range(0, len(text), self.log_chunk)])

    def refused(self, request: KubeRequest) -> Reply | None:
        """401 for a token the server does not know, 403 for one no RoleBinding grants this."""
        argo = not request.path.startswith(("/apis/", "/api/v1/namespaces/"))
        bearer = (
            request.authorization.removeprefix("Bearer ")
            if request.authorization.startswith("Bearer ")
            else None
        )
        if bearer not in {self.token, *self.tokens_without_rbac}:
            if argo:
                return Reply(401, {"code": 16, "message": "token not valid", "reason": "Unauthorized"})
            return status(401, "Unauthorized", "Unauthorized")
        if bearer == self.token and request.path not in self.forbidden:
            return None
        if argo:
            return argo_error(403, 7, "permission denied")
        match = CUSTOM.match(request.path) or CORE.match(request.path)
        namespace, plural, name = match.groups()[:3] if match else (self.namespace, "", None)
        group = GROUP if request.path.startswith("/apis/") else ""
        verb = {"POST": "create", "PUT": "update"}.get(request.method, "get" if name else "list")
        what = f'{plural}.{group} "{name}"' if name else f"{plural}.{group}" if group else plural
        message = (
            f'{what} is forbidden: User "{NO_RBAC_USER}" cannot {verb} resource "{plural}" '
            f'in API group "{group}" in the namespace "{namespace}"'
        )
        return status(
            403,
            "Forbidden",
            message,
            {"name": name, "group": group, "kind": plural} if name else {"group": group, "kind": plural},
        )

    def route(self, request: KubeRequest) -> Reply:
        refused = self.refused(request)
        if refused is not None:
            return refused
        if request.path == "/api/v1/version" and request.method == "GET":
            return Reply(200, self.version_info())
        if match := ARGO.match(request.path):
            collection, namespace, name, action = match.groups()
            if namespace != self.namespace:
                return argo_error(404, 5, f"namespace {namespace} has nothing")
            return self.argo(request, collection, name, action)
        if match := CUSTOM.match(request.path):
            namespace, plural, name = match.groups()
            if namespace != self.namespace:
                return status(
                    404,
                    "NotFound",
                    f'namespaces "{namespace}" not found',
                    {"name": namespace, "kind": "namespaces"},
                )
            return self.custom(request, plural, name)
        if match := CORE.match(request.path):
            namespace, plural, name, log = match.groups()
            if namespace != self.namespace:
                return status(
                    404,
                    "NotFound",
                    f'namespaces "{namespace}" not found',
                    {"name": namespace, "kind": "namespaces"},
                )
            return self.core_api(request, plural, name, log)
        return status(404, "NotFound", "the server could not find the requested resource")

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        return serve(self.route, self.requests)


def serve(route, log: list[Recorded]) -> tuple[ThreadingHTTPServer, str]:
    """A server on loopback that records every request (headers too) and answers what ``route`` says;
    a ``Streamed`` reply goes out chunked, the rest with a Content-Length."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # chunked transfer needs it; every reply closes the connection

        def _handle(self, method: str) -> None:
            body, parts = read_request(self)
            request = KubeRequest(
                method, parts.path, self.headers.get("Authorization", ""), body, parse_qs(parts.query),
                dict(self.headers.items()),
            )  # fmt: skip
            log.append(request)
            reply = route(request)
            request.answered = reply.code
            if not isinstance(reply, Streamed):
                send(self, reply, ("Connection", "close"))
                return
            self.send_response(reply.code)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Connection", "close")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in reply.body:
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PUT(self) -> None:
            self._handle("PUT")

        def log_message(self, *args: Any) -> None:
            pass

    return start(Handler)


def kubeconfig(url: str, token: str, namespace: str) -> str:
    """A kubeconfig whose one context points at the fake cluster with a bearer token."""
    import yaml

    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": url}}],
            "users": [{"name": "tester", "user": {"token": token}}],
            "contexts": [
                {"name": "fake", "context": {"cluster": "fake", "user": "tester", "namespace": namespace}}
            ],
            "current-context": "fake",
        }
    )


def cluster_with_templates(token: str, tmp_path) -> tuple[FakeCluster, ThreadingHTTPServer]:
    """A fake cluster holding the compiled templates, the service account and the settings ConfigMap,
    served on loopback, with ``fake.env`` set for ``mlops submit`` against it."""
    import yaml

    from workflows.pipelines.compile import MANIFESTS_DIR

    fake = FakeCluster(token=token)
    server, url = fake.serve()
    for name in ("training", "drift"):
        fake.put("workflowtemplates", yaml.safe_load((MANIFESTS_DIR / f"{name}.yaml").read_text()))
    fake.add_core("serviceaccounts", "argo-mlops-workflow")
    fake.add_core("configmaps", "argo-mlops-settings")
    config = tmp_path / "kubeconfig"
    config.write_text(kubeconfig(url, token, fake.namespace))
    fake.url = url
    fake.env = {
        "ARGO_SERVER": url,
        "ARGO_TOKEN": token,
        "KUBECONFIG": str(config),
        "MLOPS_STORAGE_ROOT": "s3://mlops-runs/argo-mlops",
        "MLOPS_DATA_URI": "s3://fraud-data/incoming/",
    }
    return fake, server
