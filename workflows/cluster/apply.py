"""Apply: create or update, idempotently, every compiled cluster object in the namespace.

The WorkflowTemplates, CronWorkflows and Argo Events objects in ``manifests/`` go through the
Kubernetes API, as ``kubectl apply`` would: an object that is missing is created, one whose owned
fields differ is replaced (at its current resourceVersion), and one that matches is left alone.

The fields apply owns are what the manifest sets: every top-level field but ``metadata`` and
``status`` (``spec``, whole), and, in ``metadata``, the labels and annotations it names. Everything
else is someone else's and is kept as the server has it: what the API server sets (``uid``,
``resourceVersion``, ``generation``, ``creationTimestamp``, ``managedFields``), what Argo's
controllers write (the cron controller's ``cronworkflows.argoproj.io/last-used-schedule``
annotation and ``status``: Argo's CRDs have no status subresource, so a PUT without them would
erase them), and labels or annotations other tools add. A label the manifest stops setting is
left in place, not removed: apply keeps no record of what it set before.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from steps.errors import BadInput
from workflows.cluster.client import PLURALS, Conflict, KubeApi

# A controller may write the object between our GET and our PUT (the cron controller does, each run).
ATTEMPTS = 3
NOT_OWNED = ("metadata", "status")


def cluster_objects(folder: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every Argo object in the compiled manifests, in file order."""
    for path in sorted(folder.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and document.get("kind") in PLURALS:
                yield path, document


def _owned_metadata(document: dict[str, Any]) -> dict[str, dict[str, str]]:
    meta = document.get("metadata") or {}
    return {key: dict(meta.get(key) or {}) for key in ("labels", "annotations")}


def _same(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether every field the manifest owns already has the manifest's value."""
    for key in set(wanted) | set(current):
        if key not in NOT_OWNED and key not in ("apiVersion", "kind") and current.get(key) != wanted.get(key):
            return False
    now = _owned_metadata(current)
    return all(
        now[key].get(name) == value
        for key, mine in _owned_metadata(wanted).items()
        for name, value in mine.items()
    )


def _merged(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The object to PUT: the server's, with the manifest's fields in place of its own."""
    merged = {key: copy.deepcopy(value) for key, value in current.items() if key in NOT_OWNED}
    merged |= {key: copy.deepcopy(value) for key, value in wanted.items() if key not in NOT_OWNED}
    meta = merged["metadata"]
    meta.pop("managedFields", None)  # left out, the server keeps them
    for key, mine in _owned_metadata(wanted).items():
        if mine:
            meta[key] = (meta.get(key) or {}) | mine
    return merged  # metadata.resourceVersion: the one just read, so a write in between is a 409


def apply_object(kube: KubeApi, document: dict[str, Any]) -> str:
    """Create, replace or leave one object; returns what was done."""
    kind, name = document["kind"], document["metadata"]["name"]
    namespace = document["metadata"].get("namespace")
    if namespace and namespace != kube.namespace:
        raise BadInput(f"{kind} {name}: compiled for namespace {namespace!r}, applying to {kube.namespace!r}")
    attempt = 1
    while True:
        current = kube.get(kind, name)
        if current is not None and _same(current, document):
            return "unchanged"
        try:
            if current is None:
                kube.create(document)
                return "created"
            kube.replace(_merged(current, document))
            return "updated"
        except Conflict:  # created or written since we read it: read it again
            if attempt == ATTEMPTS:
                raise
            attempt += 1
