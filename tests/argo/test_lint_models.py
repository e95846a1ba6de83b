"""Lint checks Argo Workflows kinds against the copy of Hera's generated models that ``hera.events`` holds
(one package of models for every manifest, not two): that copy must be the same schema as
``hera.workflows.models``, the models the project compiles with."""

from __future__ import annotations

import json

import hera.workflows.models as workflows_models
import pytest

from workflows.argo.lint_fields import model_for

KINDS = ("Workflow", "WorkflowTemplate", "CronWorkflow", "ClusterWorkflowTemplate")


def normalised(model) -> str:
    # the two copies differ only in the module each class lives in, which JSON schema names some $defs by
    return json.dumps(model.model_json_schema(), sort_keys=True).replace(
        "hera__events__", "hera__workflows__"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_lint_reads_the_same_schema_the_project_compiles_with(kind):
    linted = model_for(kind)
    assert linted.__module__.startswith("hera.events.models.")
    assert normalised(linted) == normalised(getattr(workflows_models, kind))


def test_a_field_that_differs_would_be_seen():
    spec = json.loads(normalised(model_for("Workflow")))
    spec["$defs"]["HTTP"]["properties"].pop("body")
    assert json.dumps(spec, sort_keys=True) != normalised(workflows_models.Workflow)
