"""The cost ledger of a run on a cluster, from its Workflow's status as the Argo Server returns it.

Each pod node (``status.nodes[*]`` of ``type: Pod``) is one attempt: a retried step's attempts are the
children of its ``Retry`` node, in order. Argo's ``resourcesDuration`` is what it held, requests x time
("indicative but not accurate", docs/resource-duration.md), in seconds per resource with memory in
units of 100Mi (pkg/apis/workflow/v1alpha1/workflow_types.go: ``ResourceQuantityDenominator``); the
wall time is ``finishedAt - startedAt``. Used CPU and memory are not in the status: those stay unknown.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from workflows.argo.expressions import evaluate
from workflows.argo.ledger import Ledger, Line, capacity_of, gpu_type_of, is_preempted, priced
from workflows.argo.resources import GPU, node_selector, template_requests
from workflows.settings import Settings

MEMORY_UNIT_GIB = 100 / 1024  # resourcesDuration counts memory in 100Mi
_EXPRESSION = re.compile(r"\{\{=(.*?)\}\}")


def seconds_between(started: Any, finished: Any) -> float:
    """Seconds from ``startedAt`` to ``finishedAt`` (RFC 3339 text, or datetimes as Hera parses them)."""
    if not started or not finished:
        return 0.0

    def when(value: Any) -> datetime:
        return (
            value
            if isinstance(value, datetime)
            else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        )

    return max(0.0, round((when(finished) - when(started)).total_seconds(), 3))


def iso(value: Any) -> str:
    """A status time as run.json writes one (``2026-11-22T10:00:00Z``), whether Hera parsed it or not."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value or "")


def attempt_patch(template: dict[str, Any], retries: int) -> str | None:
    """The template's ``podSpecPatch`` as the controller rendered it for this attempt: its ``{{=...}}``
    expressions evaluated with ``retries`` (the attempt's index); None when it names anything else."""
    patch = template.get("podSpecPatch")
    if not patch:
        return None

    def resolve(name: str) -> Any:
        if name != "retries":
            raise KeyError(name)
        return str(retries)

    try:
        return _EXPRESSION.sub(lambda found: str(evaluate(found.group(1).strip(), resolve)), patch)
    except Exception:  # an expression over other variables: the pod's placement is not knowable here
        return None


def workflow_templates(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The templates the run executed: its own, and those of the WorkflowTemplate it was submitted from."""
    status = workflow.get("status") or {}
    stored = (status.get("storedWorkflowTemplateSpec") or {}).get("templates") or []
    own = (workflow.get("spec") or {}).get("templates") or []
    found = {t["name"]: t for t in [*stored, *own]}
    found.update({t.get("name", key): t for key, t in (status.get("storedTemplates") or {}).items()})
    return found


def attempt_order(nodes: dict[str, dict[str, Any]]) -> dict[str, tuple[int, int, str]]:
    """Each retried pod node's (index, count, step) among its ``Retry`` node's children: its attempts are
    named ``train(0)``, ``train(1)`` under a ``train`` Retry node (workflow/controller/operator.go)."""
    order = {}
    for node in nodes.values():
        if node.get("type") == "Retry":
            children = [child for child in node.get("children") or [] if child in nodes]
            step = node.get("displayName") or node.get("name", "")
            order.update({child: (index, len(children), step) for index, child in enumerate(children)})
    return order


def cluster_ledger(workflow: dict[str, Any], settings: Settings) -> Ledger:
    """Every finished pod node of the Workflow as a priced line (its billed seconds from ``resourcesDuration``)."""
    status = workflow.get("status") or {}
    nodes = status.get("nodes") or {}
    templates = workflow_templates(workflow)
    order = attempt_order(nodes)
    lines = []
    for node_id, node in nodes.items():
        if node.get("type") != "Pod" or not node.get("finishedAt"):
            continue
        name = node.get("templateName") or (node.get("templateRef") or {}).get("template", "")
        template = templates.get(name) or {"name": name}
        index, count, step = order.get(node_id, (0, 1, node.get("displayName") or node.get("name", node_id)))
        requests = template_requests(template)
        selector = node_selector(template, attempt_patch(template, index))
        capacity = capacity_of(selector, settings, name)
        held = node.get("resourcesDuration") or {}
        code = (node.get("outputs") or {}).get("exitCode")
        line = Line(
            step=step,
            template=name,
            attempt=index + 1,
            phase=node.get("phase", ""),
            exit_code=int(code) if code not in (None, "") else None,
            retried=index < count - 1,
            preempted=node.get("phase") != "Succeeded"
            and is_preempted(int(code) if code not in (None, "") else None, node.get("message", "")),
            capacity=capacity,
            gpu_type=gpu_type_of(selector, settings.prices, capacity, name) if held.get(GPU) else "",
            wall_seconds=seconds_between(node.get("startedAt"), node.get("finishedAt")),
            requests=asdict(requests),
            vcpu_seconds=float(held.get("cpu", 0)),
            gib_seconds=round(float(held.get("memory", 0)) * MEMORY_UNIT_GIB, 3),
            gpu_seconds=float(held.get(GPU, 0)),
            source="resourcesDuration",
        )
        lines.append(priced(line, settings.prices))
    meta = workflow.get("metadata") or {}
    return Ledger(
        run=meta.get("name", ""),
        template=((workflow.get("spec") or {}).get("workflowTemplateRef") or {}).get("name", ""),
        phase=status.get("phase", ""),
        started_at=iso(status.get("startedAt")),
        finished_at=iso(status.get("finishedAt")),
        where="cluster",
        lines=sorted(lines, key=lambda line: (line.step, line.attempt)),
        prices=settings.prices.model_dump(mode="json"),
    )


def fetch_ledger(client: Any, name: str, settings: Settings) -> Ledger | None:
    """The ledger of Workflow ``name`` read through the Argo Server (or the Kubernetes API); None if there is none."""
    workflow = client.get("Workflow", name)
    return cluster_ledger(workflow, settings) if workflow is not None else None
