"""Apply: create or update, idempotently, every compiled cluster object in the namespace.

The WorkflowTemplates, CronWorkflows and Argo Events objects in ``manifests/`` go through the
Kubernetes API, as ``kubectl apply`` would: an object that is missing is created, one whose spec
differs is replaced (at its current resourceVersion), and one that matches is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from steps.errors import BadInput
from workflows.cluster.client import PLURALS, KubeApi


def cluster_objects(folder: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every Argo object in the compiled manifests, in file order."""
    for path in sorted(folder.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and document.get("kind") in PLURALS:
                yield path, document


def _same(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    meta, now = wanted.get("metadata") or {}, current.get("metadata") or {}
    return (
        current.get("spec") == wanted.get("spec")
        and (now.get("labels") or {}) == (meta.get("labels") or {})
        and (now.get("annotations") or {}) == (meta.get("annotations") or {})
    )


def apply_object(kube: KubeApi, document: dict[str, Any]) -> str:
    """Create, replace or leave one object; returns what was done."""
    kind, name = document["kind"], document["metadata"]["name"]
    namespace = document["metadata"].get("namespace")
    if namespace and namespace != kube.namespace:
        raise BadInput(f"{kind} {name}: compiled for namespace {namespace!r}, applying to {kube.namespace!r}")
    current = kube.get(kind, name)
    if current is None:
        kube.create(document)
        return "created"
    if _same(current, document):
        return "unchanged"
    updated = {
        **document,
        "metadata": {**document["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]},
    }
    kube.replace(updated)
    return "updated"
