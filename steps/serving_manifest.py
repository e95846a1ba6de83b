"""The KServe InferenceService that serves a model, and the edits a deploy makes to it.

The manifest is created once per model from ``inference_service``; after that a deploy changes
only three lines (``storageUri``, the ``argo-mlops/model-version`` annotation and, during a
canary, ``canaryTrafficPercent``) and leaves the rest of the file as the team formatted it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from steps.errors import BadInput

VERSION_ANNOTATION = "argo-mlops/model-version"


def inference_service(model_name: str, storage_uri: str, version: str, namespace: str) -> dict[str, Any]:
    """A KServe InferenceService for an MLflow model (protocol v2, MLServer runtime)."""
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": model_name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "argo-mlops", "argo-mlops/model": model_name},
            # KServe 0.16 renamed Serverless to Knative; canaryTrafficPercent needs this mode.
            "annotations": {"serving.kserve.io/deploymentMode": "Knative", VERSION_ANNOTATION: str(version)},
        },
        "spec": {
            "predictor": {
                "minReplicas": 1,
                "maxReplicas": 3,
                "model": {
                    # MLflow 3 models: leave modelFormat.version unset.
                    "modelFormat": {"name": "mlflow"},
                    "protocolVersion": "v2",
                    "storageUri": storage_uri,
                    "resources": {
                        "requests": {"cpu": "500m", "memory": "1Gi"},
                        "limits": {"cpu": "1", "memory": "2Gi"},
                    },
                },
            }
        },
    }


def render(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False)


@dataclass(frozen=True)
class Deployed:
    """What a serving manifest currently points at."""

    storage_uri: str
    version: str
    canary_percent: int | None


def read(text: str, path: str) -> Deployed:
    try:
        document = yaml.safe_load(text)
        predictor = document["spec"]["predictor"]
        return Deployed(
            storage_uri=str(predictor["model"]["storageUri"]),
            version=str((document["metadata"].get("annotations") or {}).get(VERSION_ANNOTATION, "")),
            canary_percent=predictor.get("canaryTrafficPercent"),
        )
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise BadInput(
            f"{path}: not an InferenceService with spec.predictor.model.storageUri ({exc})"
        ) from None


def _replace_value(text: str, key: str, value: str, path: str) -> str:
    pattern = re.compile(rf"^(\s*{re.escape(key)}:)[ \t]*.*$", re.MULTILINE)
    if len(pattern.findall(text)) != 1:
        raise BadInput(f"{path}: expected exactly one '{key}:' line to edit")
    return pattern.sub(lambda m: f"{m.group(1)} {value}", text)


def _set_canary(text: str, percent: int | None, path: str) -> str:
    lines = [
        line for line in text.splitlines(keepends=True) if not re.match(r"^\s*canaryTrafficPercent:", line)
    ]
    if percent is None:
        return "".join(lines)
    for index, line in enumerate(lines):
        if re.match(r"^\s*predictor:\s*$", line):
            child = re.match(r"^(\s*)", lines[index + 1]).group(1)
            lines.insert(index + 1, f"{child}canaryTrafficPercent: {percent}\n")
            return "".join(lines)
    raise BadInput(f"{path}: no 'predictor:' block to put canaryTrafficPercent in")


def point_at(text: str, storage_uri: str, version: str, canary_percent: int | None, path: str) -> str:
    """The manifest pointing at a new model version, every other line unchanged."""
    edited = _replace_value(text, "storageUri", json.dumps(storage_uri), path)
    edited = _replace_value(edited, VERSION_ANNOTATION, f'"{version}"', path)
    edited = _set_canary(edited, canary_percent, path)
    after = read(edited, path)
    if (after.storage_uri, after.version, after.canary_percent) != (
        storage_uri,
        str(version),
        canary_percent,
    ):
        raise BadInput(f"{path}: the edit did not produce the expected manifest")
    return edited
