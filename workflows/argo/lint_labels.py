"""The labels cost allocation reads: every pod of the project's workflows says its run, model and experiment.

OpenCost and Kubecost allocate a cluster's cost by pod label, and only as well as every pod carries
the labels. The project's WorkflowTemplates (labelled ``app.kubernetes.io/part-of: argo-mlops``) set
them once in ``spec.podMetadata``, which Argo copies onto each pod it creates (workflow/controller/
workflowpod.go: ``addMetadata``) after resolving the workflow's globals in the spec; a Workflow or
CronWorkflow that names such a template by ``workflowTemplateRef`` inherits them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

PART_OF = ("app.kubernetes.io/part-of", "argo-mlops")
RUN_LABEL, MODEL_LABEL, EXPERIMENT_LABEL = "argo-mlops/run", "argo-mlops/model", "argo-mlops/experiment"
COST_LABELS = (RUN_LABEL, MODEL_LABEL, EXPERIMENT_LABEL)
# A label value: at most 63 characters, alphanumerics at both ends, '-', '_' and '.' between (Kubernetes).
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def cost_labels(parameters: dict[str, str], experiment: str) -> dict[str, str]:
    """The labels for a template's pods: the run's name, and its model and experiment parameters (a setting's
    value for a template that takes no experiment parameter)."""
    return {
        RUN_LABEL: "{{workflow.name}}",
        MODEL_LABEL: "{{workflow.parameters.model-name}}",
        EXPERIMENT_LABEL: "{{workflow.parameters.experiment}}" if "experiment" in parameters else experiment,
    }


def label_problems(document: dict[str, Any], spec: dict[str, Any], prefix: str) -> Iterator[tuple[str, str]]:
    """A project template whose pods lack a cost label, or carry a fixed value Kubernetes refuses."""
    labels = (document.get("metadata") or {}).get("labels") or {}
    if labels.get(PART_OF[0]) != PART_OF[1] or spec.get("workflowTemplateRef") is not None:
        return  # a user's own workflow, or one that takes its pods' metadata from the template it names
    pod_labels = ((spec.get("podMetadata") or {}).get("labels")) or {}
    for key in COST_LABELS:
        if key not in pod_labels:
            yield (
                f"{prefix}.podMetadata.labels",
                f"label '{key}' is missing: every pod of an argo-mlops workflow carries "
                f"{', '.join(COST_LABELS)} so cost can be allocated by label",
            )
    for key, value in pod_labels.items():
        if "{{" not in str(value) and not LABEL_VALUE.match(str(value)):
            yield (
                f"{prefix}.podMetadata.labels.{key}",
                f"{value!r} is not a valid label value (63 characters, [-A-Za-z0-9_.])",
            )


def unlabelable_parameters(template: dict[str, Any], values: dict[str, str]) -> Iterator[tuple[str, str]]:
    """The workflow parameters whose value a pod label takes and Kubernetes would refuse: (name, value).
    Argo copies the labels onto each pod, so such a value fails every pod's creation on the cluster."""
    spec = template.get("spec") or {}
    defaults = {p["name"]: p.get("value") for p in (spec.get("arguments") or {}).get("parameters") or []}
    for label in ((spec.get("podMetadata") or {}).get("labels") or {}).values():
        named = re.fullmatch(r"\{\{\s*workflow\.parameters\.([\w-]+)\s*\}\}", str(label))
        value = named and values.get(named.group(1), defaults.get(named.group(1)))
        if value is not None and named and not LABEL_VALUE.match(str(value)):
            yield named.group(1), str(value)
