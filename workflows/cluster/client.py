"""The two ways to reach a cluster: the Argo Server (Hera's services) and the Kubernetes API.

Both offer the same small surface: get, create and replace an object by kind and name, and read
a run. Failures become the contract's errors, named: an unreachable server is transient (75), and
so is a conflict (409: someone wrote the object since we read it), a 401/403 is a permission error
(77) with the server's reason, a missing setting or kubeconfig, or a resource the server does not
serve (its CRDs not installed), is a bad setting (78).
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

from steps.errors import BadSetting, PermissionDenied, StepError, Transient
from workflows.settings import Settings

GROUP, VERSION = "argoproj.io", "v1alpha1"
PLURALS = {
    "Workflow": "workflows",
    "WorkflowTemplate": "workflowtemplates",
    "CronWorkflow": "cronworkflows",
    "EventSource": "eventsources",
    "Sensor": "sensors",
}
# Which project installs the CRD of each kind: what to install when the server does not serve it.
CRD_OWNERS = {"EventSource": "Argo Events", "Sensor": "Argo Events"}
NODE_NAME_ANNOTATION = "workflows.argoproj.io/node-name"
WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
# An Argo pod runs init, wait and main; the API refuses a log request that does not name one.
MAIN_CONTAINER = "main"
LOG_CHUNK = 64 * 1024


class Conflict(Transient):
    """The object changed between our read and our write (HTTP 409); read it again and retry."""


def step_of(node_name: str) -> str:
    """The task a node belongs to: ``training-x7k.train(1)`` -> ``train``."""
    return node_name.split(".", 1)[-1].split("(", 1)[0]


class ArgoServer:
    """The Argo Server's REST API through Hera's ``WorkflowsService``."""

    via = "argo"

    def __init__(self, settings: Settings, needed_for: str | None = None) -> None:
        """``needed_for``: what only the Argo Server does (``retry``); else the Kubernetes API is the way round."""
        from hera.workflows.service import WorkflowsService

        if not settings.argo_url:
            other = f"; {needed_for} needs it" if needed_for else ", or use --via kube"
            raise BadSetting(f"setting ARGO_SERVER: not set (host:port of the Argo Server){other}")
        self.url = settings.argo_url
        self.namespace = settings.namespace
        token = settings.argo_token.get_secret_value() if settings.argo_token else None
        self.service = WorkflowsService(
            host=self.url,
            token=token,
            verify_ssl=not settings.argo_insecure_skip_verify,
            namespace=settings.namespace,
        )

    def _call(self, what: str, call, *args: Any, **kwargs: Any) -> Any:
        import requests
        from hera import exceptions as hx

        try:
            return call(*args, **kwargs)
        except hx.NotFound:
            return None
        except (hx.Unauthorized, hx.Forbidden) as exc:
            raise PermissionDenied(
                f"Argo Server {self.url}: {what} refused ({type(exc).__name__}); check ARGO_TOKEN and its RBAC"
            ) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise Transient(f"Argo Server {self.url}: unreachable ({type(exc).__name__})") from None
        except hx.HeraException as exc:
            raise StepError(f"Argo Server {self.url}: {what}: {exc}") from None

    def version(self) -> str | None:
        """The server's Argo Workflows version (``GET /api/v1/version``), e.g. ``v3.6.2``; None when
        the server does not say (no such route, or an answer without the documented fields)."""
        try:
            found = self._call("get version", self.service.get_version)
        except ValueError:  # not JSON, or JSON without the fields of Argo's Version
            return None
        return found.version if found is not None else None

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        getter = {
            "Workflow": self.service.get_workflow,
            "WorkflowTemplate": self.service.get_workflow_template,
            "CronWorkflow": self.service.get_cron_workflow,
        }.get(kind)
        if getter is None:
            raise BadSetting(f"{kind}: the Argo Server route does not serve it; use --via kube")
        found = self._call(f"get {kind} {name}", getter, name, namespace=self.namespace)
        return found.model_dump(by_alias=True, exclude_none=True) if found is not None else None

    def list_workflows(self, label_selector: str) -> list[dict[str, Any]]:
        """The namespace's Workflows carrying these labels (``GET /api/v1/workflows/{ns}``, labelSelector)."""
        found = self._call(
            f"list Workflows {label_selector}", self.service.list_workflows,
            namespace=self.namespace, label_selector=label_selector,
        )  # fmt: skip
        return [w.model_dump(by_alias=True, exclude_none=True) for w in (found.items or [])] if found else []

    def create(self, document: dict[str, Any]) -> dict[str, Any]:
        import hera.workflows.models as m

        kind = document["kind"]
        if kind != "Workflow":
            raise BadSetting(f"{kind}: create it with mlops apply (Kubernetes API)")
        request = m.WorkflowCreateRequest(
            workflow=m.Workflow.model_validate(document), namespace=self.namespace
        )
        created = self._call(
            "create Workflow", self.service.create_workflow, request, namespace=self.namespace
        )
        if created is None:
            template = (document["spec"].get("workflowTemplateRef") or {}).get("name")
            raise BadSetting(f"WorkflowTemplate {self.namespace}/{template}: not found; run: mlops apply")
        return created.model_dump(by_alias=True, exclude_none=True)

    def retry(self, name: str) -> dict[str, Any] | None:
        import hera.workflows.models as m

        request = m.WorkflowRetryRequest(name=name, namespace=self.namespace)
        retried = self._call(
            f"retry {name}", self.service.retry_workflow, name, request, namespace=self.namespace
        )
        return retried.model_dump(by_alias=True, exclude_none=True) if retried is not None else None

    def stop(self, name: str) -> dict[str, Any] | None:
        """Argo's stop (``PUT /api/v1/workflows/{ns}/{name}/stop``): no new step starts, the exit handler runs
        and the run ends Failed; the server refuses a completed run (500, "cannot shutdown a completed workflow")."""
        import hera.workflows.models as m

        request = m.WorkflowStopRequest(name=name, namespace=self.namespace)
        stopped = self._call(
            f"stop {name}", self.service.stop_workflow, name, request, namespace=self.namespace
        )
        return stopped.model_dump(by_alias=True, exclude_none=True) if stopped is not None else None

    def logs(self, workflow: dict[str, Any], step: str | None) -> Iterator[tuple[str, str]]:
        """(step, line) pairs from the log endpoint, which streams one JSON object per line
        (Hera's ``workflow_logs`` parses a single object, so the stream is read here)."""
        import requests

        name = workflow["metadata"]["name"]
        pods = pod_steps(workflow)
        url = f"{self.url}/api/v1/workflows/{self.namespace}/{name}/log"
        params = {"logOptions.container": "main"}
        try:
            response = self.service.session.get(
                url, params=params, headers={"Authorization": self.service.token or ""},
                verify=self.service.verify_ssl, stream=True, timeout=60,
            )  # fmt: skip
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise Transient(f"Argo Server {self.url}: unreachable ({type(exc).__name__})") from None
        if response.status_code in (401, 403):
            raise PermissionDenied(f"Argo Server {self.url}: logs of {name} refused; check ARGO_TOKEN")
        if not response.ok:
            raise StepError(f"Argo Server {self.url}: logs of {name}: HTTP {response.status_code}")
        for raw in response.iter_lines():
            if not raw:
                continue
            entry = json.loads(raw).get("result") or {}
            owner = pods.get(entry.get("podName", ""), entry.get("podName", ""))
            if step is None or owner == step:
                yield owner, entry.get("content", "")


def pod_steps(workflow: dict[str, Any]) -> dict[str, str]:
    """Pod name -> step, for pod nodes, by Argo's v2 pod names (``<wf>-<template>-<id suffix>``)."""
    name = workflow["metadata"]["name"]
    found = {}
    for node in ((workflow.get("status") or {}).get("nodes") or {}).values():
        if node.get("type") == "Pod":
            suffix = node["id"].rsplit("-", 1)[-1]
            found[f"{name}-{node.get('templateName', '')}-{suffix}"] = step_of(node.get("name", ""))
            found[node["id"]] = step_of(node.get("name", ""))  # v1 pod names are the node id
    return found


class KubeApi:
    """The Kubernetes API through the ``kubernetes`` client: kubeconfig, or in-cluster."""

    via = "kube"

    def __init__(self, settings: Settings) -> None:
        from kubernetes import client, config

        self.namespace = settings.namespace
        try:
            # KUBECONFIG as it is now: the client library reads it once, when first imported.
            api_client = config.new_client_from_config(config_file=os.environ.get("KUBECONFIG") or None)
            self.url = api_client.configuration.host
        except Exception as kubeconfig_error:  # no kubeconfig: maybe we run in a pod
            try:
                config.load_incluster_config()
                api_client = client.ApiClient()
                self.url = api_client.configuration.host
            except config.ConfigException:
                raise BadSetting(
                    f"setting KUBECONFIG: no usable kubeconfig ({str(kubeconfig_error).splitlines()[0]}) "
                    "and not running in a cluster"
                ) from None
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)

    def _call(self, what: str, call, *args: Any, kind: str | None = None, **kwargs: Any) -> Any:
        """``call``'s answer; None for an object that is not there (404 naming it)."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return call(*args, **kwargs)
        except ApiException as exc:
            found = _status(exc)
            if exc.status == 404 and (found.get("details") or {}).get("name"):
                return None
            if exc.status == 404:  # no details: the resource itself is unknown to the server
                install = (
                    f"; install {CRD_OWNERS.get(kind, 'Argo Workflows')}'s CRDs" if kind in PLURALS else ""
                )
                served = f"{PLURALS[kind]}.{GROUP}" if kind in PLURALS else "it"
                raise BadSetting(
                    f"Kubernetes API {self.url}: {what}: the server does not serve {served} "
                    f"({found.get('message', 'HTTP 404')}){install}"
                ) from None
            if exc.status in (401, 403):
                raise PermissionDenied(
                    f"Kubernetes API {self.url}: {what} refused (HTTP {exc.status}: {_reason(exc)}); "
                    "check the kubeconfig's user and RBAC"
                ) from None
            if exc.status == 409:
                raise Conflict(f"Kubernetes API {self.url}: {what}: {_reason(exc)}") from None
            if exc.status in (400, 422):
                raise StepError(f"Kubernetes API {self.url}: {what}: {_reason(exc)}") from None
            raise Transient(f"Kubernetes API {self.url}: {what}: HTTP {exc.status}") from None
        except HTTPError as exc:
            raise Transient(f"Kubernetes API {self.url}: unreachable ({type(exc).__name__})") from None

    def _plural(self, kind: str) -> str:
        if kind not in PLURALS:
            raise BadSetting(f"{kind}: not an Argo kind this tool manages ({', '.join(PLURALS)})")
        return PLURALS[kind]

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        return self._call(
            f"get {kind} {name}", self.custom.get_namespaced_custom_object,
            GROUP, VERSION, self.namespace, self._plural(kind), name, kind=kind,
        )  # fmt: skip

    def list_workflows(self, label_selector: str) -> list[dict[str, Any]]:
        found = self._call(
            f"list Workflows {label_selector}", self.custom.list_namespaced_custom_object,
            GROUP, VERSION, self.namespace, "workflows", label_selector=label_selector, kind="Workflow",
        )  # fmt: skip
        return (found or {}).get("items") or []

    def create(self, document: dict[str, Any]) -> dict[str, Any]:
        kind = document["kind"]
        created = self._call(
            f"create {kind}", self.custom.create_namespaced_custom_object,
            GROUP, VERSION, self.namespace, self._plural(kind), document, kind=kind,
        )  # fmt: skip
        if created is None:
            raise BadSetting(
                f"create {kind}: not found in namespace {self.namespace} (its template? run: mlops apply)"
            )
        return created

    def replace(self, document: dict[str, Any]) -> dict[str, Any]:
        """PUT the whole object; its ``metadata.resourceVersion`` must be the current one (else ``Conflict``)."""
        kind, name = document["kind"], document["metadata"]["name"]
        return self._call(
            f"update {kind} {name}", self.custom.replace_namespaced_custom_object,
            GROUP, VERSION, self.namespace, self._plural(kind), name, document, kind=kind,
        )  # fmt: skip

    def core_exists(self, kind: str, name: str) -> bool | None:
        """Whether a ServiceAccount, Secret or ConfigMap exists; None when we may not look."""
        reader = {
            "ServiceAccount": self.core.read_namespaced_service_account,
            "Secret": self.core.read_namespaced_secret,
            "ConfigMap": self.core.read_namespaced_config_map,
        }[kind]
        try:
            return self._call(f"read {kind} {name}", reader, name, self.namespace) is not None
        except PermissionDenied:
            return None

    def retry(self, name: str) -> dict[str, Any] | None:
        raise BadSetting("retry resets nodes on the Argo Server: set ARGO_SERVER and leave out --via kube")

    def stop(self, name: str) -> dict[str, Any] | None:
        raise BadSetting("stop goes through the Argo Server: set ARGO_SERVER and leave out --via kube")

    def logs(self, workflow: dict[str, Any], step: str | None) -> Iterator[tuple[str, str]]:
        """(step, line) pairs from the main container of each of the run's pods, read as a stream:
        a log may end mid-line (its last line is kept) or mid-character (shown as U+FFFD)."""
        from urllib3.exceptions import HTTPError

        name = workflow["metadata"]["name"]
        pods = self._call(
            f"list pods of {name}", self.core.list_namespaced_pod, self.namespace,
            label_selector=f"{WORKFLOW_LABEL}={name}",
        )  # fmt: skip
        for pod in sorted(pods.items if pods else [], key=lambda p: p.metadata.creation_timestamp or 0):
            owner = step_of((pod.metadata.annotations or {}).get(NODE_NAME_ANNOTATION, pod.metadata.name))
            if step is not None and owner != step:
                continue
            what = f"logs of pod {pod.metadata.name}"
            response = self._call(
                what, self.core.read_namespaced_pod_log, pod.metadata.name, self.namespace,
                container=MAIN_CONTAINER, _preload_content=False,
            )  # fmt: skip
            if response is None:  # gone since it was listed
                continue
            try:
                for line in log_lines(response.stream(LOG_CHUNK)):
                    yield owner, line
            except HTTPError as exc:
                raise Transient(
                    f"Kubernetes API {self.url}: {what}: cut off ({type(exc).__name__})"
                ) from None
            finally:
                response.release_conn()


def log_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """The lines of a streamed log, whatever the chunks cut: UTF-8 decoded across chunk ends (bytes
    that are not UTF-8 become U+FFFD), split at newlines only, the last line kept without one."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    for chunk in chunks:
        pending += decoder.decode(chunk)
        *done, pending = pending.split("\n")
        for line in done:
            yield line.removesuffix("\r")
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending.removesuffix("\r")


def _status(exc: Any) -> dict[str, Any]:
    """The Status object an API error carries (kind: Status, message, reason, details), or {}."""
    try:
        found = json.loads(exc.body)
    except (TypeError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _reason(exc: Any) -> str:
    return str(_status(exc).get("message") or exc.reason)


def connect(settings: Settings, via: str) -> ArgoServer | KubeApi:
    """The route ``via`` names: ``argo`` (the Argo Server) or ``kube`` (the Kubernetes API)."""
    if via == "argo":
        return ArgoServer(settings)
    if via == "kube":
        return KubeApi(settings)
    raise BadSetting(f"--via {via!r}: use argo or kube")
