"""templateRef, workflowTemplateRef and templateDefaults resolved as Argo's controller resolves them
(workflow/util/merge.go JoinWorkflowSpec, workflow/templateresolution, docs/template-defaults.md),
before the local executor sees the workflow; unknown names refused in one line."""

from __future__ import annotations

import copy

import pytest

from workflows.local.preflight import Unsupported, check_supported
from workflows.local.references import UnknownReference, resolve, strategic_merge


def container(name: str, *command: str, **more) -> dict:
    return {"name": name, "container": {"image": "busybox", "command": list(command)}, **more}


def workflow(*templates: dict, **spec) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "w-"},
        "spec": {"entrypoint": "main", "templates": list(templates), **spec},
    }


def dag(name: str, *tasks: dict) -> dict:
    return {"name": name, "dag": {"tasks": list(tasks)}}


def library(name: str, *templates: dict, kind: str = "WorkflowTemplate", **spec) -> dict:
    return {"kind": kind, "metadata": {"name": name}, "spec": {"templates": list(templates), **spec}}


LIB = library(
    "lib",
    container("say", "echo", "{{inputs.parameters.message}}", inputs={"parameters": [{"name": "message"}]}),
    container("other", "true"),
)


def test_a_template_ref_becomes_a_copied_template_the_task_names():
    given = workflow(dag("main", {"name": "hi", "templateRef": {"name": "lib", "template": "say"}}))
    before = copy.deepcopy(given)
    resolved = resolve(given, [LIB])
    assert given == before  # a pure function: the caller's document is left as it was
    task = resolved["spec"]["templates"][0]["dag"]["tasks"][0]
    assert task == {"name": "hi", "template": "lib-say"}
    copied = resolved["spec"]["templates"][1]
    assert copied == {**LIB["spec"]["templates"][0], "name": "lib-say"}
    check_supported(resolved)  # the executor's preflight takes the result as it is


def test_two_tasks_of_one_reference_share_one_copy_and_names_never_clash():
    given = workflow(
        dag("main", *({"name": n, "templateRef": {"name": "lib", "template": "say"}} for n in ("a", "b"))),
        container("lib-say", "true"),
    )
    resolved = resolve(given, [LIB])
    names = [t["name"] for t in resolved["spec"]["templates"]]
    assert names == ["main", "lib-say", "lib-say-2"]
    assert {t["template"] for t in resolved["spec"]["templates"][0]["dag"]["tasks"]} == {"lib-say-2"}


def test_inside_a_referenced_dag_template_names_mean_its_own_workflow_templates():
    nested = library("nested", dag("inner", {"name": "x", "template": "other"}), container("other", "false"))
    given = workflow(
        dag("main", {"name": "hi", "templateRef": {"name": "nested", "template": "inner"}}),
        container("other", "true"),  # the Workflow's own 'other' is not the one the reference means
    )
    templates = {t["name"]: t for t in resolve(given, [nested])["spec"]["templates"]}
    assert templates["nested-inner"]["dag"]["tasks"][0]["template"] == "nested-other"
    assert templates["nested-other"]["container"]["command"] == ["false"]
    assert templates["other"]["container"]["command"] == ["true"]


def test_cluster_scope_looks_among_cluster_workflow_templates():
    cluster = library("lib", container("say", "cluster"), kind="ClusterWorkflowTemplate")
    given = workflow(
        dag("main", {"name": "hi", "templateRef": {"name": "lib", "template": "say", "clusterScope": True}})
    )
    resolved = resolve(given, [LIB, cluster])
    assert resolved["spec"]["templates"][1]["container"]["command"] == ["cluster"]
    with pytest.raises(UnknownReference, match="ClusterWorkflowTemplate 'lib' is not loaded"):
        resolve(given, [LIB])


@pytest.mark.parametrize(
    ("reference", "says"),
    [
        (
            {"name": "nope", "template": "say"},
            "task 'hi' (spec.templates[0], task 0).templateRef: WorkflowTemplate 'nope' is not loaded "
            "(loaded WorkflowTemplates: lib); pass the file that defines it with --with FILE",
        ),
        (
            {"name": "lib", "template": "nope"},
            "WorkflowTemplate 'lib' has no template 'nope' (it has: say, other)",
        ),
    ],
)
def test_an_unknown_name_is_one_line(reference, says):
    with pytest.raises(UnknownReference) as refused:
        resolve(workflow(dag("main", {"name": "hi", "templateRef": reference})), [LIB])
    assert says in str(refused.value) and "\n" not in str(refused.value)


def test_workflow_template_ref_joins_the_specs_the_workflow_winning():
    # Argo's examples/workflow-template/workflow-template-ref-with-entrypoint-arg-passing.yaml, and a
    # template-only parameter, a Workflow-only one and a valueless Workflow one (merge.go keeps the value).
    template = library(
        "hello",
        container("print-message", "echo", "{{workflow.parameters.message}}"),
        entrypoint="other",
        parallelism=2,
        arguments={"parameters": [
            {"name": "message", "value": "from the template", "description": "what to say"},
            {"name": "kept", "value": "k"},
            {"name": "valueless", "value": "v"},
        ]},
    )  # fmt: skip
    given = {
        "kind": "Workflow",
        "metadata": {"generateName": "hello-"},
        "spec": {
            "entrypoint": "print-message",
            "workflowTemplateRef": {"name": "hello"},
            "arguments": {"parameters": [
                {"name": "message", "value": "hello world"},
                {"name": "valueless"},
                {"name": "added", "value": "a"},
            ]},
        },
    }  # fmt: skip
    spec = resolve(given, [template])["spec"]
    assert "workflowTemplateRef" not in spec
    assert spec["entrypoint"] == "print-message" and spec["parallelism"] == 2
    assert spec["templates"] == template["spec"]["templates"]
    assert spec["arguments"]["parameters"] == [
        {"name": "message", "value": "hello world"},  # whole from the Workflow: no template description
        {"name": "kept", "value": "k"},
        {"name": "valueless", "value": "v"},
        {"name": "added", "value": "a"},
    ]
    assert spec["templates"] is not template["spec"]["templates"]


def test_an_unknown_workflow_template_ref_is_refused():
    given = {"kind": "Workflow", "metadata": {"name": "w"}, "spec": {"workflowTemplateRef": {"name": "gone"}}}
    with pytest.raises(
        UnknownReference, match=r"^spec.workflowTemplateRef: WorkflowTemplate 'gone' is not loaded"
    ):
        resolve(given, [LIB])


def test_template_defaults_fill_in_and_the_template_wins():
    # docs/template-defaults.md: the template's own value takes precedence; merged by strategic merge patch.
    given = workflow(
        dag("main", {"name": "a", "template": "a"}),
        container("a", "true", retryStrategy={"limit": 1}),
        {
            **container("b", "true"),
            "container": {"command": ["true"], "env": [{"name": "X", "value": "mine"}]},
        },
        templateDefaults={
            "retryStrategy": {"limit": 2, "retryPolicy": "Always"},
            "activeDeadlineSeconds": 30,
            "container": {
                "image": "busybox",
                "env": [{"name": "X", "value": "default"}, {"name": "Y", "value": "y"}],
            },
        },
    )
    spec = resolve(given, [])["spec"]
    assert "templateDefaults" not in spec  # consumed, so the preflight sees none
    main, a, b = spec["templates"]
    assert a["retryStrategy"] == {"limit": 1, "retryPolicy": "Always"}
    assert a["activeDeadlineSeconds"] == 30 and a["container"]["image"] == "busybox"
    assert b["container"]["env"] == [{"name": "X", "value": "mine"}, {"name": "Y", "value": "y"}]
    assert b["container"]["image"] == "busybox"
    assert "container" not in main and main["retryStrategy"] == {"limit": 2, "retryPolicy": "Always"}
    # The DAG entrypoint took the default retryStrategy too: Argo retries the whole DAG, and so does the executor
    # (workflows.local.composite_retry); without a limit it would retry without end, which is refused by name.
    check_supported(resolve(given, []))
    given["spec"]["templateDefaults"]["retryStrategy"] = {"retryPolicy": "Always"}
    with pytest.raises(Unsupported, match="a retryStrategy without a limit retries the dag template 'main'"):
        check_supported(resolve(given, []))


def test_template_defaults_reach_templates_brought_by_reference():
    given = workflow(
        dag("main", {"name": "hi", "templateRef": {"name": "lib", "template": "other"}}),
        templateDefaults={"activeDeadlineSeconds": 9},
    )
    assert resolve(given, [LIB])["spec"]["templates"][1]["activeDeadlineSeconds"] == 9


def test_strategic_merge_replaces_lists_without_a_merge_key():
    assert strategic_merge({"command": ["a"], "x": 1}, {"command": ["b"]}) == {"command": ["b"], "x": 1}
    assert strategic_merge({"a": 1, "b": 2}, {"b": None}) == {"a": 1}


def test_a_document_without_references_is_unchanged():
    given = workflow(dag("main", {"name": "a", "template": "a"}), container("a", "true"))
    assert resolve(given, [LIB]) == given
