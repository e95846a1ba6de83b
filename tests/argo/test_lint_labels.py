"""Lint checks the cost-allocation labels: every pod of the project's workflows says its run, model and
experiment (``spec.podMetadata``, copied onto each pod by Argo's ``addMetadata``)."""

from __future__ import annotations

import yaml

from workflows.argo.lint import lint_documents
from workflows.argo.lint_labels import COST_LABELS
from workflows.pipelines.compile import MANIFESTS_DIR


def project_template(pod_labels: dict[str, str] | None) -> dict:
    spec = {
        "entrypoint": "main",
        "arguments": {"parameters": [{"name": "model-name", "value": "m"}]},
        "templates": [{"name": "main", "container": {"image": "steps:1.0", "command": ["python"]}}],
    }
    if pod_labels is not None:
        spec["podMetadata"] = {"labels": pod_labels}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "mine", "labels": {"app.kubernetes.io/part-of": "argo-mlops"}},
        "spec": spec,
    }


def messages(document: dict) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in lint_documents("t.yaml", yaml.safe_dump(document))]


def test_the_compiled_workflows_label_every_pod():
    for name in ("training", "drift", "sweep"):
        template = yaml.safe_load((MANIFESTS_DIR / f"{name}.yaml").read_text())
        assert set(template["spec"]["podMetadata"]["labels"]) >= set(COST_LABELS), name
        assert messages(template) == []


def test_a_project_template_without_a_cost_label_is_named():
    found = messages(project_template({"argo-mlops/run": "{{workflow.name}}", "argo-mlops/model": "m"}))
    assert found == [
        (
            "spec.podMetadata.labels",
            "label 'argo-mlops/experiment' is missing: every pod of an argo-mlops workflow carries "
            "argo-mlops/run, argo-mlops/model, argo-mlops/experiment so cost can be allocated by label",
        )
    ]
    assert len(messages(project_template(None))) == 3


def test_a_fixed_label_value_kubernetes_refuses_is_named():
    labels = {
        "argo-mlops/run": "{{workflow.name}}",
        "argo-mlops/model": "m",
        "argo-mlops/experiment": "my exp",
    }
    assert messages(project_template(labels)) == [
        (
            "spec.podMetadata.labels.argo-mlops/experiment",
            "'my exp' is not a valid label value (63 characters, [-A-Za-z0-9_.])",
        )
    ]


def test_a_users_own_workflow_is_not_held_to_the_projects_labels():
    document = project_template(None)
    document["metadata"]["labels"] = {}
    assert messages(document) == []
