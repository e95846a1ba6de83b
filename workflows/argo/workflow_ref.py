"""A Workflow that runs a WorkflowTemplate: what `mlops submit` sends and what the Sensor creates."""

from __future__ import annotations

from typing import Any

from workflows.settings import Settings

PART_OF = {"app.kubernetes.io/part-of": "argo-mlops"}


def workflow_manifest(
    template: str, parameters: dict[str, str], settings: Settings, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """A Workflow that runs the WorkflowTemplate ``template`` with these arguments."""
    from hera.workflows import Parameter, Workflow
    from hera.workflows.models import WorkflowTemplateRef

    workflow = Workflow(
        generate_name=f"{template}-",
        namespace=settings.namespace,
        labels={**PART_OF, "argo-mlops/pipeline": template, **(labels or {})},
        workflow_template_ref=WorkflowTemplateRef(name=template),
        arguments=[Parameter(name=key, value=value) for key, value in parameters.items()],
    )
    return workflow.to_dict()
