"""Lint scopes ``{{item}}``, ``{{steps.X.*}}`` and ``{{tasks.X.*}}`` as Argo's validate.go does (v4).

Accepted: Argo's examples (loops-maps.yaml, loops-param-result.yaml, loops-sequence.yaml, output-parameter.yaml,
exit-code-output-variable.yaml, dag-conditional-parameters.yaml), with pinned images and no ``{{...}}`` pasted
into a shell, as this project's own rules ask; and validate_test.go's TestStepOutputReference,
TestStepStatusReference. Refused: TestUnresolved (unresolvedOutput), TestStepStatusReferenceNoFutureReference,
and what Argo's controller cannot resolve when the workflow runs (workflows.argo.lint_scopes says where the lint
is stricter than validate.go).
"""

from __future__ import annotations

import copy

import pytest
import yaml

from workflows.argo.lint import lint_documents

LEAVES = yaml.safe_load("""
- name: echo
  inputs: {parameters: [{name: msg}]}
  container: {image: "alpine:3.6", command: [echo, "{{inputs.parameters.msg}}"]}
- name: gen-list
  script: {image: "python:3.11", command: [python], source: "import json, sys; json.dump([1, 2], sys.stdout)"}
- name: make-param
  container: {image: "alpine:3.6", command: [touch, /tmp/hello_world.txt]}
  outputs:
    parameters:
    - name: hello-param
      valueFrom: {path: /tmp/hello_world.txt}
""")


def workflow(main: dict, *more: dict) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "scopes-"},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", **main}, *more, *copy.deepcopy(LEAVES)],
        },
    }


def problems(doc: dict) -> list[str]:
    return [f"{p.path}: {p.message}" for p in lint_documents("scopes.yaml", yaml.safe_dump(doc))]


def echo(name: str, msg: str, **fields) -> dict:
    return {
        "name": name,
        "template": "echo",
        "arguments": {"parameters": [{"name": "msg", "value": msg}]},
        **fields,
    }


# ---- accepted, as Argo accepts them ---------------------------------------------------------------------------

LOOPS_MAPS = {"steps": [[
    echo("test-linux", "{{item.image}} {{item.tag}}",
         withItems=[{"image": "debian", "tag": "9.1"}, {"image": "alpine", "tag": "3.6"}]),
]]}  # fmt: skip
LOOPS_PARAM_RESULT = {"steps": [
    [{"name": "generate", "template": "gen-list"}],
    [echo("sleep", "{{item}}", withParam="{{steps.generate.outputs.result}}")],
]}  # fmt: skip
LOOPS_SEQUENCE = {"steps": [[
    echo("sequence-count", "{{item}}", withSequence={"count": "5"}),
    echo("sequence-start-end", "{{item}}", withSequence={"start": "100", "end": "105"}),
]]}  # fmt: skip
OUTPUT_PARAMETER = {"steps": [
    [{"name": "generate-parameter", "template": "make-param"}],
    [echo("consume-parameter", "{{steps.generate-parameter.outputs.parameters.hello-param}}")],
]}  # fmt: skip
EXIT_CODE_AND_STATUS = {"steps": [
    [{"name": "failing-container", "template": "gen-list", "continueOn": {"failed": True}}],
    [echo("echo-exit", "{{steps.failing-container.exitCode}}", when="{{steps.failing-container.status}} != x")],
]}  # fmt: skip
ITEM_MAP_BY_PARAM = {"dag": {"tasks": [
    {"name": "generate", "template": "gen-list"},
    echo("fan", "{{item.anything}}", depends="generate", withParam="{{tasks.generate.outputs.result}}"),
]}}  # fmt: skip
DAG_LIST_ITEMS = {"dag": {"tasks": [echo("pairs", "{{item.[0]}}", withItems=[["a", "b"]])]}}
DAG_OUTPUTS = {
    "dag": {"tasks": [{"name": "make", "template": "make-param"}, echo("use", "x", depends="make")]},
    "outputs": {"parameters": [
        {"name": "hello", "valueFrom": {"parameter": "{{tasks.make.outputs.parameters.hello-param}}"}},
        {"name": "finished", "valueFrom": {"parameter": "{{tasks.use.finishedAt}}"}},
    ]},
}  # fmt: skip
STEPS_OUTPUTS = {
    "steps": [[{"name": "make", "template": "make-param"}]],
    "outputs": {"parameters": [
        {"name": "hello", "valueFrom": {"parameter": "{{steps.make.outputs.parameters.hello-param}}"}},
        {"name": "status", "valueFrom": {"parameter": "{{steps.make.status}}"}},
    ]},
}  # fmt: skip
NESTED_DAG_OUTPUT = {"dag": {"tasks": [
    {"name": "inner", "template": "inner"},
    echo("use", "{{tasks.inner.outputs.parameters.hello}}", depends="inner"),
]}}  # fmt: skip
INNER = {"name": "inner", **DAG_OUTPUTS}
AGGREGATED = {"dag": {"tasks": [
    {"name": "many", "template": "make-param", "withItems": [1, 2]},
    echo("all", "{{tasks.many.outputs.parameters}}", depends="many"),
    echo("results", "{{tasks.generate.outputs.result}}", depends="generate"),
    {"name": "generate", "template": "gen-list", "withItems": [1, 2]},
]}}  # fmt: skip


@pytest.mark.parametrize(
    ("main", "more"),
    [
        (LOOPS_MAPS, ()),
        (LOOPS_PARAM_RESULT, ()),
        (LOOPS_SEQUENCE, ()),
        (OUTPUT_PARAMETER, ()),
        (EXIT_CODE_AND_STATUS, ()),
        (ITEM_MAP_BY_PARAM, ()),
        (DAG_LIST_ITEMS, ()),
        (DAG_OUTPUTS, ()),
        (STEPS_OUTPUTS, ()),
        (NESTED_DAG_OUTPUT, (INNER,)),
        (AGGREGATED, ()),
    ],
    ids=[
        "loops-maps", "loops-param-result", "loops-sequence", "output-parameter", "exit-code-and-status",
        "item-keys-of-a-param", "list-items", "dag-outputs", "steps-outputs", "nested-dag-output", "aggregated",
    ],
)  # fmt: skip
def test_what_argo_accepts_passes(main, more):
    assert problems(workflow(main, *more)) == []


def test_the_compiled_workflows_still_pass():
    from workflows.pipelines.compile import MANIFESTS_DIR

    for name in ("training", "drift"):
        assert problems(yaml.safe_load((MANIFESTS_DIR / f"{name}.yaml").read_text())) == [], name


# ---- refused, with the reason ----------------------------------------------------------------------------------

STEP = "spec.templates[0].steps"
TASK = "spec.templates[0].dag.tasks"


@pytest.mark.parametrize(
    ("main", "expected"),
    [
        (  # validate_test.go TestStepStatusReferenceNoFutureReference
            {"steps": [[echo("one", "{{steps.two.status}}")], [echo("two", "{{steps.one.status}}")]]},
            f"{STEP}[0][0].arguments: {{{{steps.two...}}}}: step 'two' does not run before this step: "
            "a step reads only steps of earlier groups",
        ),
        (  # the same group runs in parallel: the controller has no outputs of a sibling to give
            {"steps": [[{"name": "make", "template": "make-param"},
                        echo("use", "{{steps.make.outputs.parameters.hello-param}}")]]},
            f"{STEP}[0][1].arguments: {{{{steps.make...}}}}: step 'make' does not run before this step: "
            "a step reads only steps of earlier groups",
        ),
        (
            {"steps": [[echo("one", "{{steps.nope.outputs.result}}")]]},
            f"{STEP}[0][0].arguments: {{{{steps.nope...}}}}: there is no step 'nope'",
        ),
        (
            {"steps": [[{"name": "make", "template": "make-param"}], [echo("use", "{{steps.make.outputs.parameters.x}}")]]},
            f"{STEP}[1][0].arguments: {{{{steps.make.outputs.parameters.x}}}}: template 'make-param' declares no output 'x'",
        ),
        (  # a container's result is there, a steps template's is not (Template.HasOutput)
            {"steps": [[{"name": "n", "template": "inner"}], [echo("use", "{{steps.n.outputs.result}}")]]},
            f"{STEP}[1][0].arguments: {{{{steps.n.outputs.result}}}}: step 'n' (template 'inner') gives no "
            "'outputs.result' here",
        ),
        (
            {"steps": [[echo("one", "{{item}}")]]},
            f"{STEP}[0][0].arguments: {{{{item}}}}: this step has no withItems, withParam or withSequence to give an item",
        ),
        (  # addItemsToScope: map items give item.KEY only
            {"steps": [[echo("one", "{{item}}", withItems=[{"k": "x"}])]]},
            f"{STEP}[0][0].arguments: {{{{item}}}}: withItems gives {{{{item.k}}}}",
        ),
        (
            {"dag": {"tasks": [echo("one", "{{item.k}}", withItems=["a", "b"])]}},
            f"{TASK}[0].arguments: {{{{item.k}}}}: withItems gives {{{{item}}}}",
        ),
        (
            {"dag": {"tasks": [echo("one", "{{item}}")]}},
            f"{TASK}[0].arguments: {{{{item}}}}: this task has no withItems, withParam or withSequence to give an item",
        ),
        (
            {"dag": {"tasks": [echo("one", "x", withParam="{{tasks.nope.outputs.result}}")]}},
            f"{TASK}[0].withParam: {{{{tasks.nope...}}}}: there is no task 'nope'",
        ),
        (
            {"dag": {"tasks": [{"name": "a", "template": "gen-list"}, echo("b", "{{tasks.a.status}}")]}},
            f"{TASK}[1].arguments: {{{{tasks.a...}}}}: task 'a' is not upstream of this task (add it to depends)",
        ),
        (  # validate_test.go TestUnresolved (unresolvedOutput), for a DAG
            {"dag": {"tasks": [{"name": "a", "template": "gen-list"}]},
             "outputs": {"parameters": [{"name": "o", "valueFrom": {"parameter": "{{tasks.a.outputs.parameters.x}}"}}]}},
            "spec.templates[0].outputs: {{tasks.a.outputs.parameters.x}}: template 'gen-list' declares no output 'x'",
        ),
        (  # validateDAG gives the outputs a task's status only where the task has hooks
            {"dag": {"tasks": [{"name": "a", "template": "gen-list"}]},
             "outputs": {"parameters": [{"name": "o", "valueFrom": {"parameter": "{{tasks.a.status}}"}}]}},
            "spec.templates[0].outputs: {{tasks.a.status}}: task 'a' (template 'gen-list') gives no 'status' here",
        ),
        (
            {"steps": [[{"name": "make", "template": "make-param"}]],
             "outputs": {"parameters": [{"name": "o", "valueFrom": {"parameter": "{{tasks.make.outputs.result}}"}}]}},
            "spec.templates[0].outputs: {{tasks.make.outputs.result}}: unknown variable",
        ),
    ],
    ids=[
        "a-later-group", "the-same-group", "no-such-step", "no-such-output", "no-result-of-steps", "item-without-loop",
        "bare-item-of-maps", "key-of-plain-items", "task-item-without-loop", "no-such-task", "not-upstream",
        "dag-output-undeclared", "dag-output-status", "tasks-in-a-steps-template",
    ],
)  # fmt: skip
def test_what_argo_refuses_is_named(main, expected):
    inner = {"name": "inner", "steps": [[{"name": "s", "template": "gen-list"}]]}
    assert problems(workflow(main, inner)) == [expected]
