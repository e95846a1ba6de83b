"""Submit a run of a WorkflowTemplate to the cluster, check first what it needs, follow it to the end.

Argo has no dry run: a missing template, service account, ConfigMap or Secret shows up only
when the run starts, or when a pod does. ``preflight`` looks for each of them before anything
is submitted and names what is missing. It first reads the Argo Server's version and refuses
one older than the manifests need.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from steps.errors import BadInput, BadSetting, PermissionDenied
from workflows.argo.lint_labels import unlabelable_parameters
from workflows.cluster.client import ArgoServer, KubeApi, step_of
from workflows.settings import Settings

DONE = {"Succeeded", "Failed", "Error"}
# Parameters that say where data and runs live: a pod can only reach them over the network.
SHARED_LOCATIONS = ("data-uri", "storage-root", "current-uri")
# CronWorkflow ``spec.schedules`` and ``synchronization.mutexes`` are unknown fields before 3.6.
MINIMUM_ARGO = (3, 6)
RELEASE = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?")


def run_parameters(template: dict[str, Any], given: dict[str, str], settings: Settings) -> dict[str, str]:
    """The arguments to send: the settings' locations for the parameters that say where, then ``-p``;
    an undeclared name is refused before anything is sent."""
    declared = [p["name"] for p in (template["spec"].get("arguments") or {}).get("parameters") or []]
    for name in given:
        if name not in declared:
            raise BadInput(
                f"parameter {name!r}: {template['metadata']['name']} has no such parameter ({', '.join(declared)})"
            )
    located = {k: v for k, v in settings.workflow_parameters().items() if k in declared}
    for name, value in unlabelable_parameters(template, located | given):
        raise BadInput(
            f"parameter {name!r}: {value!r} cannot be a pod label value, which every pod of the run carries"
            " (at most 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit)"
        )
    return located | given


@dataclass
class Finding:
    what: str
    ok: bool | None  # None: could not be checked
    detail: str = ""
    required: bool = True

    def line(self) -> str:
        mark = {True: "ok", False: "MISSING" if self.required else "missing (optional)", None: "not checked"}[
            self.ok
        ]
        return f"preflight: {self.what}: {mark}{f' ({self.detail})' if self.detail else ''}"


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def referenced_objects(template: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(kind, name, required) for every ConfigMap and Secret the template's pods read."""
    found: dict[tuple[str, str], bool] = {}
    for node in _walk(template.get("spec")):
        for key, kind in (
            ("configMapRef", "ConfigMap"), ("secretRef", "Secret"),
            ("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret"),
        ):  # fmt: skip
            ref = node.get(key)
            if isinstance(ref, dict) and ref.get("name"):
                required = not ref.get("optional", False)
                found[(kind, ref["name"])] = found.get((kind, ref["name"]), False) or required
    return [(kind, name, required) for (kind, name), required in sorted(found.items())]


def child_templates(template: dict[str, Any]) -> list[str]:
    """WorkflowTemplates that this template's resource steps submit (drift -> training)."""
    import yaml

    names = []
    for node in _walk(template.get("spec")):
        manifest = node.get("manifest") if isinstance(node.get("manifest"), str) else None
        if manifest:
            child = yaml.safe_load(manifest) or {}
            ref = (child.get("spec") or {}).get("workflowTemplateRef") or {}
            if ref.get("name"):
                names.append(ref["name"])
    return names


def argo_version(cluster: ArgoServer | KubeApi) -> Finding:
    """The Argo Server's version as a finding; one older than ``MINIMUM_ARGO`` is refused (exit 78).
    A version that is not a release's (``untagged``, ``latest+abc1234``) is let through with a note."""
    need = ".".join(map(str, MINIMUM_ARGO))
    what = "Argo Workflows version"
    if not isinstance(cluster, ArgoServer):
        return Finding(what, None, f"no Argo Server on --via kube; the manifests need >= {need}")
    try:
        version = cluster.version()
    except PermissionDenied:  # a token may create workflows without the right to read the version
        return Finding(what, None, f"forbidden to read it; the manifests need >= {need}")
    if version is None:
        return Finding(
            what, None, f"the server does not say (GET /api/v1/version); the manifests need >= {need}"
        )
    release = RELEASE.fullmatch(version)
    if release is None:
        return Finding(what, None, f"{version}: not a release version; the manifests need >= {need}")
    if tuple(int(part) for part in release.groups()[:2]) < MINIMUM_ARGO:
        raise BadSetting(
            f"preflight: the Argo Server at {cluster.url} runs Argo Workflows {version}; the manifests need "
            f">= {need} (CronWorkflow spec.schedules, synchronization.mutexes): upgrade Argo Workflows"
        )
    return Finding(f"{what} {version}", True)


def preflight(
    template: dict[str, Any], parameters: dict[str, str], cluster: ArgoServer | KubeApi, kube: KubeApi | None
) -> list[Finding]:
    """What the run needs from the cluster, each looked for; ``kube`` None: no Kubernetes access."""
    findings = [argo_version(cluster)]
    for name, value in parameters.items():
        if name in SHARED_LOCATIONS and value and "://" not in value:
            findings.append(Finding(f"parameter {name}={value}", False, "a local path; pods need s3://"))
    name = template["metadata"]["name"]
    for wanted in [name, *child_templates(template)]:
        exists = cluster.get("WorkflowTemplate", wanted) is not None
        findings.append(
            Finding(
                f"WorkflowTemplate {cluster.namespace}/{wanted}",
                exists,
                "" if exists else "run: mlops apply",
            )
        )
    needed = [("ServiceAccount", template["spec"].get("serviceAccountName") or "default", True)]
    for kind, object_name, required in needed + referenced_objects(template):
        what = f"{kind} {cluster.namespace}/{object_name}"
        if kube is None:
            findings.append(Finding(what, None, "no Kubernetes access to look", required))
        else:
            found = kube.core_exists(kind, object_name)
            findings.append(Finding(what, found, "forbidden to look" if found is None else "", required))
    return findings


def check(findings: list[Finding], say: Callable[[str], None]) -> None:
    for finding in findings:
        say(finding.line())
    missing = [f.what for f in findings if f.ok is False and f.required]
    if missing:
        raise BadSetting(
            f"preflight: the cluster lacks {len(missing)} thing(s) the run needs: {'; '.join(missing)}"
        )


def follow(
    cluster: ArgoServer | KubeApi,
    name: str,
    say: Callable[[str], None],
    interval: float = 5.0,
    check: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Poll the run and report each node's phase as it changes; returns the finished Workflow.
    ``check`` sees the Workflow after each poll while it runs (the budget gate's)."""
    seen: dict[str, str] = {}
    while True:
        workflow = cluster.get("Workflow", name)
        if workflow is None:
            raise BadInput(f"run {name!r}: not found in namespace {cluster.namespace}")
        status = workflow.get("status") or {}
        for node in sorted((status.get("nodes") or {}).values(), key=lambda n: str(n.get("startedAt") or "")):
            if node.get("type") not in ("Pod", "Skipped"):
                continue
            label = node.get("displayName") or step_of(node.get("name", ""))
            phase = node.get("phase", "Pending")
            if seen.get(node["id"]) != phase:
                seen[node["id"]] = phase
                message = f"  {node['message']}" if node.get("message") and phase != "Succeeded" else ""
                say(f"{name}: {label:<24} {phase}{message}")
        if status.get("phase") in DONE:
            return workflow
        if check is not None:
            check(workflow)
        time.sleep(interval)
