"""Argo's own rules in mlops lint: each fault Argo's validation (or the API server with Argo's CRDs)
rejects is planted in a copy of the compiled manifests, and lint names it in one line."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from workflows.argo.lint import lint_documents, lint_paths
from workflows.argo.lint_cron import ScheduleError, parse_standard
from workflows.pipelines.compile import MANIFESTS_DIR

NAME_RULE = (
    "name must consist of alpha-numeric characters or '-', and must start with an alpha-numeric character"
    " (e.g. My-name1-2, 123-NAME)"
)
PARAMETER_RULE = (
    "Parameter/Artifact name must consist of alpha-numeric characters, '_' or '-' e.g. my_param_1, MY-PARAM-1"
)


def manifest(name: str) -> dict:
    return yaml.safe_load((MANIFESTS_DIR / f"{name}.yaml").read_text())


def template(doc: dict, name: str) -> dict:
    return next(t for t in doc["spec"]["templates"] if t["name"] == name)


def task(doc: dict, name: str) -> dict:
    return next(t for t in dag(doc)["tasks"] if t["name"] == name)


def dag(doc: dict) -> dict:
    return template(doc, doc["spec"]["entrypoint"])["dag"]


def at(doc: dict, name: str) -> str:
    """The path lint gives the template ``name`` (the manifests change: no index is written down)."""
    return f"spec.templates[{[t['name'] for t in doc['spec']['templates']].index(name)}]"


def at_task(doc: dict, name: str) -> str:
    return f"{at(doc, doc['spec']['entrypoint'])}.dag.tasks[{[t['name'] for t in dag(doc)['tasks']].index(name)}]"


def depends_and_dependencies(doc):
    task(doc, "validate-data")["dependencies"] = ["ingest"]
    return f"{at_task(doc, 'validate-data')}.dependencies: cannot use both 'depends' and 'dependencies' in the same DAG template"


def task_name_not_a_name(doc):
    where = at_task(doc, "features")
    task(doc, "features")["name"] = "Features_Step"
    task(doc, "train")["depends"] = "Features_Step"
    return f"{where}.name: 'Features_Step' is invalid: {NAME_RULE}"


def template_name_not_a_name(doc):
    where = at(doc, "ingest")
    template(doc, "ingest")["name"] = "Ingest_Step"
    task(doc, "ingest")["template"] = "Ingest_Step"
    return f"{where}.name: 'Ingest_Step' is invalid: {NAME_RULE}"


def duplicate_task_name(doc):
    dag(doc)["tasks"].append(copy.deepcopy(task(doc, "deploy")))
    return f"{at(doc, 'training')}.dag.tasks[{len(dag(doc)['tasks']) - 1}].name: 'deploy' is not unique"


def task_name_starts_with_digit(doc):
    where = at_task(doc, "deploy")
    task(doc, "deploy")["name"] = "9deploy"
    return (
        f"{where}.name: task name '9deploy' cannot begin with a digit when using either 'depends' or "
        "'dependencies'"
    )


def continue_on_with_depends(doc):
    task(doc, "evaluate")["continueOn"] = {"failed": True}
    return (
        f"{at_task(doc, 'evaluate')}.continueOn: cannot use 'continueOn' when using 'depends'. Instead use "
        "'dep-task.Failed'/'dep-task.Errored'"
    )


def template_and_template_ref(doc):
    task(doc, "ingest")["templateRef"] = {"name": "training", "template": "ingest"}
    return f"{at_task(doc, 'ingest')}: exactly one of template, templateRef or inline must be given (given: template, templateRef)"


def items_condition_without_items(doc):
    task(doc, "validate-data")["depends"] = "ingest.AnySucceeded"
    return (
        f"{at_task(doc, 'validate-data')}.depends: dependency 'ingest' uses an items-based condition such as .AnySucceeded or "
        ".AllFailed but does not contain any items"
    )


def two_ways_to_fan_out(doc):
    task(doc, "ingest").update(withItems=["a", "b"], withParam='["a", "b"]')
    return f"{at_task(doc, 'ingest')}: only one of withItems, withParam, withSequence can be specified"


def sequence_count_and_end(doc):
    task(doc, "ingest")["withSequence"] = {"count": "3", "end": "5"}
    return f"{at_task(doc, 'ingest')}.withSequence: only one of count or end can be defined in withSequence"


def undefined_target(doc):
    dag(doc)["target"] = "deploy publish"
    return f"{at(doc, 'training')}.dag.target: target 'publish' is not defined"


def task_argument_without_value(doc):
    parameters = task(doc, "ingest")["arguments"]["parameters"]
    index = [p["name"] for p in parameters].index("seed")
    del parameters[index]["value"]
    return f"{at_task(doc, 'ingest')}.arguments.parameters[{index}]: 'seed': value or valueFrom is required"


def dag_without_tasks(doc):
    dag(doc)["tasks"] = []
    return f"{at(doc, 'training')}.dag.tasks: a DAG template must have at least one task"


def deadline_on_dag(doc):
    template(doc, "training")["activeDeadlineSeconds"] = 600
    return (
        f"{at(doc, 'training')}.activeDeadlineSeconds: activeDeadlineSeconds is only valid for leaf templates"
    )


def timeout_on_dag(doc):
    template(doc, "training")["timeout"] = "10m"
    return f"{at(doc, 'training')}.timeout: dag template doesn't support timeout field"


def timeout_without_unit(doc):
    template(doc, "ingest")["timeout"] = "600"
    return f"{at(doc, 'ingest')}.timeout: has invalid duration format in timeout (a number needs a unit, e.g. 30s)"


def negative_deadline(doc):
    template(doc, "ingest")["activeDeadlineSeconds"] = -5
    return f"{at(doc, 'ingest')}.activeDeadlineSeconds: activeDeadlineSeconds must be a positive integer > 0 or an argo variable"


def parallelism_on_leaf(doc):
    template(doc, "ingest")["parallelism"] = 2
    return f"{at(doc, 'ingest')}.parallelism: parallelism is only valid for steps and dag templates"


def two_template_types(doc):
    template(doc, "notify")["suspend"] = {}
    return (
        f"{at(doc, 'notify')}: multiple template types specified. choose one of: container, containerSet, "
        "steps, script, resource, dag, suspend, data, http, plugin"
    )


def unknown_retry_policy(doc):
    template(doc, "ingest")["retryStrategy"]["retryPolicy"] = "Sometimes"
    return f"{at(doc, 'ingest')}.retryStrategy.retryPolicy: Sometimes is not a valid RetryPolicy"


def empty_image(doc):
    template(doc, "ingest")["container"]["image"] = ""
    return f"{at(doc, 'ingest')}.container.image: container.image may not be empty"


def mounted_twice(doc):
    template(doc, "ingest")["container"]["volumeMounts"].append({"name": "dshm", "mountPath": "/tmp"})
    return f"{at(doc, 'ingest')}.container.volumeMounts[1].mountPath: '/tmp' already mounted in container.volumeMounts.tmp"


def duplicate_input(doc):
    inputs = template(doc, "ingest")["inputs"]["parameters"]
    inputs.append({"name": "seed"})
    return f"{at(doc, 'ingest')}.inputs.parameters[{len(inputs) - 1}].name: 'seed' is not unique"


def output_from_nothing(doc):
    template(doc, "ingest")["outputs"]["parameters"][0]["valueFrom"] = {"default": "0"}
    return (
        f"{at(doc, 'ingest')}.outputs.parameters[0].valueFrom: valueFrom type unspecified. choose one of: path, jqFilter, "
        "jsonPath, parameter, raw, expression"
    )


def output_without_path(doc):
    template(doc, "ingest")["outputs"]["parameters"][0]["valueFrom"] = {"jsonPath": "{.rows}"}
    return f"{at(doc, 'ingest')}.outputs.parameters[0].valueFrom: valueFrom.path must be specified for container templates"


def output_value_and_value_from(doc):
    template(doc, "ingest")["outputs"]["parameters"][0]["value"] = "0"
    return f"{at(doc, 'ingest')}.outputs.parameters[0]: has both valueFrom and value specified, choose one"


def argument_name_not_a_name(doc):
    arguments = doc["spec"]["arguments"]["parameters"]
    arguments.append({"name": "max epochs", "value": "30"})
    return f"spec.arguments.parameters[{len(arguments) - 1}].name: 'max epochs' is invalid: {PARAMETER_RULE}"


def epochs(doc) -> int:
    return [p["name"] for p in doc["spec"]["arguments"]["parameters"]].index("epochs")


def argument_value_outside_enum(doc):
    doc["spec"]["arguments"]["parameters"][epochs(doc)]["enum"] = ["10", "50"]
    return (
        f"spec.arguments.parameters[{epochs(doc)}].value: value should be present in the enum list (10, 50)"
    )


def argument_value_from_a_path(doc):
    doc["spec"]["arguments"]["parameters"][4] = {"name": "epochs", "valueFrom": {"path": "/tmp/epochs"}}
    return (
        "spec.arguments.parameters[4].valueFrom: valueFrom only allows: default, configMapKeyRef and supplied"
    )


def hook_without_expression(doc):
    doc["spec"]["hooks"] = {"running": {"template": "notify"}}
    return "spec.hooks.running: Expression required"


def unknown_pod_gc(doc):
    doc["spec"]["podGC"]["strategy"] = "OnPodFailure"
    return "spec.podGC.strategy: podGC.strategy unknown strategy 'OnPodFailure'"


def name_not_a_subdomain(doc):
    doc["metadata"]["name"] = "Training"
    return (
        "metadata.name: 'Training' is not a lowercase RFC 1123 subdomain (lower case alphanumerics, '-' or '.', "
        "starting and ending with an alphanumeric, at most 253 characters)"
    )


def name_too_long(doc):
    doc["metadata"]["name"] = "training-" + "x" * 55
    return (
        'metadata.name: name "training-'
        + "x" * 55
        + '" must not be more than 63 characters long (currently 64)'
    )


TRAINING_PLANTS = [
    depends_and_dependencies, task_name_not_a_name, template_name_not_a_name, duplicate_task_name,
    task_name_starts_with_digit, continue_on_with_depends, template_and_template_ref,
    items_condition_without_items, two_ways_to_fan_out, sequence_count_and_end, undefined_target,
    task_argument_without_value, dag_without_tasks, deadline_on_dag, timeout_on_dag, timeout_without_unit,
    negative_deadline, parallelism_on_leaf, two_template_types, unknown_retry_policy, empty_image,
    mounted_twice, duplicate_input, output_from_nothing, output_without_path, output_value_and_value_from,
    argument_name_not_a_name, argument_value_outside_enum, argument_value_from_a_path,
    hook_without_expression, unknown_pod_gc, name_not_a_subdomain, name_too_long,
]  # fmt: skip


# drift.yaml: drift has a gauge; start-retrain is a resource template with a counter
def unknown_resource_action(doc):
    template(doc, "start-retrain")["resource"]["action"] = "launch"
    return f"{at(doc, 'start-retrain')}.resource.action: resource.action must be one of: get, create, apply, delete, replace, patch"


def manifest_not_yaml(doc):
    template(doc, "start-retrain")["resource"]["manifest"] = "kind: Workflow\nspec: [unclosed\n"
    return f"{at(doc, 'start-retrain')}.resource.manifest: resource.manifest must be a valid yaml"


def resource_output_without_json_path(doc):
    template(doc, "start-retrain")["outputs"]["parameters"][0]["valueFrom"] = {"path": "/tmp/name"}
    return (
        f"{at(doc, 'start-retrain')}.outputs.parameters[0].valueFrom: valueFrom.jqFilter or jsonPath must be specified "
        "for resource templates"
    )


def metric_name_not_a_name(doc):
    template(doc, "drift")["metrics"]["prometheus"][0]["name"] = "model-drift-share"
    return (
        f"{at(doc, 'drift')}.metrics.prometheus[0].name: metric name 'model-drift-share' is invalid. "
        "Metric names must contain alphanumeric characters or '_'"
    )


def metric_label_not_a_name(doc):
    template(doc, "drift")["metrics"]["prometheus"][0]["labels"][0]["key"] = "model.name"
    return (
        f"{at(doc, 'drift')}.metrics.prometheus[0].labels[0].key: metric label 'model.name' is invalid: "
        "keys may only contain alphanumeric characters or '_'"
    )


def metric_without_help(doc):
    template(doc, "start-retrain")["metrics"]["prometheus"][0]["help"] = ""  # Hera's model requires the key
    return f"{at(doc, 'start-retrain')}.metrics.prometheus[0].help: metric 'drift_retrains' must contain a help string under 'help: ' field"


def metric_without_value(doc):
    template(doc, "start-retrain")["metrics"]["prometheus"][0]["counter"]["value"] = ""
    return f"{at(doc, 'start-retrain')}.metrics.prometheus[0].counter: metric 'drift_retrains' error: missing counter.value"


DRIFT_PLANTS = [
    unknown_resource_action, manifest_not_yaml, resource_output_without_json_path, metric_name_not_a_name,
    metric_label_not_a_name, metric_without_help, metric_without_value,
]  # fmt: skip


def malformed_schedule(doc):
    doc["spec"]["schedules"] = ["61 3 * * 1"]
    return (
        "spec.schedules[0]: cron schedule 61 3 * * 1 is malformed: end of range (61) above maximum (59): 61"
    )


def unknown_timezone(doc):
    doc["spec"]["timezone"] = "Mars/Olympus"
    return 'spec.timezone: invalid timezone "Mars/Olympus": unknown time zone Mars/Olympus'


def unknown_concurrency_policy(doc):
    doc["spec"]["concurrencyPolicy"] = "Sometimes"
    return "spec.concurrencyPolicy: 'Sometimes' is not a valid concurrencyPolicy"


def no_schedule(doc):
    doc["spec"]["schedules"] = []
    return "spec.schedules: cron workflow must have at least one schedule"


def negative_starting_deadline(doc):
    doc["spec"]["startingDeadlineSeconds"] = -60
    return "spec.startingDeadlineSeconds: startingDeadlineSeconds must be positive"


def cron_name_too_long(doc):
    doc["metadata"]["name"] = "r" * 53
    return f'metadata.name: cron workflow name "{"r" * 53}" must not be more than 52 characters long (currently 53)'


def cron_argument_without_value(doc):
    doc["spec"]["workflowSpec"]["arguments"] = {"parameters": [{"name": "epochs"}]}
    return "spec.workflowSpec.arguments.parameters[0]: 'epochs': value or valueFrom is required"


CRON_PLANTS = [
    malformed_schedule, unknown_timezone, unknown_concurrency_policy, no_schedule, negative_starting_deadline,
    cron_name_too_long, cron_argument_without_value,
]  # fmt: skip


def lint(doc: dict, file: str = "planted.yaml") -> list[str]:
    return [str(problem) for problem in lint_documents(file, yaml.safe_dump(doc))]


def test_the_compiled_manifests_lint_clean():
    assert [str(p) for p in lint_paths([MANIFESTS_DIR])] == []


@pytest.mark.parametrize(
    ("name", "plant"),
    [("training", p) for p in TRAINING_PLANTS]
    + [("drift", p) for p in DRIFT_PLANTS]
    + [("cron-retrain", p) for p in CRON_PLANTS],
    ids=lambda value: getattr(value, "__name__", value),
)
def test_lint_names_each_fault_argo_rejects(name: str, plant: Callable[[dict], str]):
    doc = copy.deepcopy(manifest(name))
    expected = plant(doc)
    assert lint(doc) == [f"planted.yaml: {expected}"]


def test_a_submitted_workflow_needs_an_entrypoint_and_no_templates_beside_a_reference():
    workflow = manifest("training") | {"kind": "Workflow"}
    del workflow["spec"]["entrypoint"]
    assert lint(workflow) == ["planted.yaml: spec.entrypoint: spec.entrypoint is required"]

    by_reference = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "training-"},
        "spec": {
            "workflowTemplateRef": {"name": "training"},
            "templates": [template(manifest("drift"), "notify")],
        },
    }
    assert lint(by_reference) == [
        "planted.yaml: spec.templates: Templates is invalid field in spec if workflow referred WorkflowTemplate reference"
    ]
    del by_reference["spec"]["templates"]
    assert lint(by_reference) == []


@pytest.mark.parametrize(
    "schedule",
    ["0 3 * * 1", "*/15 0-23/2 1,15 jan-dec mon-fri", "0 3 * * ?", "@daily", "@midnight", "@every 1h30m",
     "CRON_TZ=Asia/Tokyo 0 3 * * *", "TZ=UTC @hourly"],
)  # fmt: skip
def test_schedules_robfig_cron_accepts(schedule: str):
    parse_standard(schedule)


@pytest.mark.parametrize(
    ("schedule", "error"),
    [
        ("0 3 * * 7", "end of range (7) above maximum (6): 7"),  # croniter takes 7 for Sunday; Argo does not
        ("0 0 3 * * 1", "expected exactly 5 fields, found 6: [0 0 3 * * 1]"),
        ("0 3 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("0 5-3 * * *", "beginning of range (5) beyond end of range (3): 5-3"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
        ("0 3 L * *", 'failed to parse int from L: strconv.Atoi: parsing "L": invalid syntax'),
        ("@fortnightly", "unrecognized descriptor: @fortnightly"),
        ("@every 90", 'failed to parse duration @every 90: time: invalid duration "90"'),
        ("TZ=Mars/Olympus 0 3 * * *", "provided bad location Mars/Olympus: unknown time zone Mars/Olympus"),
        ("", "empty spec string"),
    ],
)
def test_schedules_robfig_cron_refuses(schedule: str, error: str):
    with pytest.raises(ScheduleError) as refused:
        parse_standard(schedule)
    assert str(refused.value) == error


def test_mlops_lint_exits_non_zero_with_one_line_for_each_fault_of_the_issue(tmp_path: Path):
    planted = {
        "training-depends.yaml": ("training", [depends_and_dependencies]),
        "training-name.yaml": ("training", [task_name_not_a_name]),
        "cron-retrain.yaml": ("cron-retrain", [malformed_schedule, unknown_timezone]),
        "cron-drift-check.yaml": ("cron-drift-check", [unknown_concurrency_policy]),
    }
    expected = []
    for file, (name, plants) in planted.items():
        doc = manifest(name)
        expected += [f"{tmp_path / file}: {plant(doc)}" for plant in plants]
        (tmp_path / file).write_text(yaml.safe_dump(doc))
    done = subprocess.run(
        [sys.executable, "-m", "workflows.cli", "lint", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 65, done.stderr  # bad input (the manifests), not a bug
    assert sorted(done.stdout.splitlines()) == sorted(expected)
    assert "5 problem(s)" in done.stderr
