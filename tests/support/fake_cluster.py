"""A test stand-in for a cluster: the Argo Server and Kubernetes API endpoints mlops calls, on loopback.

Argo Server (documented in Argo's swagger): ``GET /api/v1/version`` (Argo's ``Version``: version,
buildDate, gitCommit, gitTag, gitTreeState, goVersion, compiler, platform; ``argo_version`` sets it),
``GET /api/v1/workflow-templates/{ns}/{name}``,
``GET /api/v1/cron-workflows/{ns}/{name}``, ``POST /api/v1/workflows/{ns}`` (body
``{namespace, workflow}``), ``GET /api/v1/workflows/{ns}/{name}``, ``PUT .../{name}/retry`` and
``GET .../{name}/log`` (one JSON ``{"result": {content, podName}}`` per line).

Kubernetes API: the argoproj.io/v1alpha1 custom objects (``GET``/``POST`` a collection, ``GET``/``PUT``
one, with ``resourceVersion`` checked on update like the API server), ServiceAccounts, Secrets,
ConfigMaps, pods by label and a pod's log.

A submitted Workflow runs the tasks of its template's DAG one per poll, with the node fields
Argo reports (id, name, displayName, type, templateName, phase, message); the scenario can fail
one step, and a retry resumes from it. Every request is recorded for assertions.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from tests.support.fake_http import Recorded, Reply, not_found, serve

ARGO = re.compile(
    r"^/api/v1/(workflow-templates|cron-workflows|workflows)/([^/]+)(?:/([^/]+))?(?:/(retry|log))?$"
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

    # --- state ---

    def put(self, plural: str, document: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        stored = copy.deepcopy(document)
        meta = stored.setdefault("metadata", {})
        meta.setdefault("uid", f"uid-{self.version}")
        meta["namespace"] = self.namespace
        meta["resourceVersion"] = str(self.version)
        self.objects[(plural, meta["name"])] = stored
        return stored

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

    def pod_name(self, workflow: dict[str, Any], node: dict[str, Any]) -> str:
        return f"{workflow['metadata']['name']}-{node['templateName']}-{node['id'].rsplit('-', 1)[-1]}"

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
            return self.create_workflow(workflow, 200)
        stored = self.objects.get((plural, name or ""))
        if stored is None:
            return not_found(f'{plural}.argoproj.io "{name}" not found')
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

    def create_workflow(self, workflow: dict[str, Any], code: int) -> Reply:
        """Argo answers a create with 200, the Kubernetes API with 201."""
        ref = workflow["spec"].get("workflowTemplateRef", {}).get("name")
        if ("workflowtemplates", ref) not in self.objects:
            return not_found(f'workflowtemplates.argoproj.io "{ref}" not found')
        meta = workflow["metadata"]
        meta["name"] = meta.pop("generateName", "wf-") + f"{len(self.objects):05d}"[-5:]
        workflow["status"] = {"phase": "Running", "nodes": {}}
        return Reply(code, self.put("workflows", workflow))

    # --- the Kubernetes API ---

    def custom(self, request: Recorded, plural: str, name: str | None) -> Reply:
        if request.method == "POST" and name is None:
            document = copy.deepcopy(request.body)
            key = (plural, document["metadata"].get("name", ""))
            if plural == "workflows":
                return self.create_workflow(document, 201)
            if key in self.objects:
                return Reply(
                    409, {"kind": "Status", "reason": "AlreadyExists", "message": f"{key[1]} exists"}
                )
            return Reply(201, self.put(plural, document))
        stored = self.objects.get((plural, name or ""))
        if stored is None:
            return not_found(f'{plural}.argoproj.io "{name}" not found')
        if request.method == "PUT":
            sent = request.body["metadata"].get("resourceVersion")
            if sent != stored["metadata"]["resourceVersion"]:
                return Reply(
                    409, {"kind": "Status", "reason": "Conflict", "message": "the object has been modified"}
                )
            document = copy.deepcopy(request.body)
            document["metadata"]["uid"] = stored["metadata"]["uid"]
            return Reply(200, self.put(plural, document))
        if plural == "workflows":
            self.advance(stored)
        return Reply(200, stored)

    def core_api(self, request: Recorded, plural: str, name: str | None, log: str | None) -> Reply:
        if plural != "pods":
            found = self.core.get((plural, name or ""))
            return Reply(200, found) if found else not_found(f'{plural} "{name}" not found')
        selector = (request.query or {}).get("labelSelector", [""])[0]
        pods = []
        for (kind, _), workflow in self.objects.items():
            if (
                kind != "workflows"
                or selector != f"workflows.argoproj.io/workflow={workflow['metadata']['name']}"
            ):
                continue
            for node in workflow["status"]["nodes"].values():
                pods.append(
                    {
                        "metadata": {
                            "name": self.pod_name(workflow, node),
                            "namespace": self.namespace,
                            "annotations": {"workflows.argoproj.io/node-name": node["name"]},
                            "creationTimestamp": node["startedAt"],
                        }
                    }
                )
        if log:
            return Reply(200, f"{name}: kube line 1\n{name}: kube line 2\n", "text/plain")
        return Reply(200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": pods})

    def route(self, request: Recorded) -> Reply:
        if request.path in self.forbidden:
            return Reply(403, {"code": 7, "message": "permission denied", "reason": "Forbidden"})
        if request.path == "/api/v1/version" and request.method == "GET":
            return Reply(200, self.version_info())
        if match := ARGO.match(request.path):
            collection, namespace, name, action = match.groups()
            if namespace != self.namespace:
                return not_found(f"namespace {namespace} has nothing")
            return self.argo(request, collection, name, action)
        if match := CUSTOM.match(request.path):
            namespace, plural, name = match.groups()
            return self.custom(request, plural, name) if namespace == self.namespace else not_found(namespace)
        if match := CORE.match(request.path):
            namespace, plural, name, log = match.groups()
            return (
                self.core_api(request, plural, name, log)
                if namespace == self.namespace
                else not_found(namespace)
            )
        return not_found(f"no route {request.path}")

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        return serve(self.route, self.requests, self.token)


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
