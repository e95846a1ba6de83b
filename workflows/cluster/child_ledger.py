"""The ledgers of the Workflows a cluster run started (a drift check's retrain, created by a resource template),
read through the Argo Server, each carrying the starting run's cost as ``upstream`` (what its model cost).

A child is found by the name its resource node saved as an output parameter (``valueFrom.jsonPath:
'{.metadata.name}'``; argoexec's ``SaveResourceParameters``, workflow/executor/resource.go, into the node's
``outputs.parameters``); a resource that met its ``failureCondition`` saves no outputs, so a child is also
found among the Workflows carrying the labels the manifest gives it, by the owner reference to the run that
``setOwnerReference`` puts on it ("sets the reference to the workflow on the OwnerReference of generated
resource", ResourceTemplate in pkg/apis/workflow/v1alpha1/workflow_types.go).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from workflows.argo.ledger import Ledger
from workflows.cluster.ledger import cluster_ledger, workflow_templates
from workflows.settings import Settings

NAME_PATH = "{.metadata.name}"
_PLACEHOLDER = re.compile(r"\{\{.*?\}\}")


def created_workflow(template: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest of the Workflow a resource template creates (its ``{{...}}`` left as they are); else None."""
    resource = template.get("resource") or {}
    if resource.get("action") != "create" or not resource.get("manifest"):
        return None
    try:
        manifest = yaml.safe_load(resource["manifest"])
    except yaml.YAMLError:
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("kind") == "Workflow" else None


def started_children(workflow: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(the child Workflows its resource nodes named, the label selectors of those that saved no name)."""
    templates = workflow_templates(workflow)
    named, selectors = [], []
    for node in ((workflow.get("status") or {}).get("nodes") or {}).values():
        name = node.get("templateName") or (node.get("templateRef") or {}).get("template", "")
        template = templates.get(name) or {}
        manifest = created_workflow(template)
        if manifest is None or node.get("type") != "Pod":
            continue
        naming = {
            p["name"]
            for p in (template.get("outputs") or {}).get("parameters") or []
            if (p.get("valueFrom") or {}).get("jsonPath") == NAME_PATH
        }
        saved = [
            str(p["value"])
            for p in (node.get("outputs") or {}).get("parameters") or []
            if p.get("name") in naming and p.get("value")
        ]
        named += saved
        labels = (manifest.get("metadata") or {}).get("labels") or {}
        fixed = {k: v for k, v in labels.items() if not _PLACEHOLDER.search(f"{k}={v}")}
        if not saved and fixed:
            selectors.append(",".join(f"{k}={v}" for k, v in sorted(fixed.items())))
    return list(dict.fromkeys(named)), list(dict.fromkeys(selectors))


def owned_by(child: dict[str, Any], parent: dict[str, Any]) -> bool:
    meta = parent.get("metadata") or {}
    for owner in (child.get("metadata") or {}).get("ownerReferences") or []:
        if owner.get("kind") == "Workflow" and (
            owner.get("uid") == meta.get("uid") if meta.get("uid") else owner.get("name") == meta.get("name")
        ):
            return True
    return False


def child_workflows(client: Any, workflow: dict[str, Any]) -> list[dict[str, Any]]:
    """The Workflows ``workflow`` started: by the names its nodes saved, then by label and owner reference."""
    named, selectors = started_children(workflow)
    found = {}
    for name in named:
        child = client.get("Workflow", name)
        if child is not None:  # deleted since (garbage-collected with its owner, or by hand): nothing to read
            found[name] = child
    for selector in selectors:
        for child in client.list_workflows(selector):
            if owned_by(child, workflow):
                found.setdefault(child["metadata"]["name"], child)
    return list(found.values())


def fetch_family(client: Any, name: str, settings: Settings) -> tuple[Ledger, list[Ledger]] | None:
    """Workflow ``name``'s ledger and those of the Workflows it started, each child's ``upstream`` holding
    this run's cost (the drift check is part of what the retrained model cost); None when there is none."""
    workflow = client.get("Workflow", name)
    if workflow is None:
        return None
    ledger = cluster_ledger(workflow, settings)
    children = []
    for child in child_workflows(client, workflow):
        started = cluster_ledger(child, settings)
        started.upstream[ledger.run] = ledger.totals()["cost"]
        children.append(started)
    return ledger, children
