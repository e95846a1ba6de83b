"""The documented fields of the custom resources the project writes, for lint's unknown-field check.

Hera covers Argo's kinds and the kubernetes client covers core kinds; ArgoCD's Application,
KServe's InferenceService and kustomize's Kustomization have no Python models, so the fields
the project uses (and their documented siblings) are listed here. ``ANY`` marks a free-form map.
"""

from __future__ import annotations

from typing import Any

ANY: dict[str, Any] = {}
METADATA = {"name": None, "namespace": None, "labels": ANY, "annotations": ANY, "finalizers": None}
RESOURCES = {"requests": ANY, "limits": ANY}
MODEL_SPEC = {
    "modelFormat": {"name": None, "version": None},
    "protocolVersion": None,
    "runtime": None,
    "storageUri": None,
    "storage": ANY,
    "resources": RESOURCES,
    "env": None,
    "args": None,
}
PREDICTOR = {
    "model": MODEL_SPEC,
    "minReplicas": None,
    "maxReplicas": None,
    "scaleTarget": None,
    "scaleMetric": None,
    "canaryTrafficPercent": None,
    "serviceAccountName": None,
    "containerConcurrency": None,
    "timeout": None,
    "nodeSelector": ANY,
    "tolerations": None,
    "affinity": ANY,
    "labels": ANY,
    "annotations": ANY,
}
SYNC_POLICY = {
    "automated": {"prune": None, "selfHeal": None, "allowEmpty": None},
    "syncOptions": None,
    "retry": {"limit": None, "backoff": {"duration": None, "factor": None, "maxDuration": None}},
    "managedNamespaceMetadata": ANY,
}
SOURCE = {
    "repoURL": None,
    "targetRevision": None,
    "path": None,
    "chart": None,
    "ref": None,
    "directory": {"recurse": None, "include": None, "exclude": None, "jsonnet": ANY},
    "kustomize": ANY,
    "helm": ANY,
    "plugin": ANY,
}
FIELDS: dict[str, dict[str, Any]] = {
    "InferenceService": {
        "apiVersion": None,
        "kind": None,
        "metadata": METADATA,
        "spec": {"predictor": PREDICTOR, "transformer": ANY, "explainer": ANY},
    },
    "Application": {
        "apiVersion": None,
        "kind": None,
        "metadata": METADATA,
        "spec": {
            "project": None,
            "source": SOURCE,
            "sources": None,
            "destination": {"server": None, "namespace": None, "name": None},
            "syncPolicy": SYNC_POLICY,
            "ignoreDifferences": None,
            "info": None,
            "revisionHistoryLimit": None,
        },
    },
    "PrometheusRule": {"apiVersion": None, "kind": None, "metadata": METADATA, "spec": {"groups": None}},
    "Kustomization": {
        "apiVersion": None,
        "kind": None,
        "namespace": None,
        "resources": None,
        "patches": None,
        "images": None,
        "commonLabels": ANY,
        "labels": None,
        "namePrefix": None,
        "nameSuffix": None,
        "configMapGenerator": None,
        "secretGenerator": None,
    },
}
REQUIRED: dict[str, list[str]] = {
    "InferenceService": [
        "metadata.name",
        "spec.predictor.model.modelFormat.name",
        "spec.predictor.model.storageUri",
    ],
    "Application": ["metadata.name", "spec.project", "spec.source.repoURL", "spec.destination.namespace"],
    "Kustomization": ["resources"],
    "PrometheusRule": ["metadata.name", "spec.groups"],
}


def unknown_keys(value: Any, schema: dict[str, Any] | None, path: str) -> list[str]:
    """Paths of keys the schema does not list (``None``: a scalar or list not checked further)."""
    if not isinstance(value, dict) or schema is None or schema is ANY:
        return []
    found = []
    for key, item in value.items():
        if key not in schema:
            found.append(f"{path}.{key}" if path else key)
        else:
            found.extend(unknown_keys(item, schema[key], f"{path}.{key}" if path else key))
    return found


def missing_keys(document: dict[str, Any], kind: str) -> list[str]:
    missing = []
    for dotted in REQUIRED.get(kind, []):
        current: Any = document
        for part in dotted.split("."):
            current = current.get(part) if isinstance(current, dict) else None
        if current in (None, ""):
            missing.append(dotted)
    return missing
