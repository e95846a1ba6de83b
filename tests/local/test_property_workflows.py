"""No crash on any manifest Argo accepts (issue 15): generated valid workflows get a phase or a refusal.

Each generated workflow passes Hera's models (Argo's schema) and the project's lint before it is used: dag and
steps entrypoints, nested dag and steps templates, container and script templates whose ``python -c`` exits 0, 1
or 2 at once, ``depends``/``dependencies``, ``when``, ``continueOn``, ``retryStrategy``, loops, outputs with and
without defaults, and now and then a schema field the executor does not implement. The property:
``LocalRun(...).run()`` refuses up front (``Unsupported``/``BadInput``) or ends Succeeded, Failed or Error with
run.json saved so, and never as the executor's own internal error. Examples it once broke stay as regressions.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import hera.workflows.models as m
import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st

from steps.errors import BadInput
from tests.local.test_preflight_schema import fields, sample
from workflows.argo.lint import lint_documents
from workflows.local.executor import LocalRun
from workflows.local.preflight import SUPPORTED
from workflows.local.record import Phase

OUTPUTS = "/tmp/outputs"
INTERNAL = "internal error of the local executor"
# Where a stray schema field may land in a generated workflow: the preflight position and its Hera model.
STRAY_AT = {"spec": m.WorkflowSpec, "template": m.Template, "container": m.Container, "task": m.DAGTask}
PROPERTY = settings(
    derandomize=True,
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def code_for(exit_code: int, writes: bool) -> str:
    """A step's program: prints, maybe writes its output ``o``, exits as told."""
    write = "pathlib.Path(os.environ['OUT'], 'o').write_text('a'); " if writes else ""
    return f"import os, pathlib, sys; print('out'); {write}sys.exit({exit_code})"


@st.composite
def leaf(draw, name: str) -> dict[str, Any]:
    """A container or script template: maybe an input ``p``, an output ``o``, a retryStrategy."""
    program = code_for(draw(st.sampled_from([0, 0, 0, 1, 2])), draw(st.booleans()))
    env = [{"name": "OUT", "value": OUTPUTS}]
    if draw(st.booleans()):
        body = {"script": {"image": "python:3.11", "command": ["python"], "source": program, "env": env}}
    else:
        body = {"container": {"image": "python:3.11", "command": ["python", "-c", program], "env": env}}
    template: dict[str, Any] = {"name": name, **body}
    if draw(st.booleans()):
        template["inputs"] = {"parameters": [{"name": "p", **draw(st.sampled_from([{}, {"default": "d"}]))}]}
        kind = "script" if "script" in template else "container"
        template[kind]["args"] = ["{{inputs.parameters.p}}"]
    if draw(st.booleans()):
        source = {"path": f"{OUTPUTS}/o", **draw(st.sampled_from([{}, {"default": "z"}]))}
        output = {"name": "o", "valueFrom": source}
        if "globalName" in SUPPORTED["output parameter"] and draw(st.integers(0, 2)) == 0:
            output["globalName"] = "g"
        template["outputs"] = {"parameters": [output]}
    if draw(st.integers(0, 3)) == 0:
        limits = [str(draw(st.integers(0, 2)))] + (
            ["{{inputs.parameters.p}}"] if "inputs" in template else []
        )
        strategy: dict[str, Any] = {"limit": draw(st.sampled_from(limits))}
        policy = draw(st.sampled_from([None, "Always", "OnFailure", "OnError", "OnTransientError"]))
        if policy:
            strategy["retryPolicy"] = policy
        if draw(st.booleans()):
            strategy["expression"] = draw(
                st.sampled_from(["asInt(lastRetry.exitCode) == 1", "lastRetry.status == 'Error'"])
            )
        if draw(st.booleans()):
            strategy["backoff"] = {
                "duration": "0",
                "factor": "2",
                **draw(st.sampled_from([{}, {"cap": "0"}, {"maxDuration": "1m"}])),
            }
        template["retryStrategy"] = strategy
    if (
        "inputs" in template and draw(st.integers(0, 3)) == 0
    ):  # an integer or a variable (validate.go validateLeaf)
        template["activeDeadlineSeconds"] = draw(st.sampled_from(["30", "{{inputs.parameters.p}}"]))
    return template


def declared(template: dict[str, Any], where: str) -> list[dict[str, Any]]:
    return (template.get(where) or {}).get("parameters") or []


@st.composite
def arguments(
    draw, template: dict[str, Any], upstream: list[str], templates: dict, prefix: str
) -> dict | None:
    """What a task or step passes: ``p`` when its template declares it (always when it has no default), from a
    literal, a workflow parameter, or an upstream task's output ``o``."""
    inputs = declared(template, "inputs")
    if not inputs or ("default" in inputs[0] and draw(st.booleans())):
        return None
    producers = [name for name, used in upstream if declared(templates[used], "outputs")]
    choices = [
        "v",
        "{{workflow.parameters.flag}}",
        *(f"{{{{{prefix}.{name}.outputs.parameters.o}}}}" for name in producers),
    ]
    return {"parameters": [{"name": "p", "value": draw(st.sampled_from(choices))}]}


def plain(templates: dict) -> list[str]:
    """The templates that need no arguments and are not dag or steps: what an exit handler or a hook may run."""
    return [
        name
        for name, t in templates.items()
        if not declared(t, "inputs") and "dag" not in t and "steps" not in t
    ]


@st.composite
def handlers(draw, position: str, templates: dict) -> dict[str, Any]:
    """An ``onExit`` or lifecycle ``hooks`` on a task, step or the workflow, when the executor implements them."""
    found: dict[str, Any] = {}
    runs = plain(templates)
    if not runs or draw(st.integers(0, 3)) != 0:
        return found
    if "onExit" in SUPPORTED[position] and draw(st.booleans()):
        found["onExit"] = draw(st.sampled_from(runs))
    if "hooks" in SUPPORTED[position] and draw(st.booleans()):
        expression = draw(
            st.sampled_from([None, 'workflow.status == "Running"', 'workflow.status == "Failed"'])
        )
        found["hooks"] = {"exit" if expression is None else "on-status": {
            "template": draw(st.sampled_from(runs)), **({"expression": expression} if expression else {})
        }}  # fmt: skip
    return found


@st.composite
def dag_tasks(draw, templates: dict, callable_: list[str], nested: bool) -> dict[str, Any]:
    """A DAG of 1 to 4 tasks, each depending on earlier ones by ``depends`` or by ``dependencies``."""
    by_depends = draw(st.booleans())
    tasks: list[dict[str, Any]] = []
    for number in range(draw(st.integers(1, 4))):
        name = f"t{number}"
        used = draw(st.sampled_from(callable_))
        task: dict[str, Any] = {"name": name, "template": used}
        before = [t["name"] for t in tasks]
        parents = draw(st.lists(st.sampled_from(before), unique=True, max_size=2)) if before else []
        if parents and by_depends:
            results = ["", ".Succeeded", ".Failed", ".Completed", ".Skipped", ".Omitted", ".Errored"]
            looped = {t["name"] for t in tasks if any(k.startswith("with") for k in t)}
            groups = [".AnySucceeded", ".AllFailed"]
            terms = [
                draw(st.sampled_from(["", "", "!"]))
                + parent
                + draw(st.sampled_from(results + groups * (parent in looped)))
                for parent in parents
            ]
            task["depends"] = draw(st.sampled_from([" && ", " || "])).join(terms)
        elif parents:
            task["dependencies"] = parents
            if draw(st.integers(0, 2)) == 0:
                task["continueOn"] = draw(st.sampled_from([{"failed": True}, {"error": True}]))
        upstream = [(p, t["template"]) for p in parents for t in tasks if t["name"] == p]
        given = draw(arguments(templates[used], upstream, templates, "tasks"))
        if given:
            task["arguments"] = given
        produced = [
            f"{{{{tasks.{name}.outputs.parameters.o}}}}"
            for name, t in upstream
            if declared(templates[t], "outputs")
        ]
        if draw(st.integers(0, 3)) == 0:
            whens = [
                "{{workflow.parameters.flag}} == yes",
                "{{= false }}",
                "true",
                *(f"{o} == a" for o in produced),
            ]
            whens += [f"{{{{= {o[2:-2]} == 'a' }}}}" for o in produced]
            task["when"] = draw(st.sampled_from(whens))
        loop = draw(
            st.sampled_from([None, None, None, "items", "param", "sequence"] if not nested else [None])
        )
        if loop == "items":
            task["withItems"] = draw(st.sampled_from([[1, 2], ["a"], [{"k": 1}], []]))
        elif loop == "param":
            task["withParam"] = draw(st.sampled_from(["{{workflow.parameters.list}}", *produced]))
        elif loop == "sequence":
            task["withSequence"] = {"count": str(draw(st.integers(0, 2)))}
        task.update(draw(handlers("task", templates)))
        tasks.append(task)
    dag: dict[str, Any] = {"tasks": tasks}
    if draw(st.integers(0, 3)) == 0:
        dag["failFast"] = draw(st.booleans())
    return dag


@st.composite
def step_groups(draw, templates: dict, callable_: list[str]) -> list[list[dict[str, Any]]]:
    """1 to 3 groups of 1 or 2 steps; later groups may read earlier steps' outputs."""
    groups: list[list[dict[str, Any]]] = []
    earlier: list[tuple[str, str]] = []
    for number in range(draw(st.integers(1, 3))):
        group = []
        for index in range(draw(st.integers(1, 2))):
            used = draw(st.sampled_from(callable_))
            step: dict[str, Any] = {"name": f"s{number}-{index}", "template": used}
            given = draw(arguments(templates[used], earlier, templates, "steps"))
            if given:
                step["arguments"] = given
            if draw(st.integers(0, 3)) == 0:
                step["when"] = draw(st.sampled_from(["{{workflow.parameters.flag}} == yes", "{{= 1 > 2 }}"]))
            if draw(st.integers(0, 3)) == 0:
                step["continueOn"] = {"failed": True}
            loop = draw(st.sampled_from([None, None, "items", "param", "sequence"]))
            if loop == "items":
                step["withItems"] = draw(st.sampled_from([["a", "b"], [{"k": "x"}], [], [1, "a b"]]))
            elif loop == "param":
                step["withParam"] = "{{workflow.parameters.list}}"
            elif loop == "sequence":
                step["withSequence"] = draw(
                    st.sampled_from([{"count": "2"}, {"start": "1", "end": "3", "format": "n%02d"}])
                )
            if loop and given and draw(st.booleans()):
                given["parameters"][0]["value"] = draw(st.sampled_from(["{{item}}", "{{item.k}}"]))
            if loop and draw(st.integers(0, 3)) == 0:
                step["when"] = "{{item}} != b"
            step.update(draw(handlers("step", templates)))
            group.append(step)
        groups.append(group)
        earlier += [(s["name"], s["template"]) for s in group if not any(k.startswith("with") for k in s)]
    return groups


@st.composite
def composite(draw, name: str, templates: dict, callable_: list[str], nested: bool) -> dict[str, Any]:
    """A dag or steps template over the given templates; a nested one may pass on a task's output ``o``."""
    template: dict[str, Any] = {"name": name}
    kind = draw(st.sampled_from(["dag", "steps"]))
    if kind == "dag":
        template["dag"] = draw(dag_tasks(templates, callable_, nested))
        units, prefix = template["dag"]["tasks"], "tasks"
    else:
        template["steps"] = draw(step_groups(templates, callable_))
        units, prefix = [step for group in template["steps"] for step in group], "steps"
    producers = [
        u["name"]
        for u in units
        if declared(templates[u["template"]], "outputs") and not any(k.startswith("with") for k in u)
    ]
    if not nested and draw(st.integers(0, 4)) == 0:
        template["parallelism"] = draw(st.integers(1, 2))
    if nested and producers and draw(st.booleans()):
        source = {"parameter": f"{{{{{prefix}.{draw(st.sampled_from(producers))}.outputs.parameters.o}}}}"}
        if draw(st.booleans()):
            source["default"] = "n"
        template["outputs"] = {"parameters": [{"name": "o", "valueFrom": source}]}
    return template


@st.composite
def stray_field(draw) -> tuple[str, str, Any] | None:
    """Now and then a schema field the executor does not implement: (position, field, a value)."""
    if draw(st.integers(0, 4)) != 4:  # hypothesis leans to small numbers: the stray field is the rarer case
        return None
    options = [
        (position, name)
        for position, model in STRAY_AT.items()
        for name, annotation in sorted(fields(model).items())
        if name not in {key.lstrip("~") for key in SUPPORTED[position]}
    ]
    position, name = draw(st.sampled_from(options))
    return position, name, sample(fields(STRAY_AT[position])[name])


@st.composite
def workflows(draw) -> dict[str, Any]:
    """A valid Workflow: leaves, maybe a nested template, a dag or steps entrypoint, maybe an exit handler."""
    templates: dict[str, dict] = {}
    for number in range(draw(st.integers(1, 3))):
        templates[f"leaf{number}"] = draw(leaf(f"leaf{number}"))
    if "suspend" in SUPPORTED["template"] and draw(st.integers(0, 4)) == 0:
        templates["pause"] = {"name": "pause", "suspend": {"duration": draw(st.sampled_from(["0", "0s"]))}}
    if draw(st.booleans()):
        templates["inner"] = draw(composite("inner", templates, sorted(templates), nested=True))
    main = draw(composite("main", templates, sorted(templates), nested=False))
    spec: dict[str, Any] = {
        "entrypoint": "main",
        "arguments": {"parameters": [
            {"name": "flag", "value": draw(st.sampled_from(["yes", "no"]))},
            {"name": "list", "value": draw(st.sampled_from(['["a", "b"]', "[]", '[{"k": 1}]']))},
        ]},
        "templates": [main, *templates.values()],
    }  # fmt: skip
    exits = plain(templates)
    if exits and draw(st.booleans()):
        spec["onExit"] = draw(st.sampled_from(exits))
    spec.update({k: v for k, v in draw(handlers("spec", templates)).items() if k == "hooks"})
    if "retryStrategy" in SUPPORTED["spec"] and draw(st.integers(0, 5)) == 0:
        spec["retryStrategy"] = {"limit": "1"}
    if exits and draw(st.integers(0, 5)) == 0:  # a container or script as the whole workflow, where supported
        spec["entrypoint"] = draw(st.sampled_from(exits))
    if draw(st.integers(0, 3)) == 0:
        spec["parallelism"] = draw(st.integers(1, 3))
    if draw(st.integers(0, 5)) == 0:
        spec["synchronization"] = {"mutexes": [{"name": "m"}]}
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "prop-"},
        "spec": spec,
    }
    stray = draw(stray_field())
    if stray:
        position, name, value = stray
        holders = {
            "spec": [spec],
            "template": list(templates.values()),
            "container": [t["container"] for t in templates.values() if "container" in t],
            "task": (main.get("dag") or {}).get("tasks") or [],
        }[position]
        if holders:
            draw(st.sampled_from(holders))[name] = value
    return doc


def problems_of(doc: dict[str, Any]) -> list[str]:
    """What Argo's schema (Hera's models) and the project's lint find wrong."""
    m.Workflow.model_validate(doc)
    return [str(p) for p in lint_documents("generated.yaml", yaml.safe_dump(doc))]


def valid(doc: dict[str, Any]) -> bool:
    problems = problems_of(doc)
    note(f"lint: {problems}")
    event("lint refused" if problems else "valid")
    return not problems


def check_run(doc: dict[str, Any]) -> None:
    """The property: a refusal up front, or a finished run whose record says how it ended, never a crash."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            local = LocalRun(doc, {}, str(Path(folder) / "runs"), locks_dir=str(Path(folder) / "locks"))
        except BadInput as refusal:  # Unsupported included: refused by name before anything runs
            event(f"refused: {str(refusal).split(':')[0]}")
            return
        record = local.run()
        saved = json.loads((local.run_dir / "run.json").read_text())
    nodes = [*record.nodes.values(), *getattr(record, "hooks", {}).values(), record.exit_handler]
    crashes = [n.message for n in nodes if n and INTERNAL in n.message]
    assert INTERNAL not in record.message and not crashes, record.message or crashes
    assert record.phase in (Phase.Succeeded, Phase.Failed, Phase.Error)
    assert saved["phase"] == record.phase
    event(f"ran: {record.phase}")


@PROPERTY
@given(workflows())
def test_a_valid_workflow_gets_a_phase_or_a_refusal(doc):
    note(yaml.safe_dump(doc))
    assume(valid(doc))
    check_run(doc)


# ---- examples the property found, kept as regressions --------------------------------------------------------


def one_task(leaf_template: dict[str, Any], value: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "prop-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "dag": {"tasks": [
                    {"name": "t0", "template": "leaf0", "arguments": {"parameters": [{"name": "p", "value": value}]}}
                ]}},
                {"name": "leaf0", "inputs": {"parameters": [{"name": "p"}]}, **leaf_template},
            ],
        },
    }  # fmt: skip


def finished(doc: dict[str, Any], tmp_path: Path) -> LocalRun:
    assert problems_of(doc) == []
    local = LocalRun(doc, {}, str(tmp_path / "runs"), locks_dir=str(tmp_path / "locks"))
    local.run()
    return local


@pytest.mark.parametrize(("code", "phase", "attempts"), [(0, "Succeeded", 1), (1, "Error", 1)])
def test_a_retry_limit_that_is_no_integer_errors_the_node_once_it_would_retry(
    tmp_path, code, phase, attempts
):
    """Was int('v') in the executor, an internal error. operator.go processNodeRetries reads the limit
    (util/intstr Int32) only after an attempt failed that the policy retries; its error marks the node Error."""
    container = {"image": "python:3.11", "command": ["python", "-c", code_for(code, False)]}
    doc = one_task({"container": container, "retryStrategy": {"limit": "{{inputs.parameters.p}}"}}, "v")
    node = finished(doc, tmp_path).record.nodes["t0"]
    assert (node.phase, len(node.attempts)) == (phase, attempts)
    if phase == "Error":
        assert node.message == "value 'v' cannot be resolved to an int"


def test_an_active_deadline_that_is_no_integer_errors_before_the_process_starts(tmp_path):
    """Was float('v') after the process started, an internal error. workflowpod.go reads it with intstr.Int64
    before creating the pod; the error marks the node Error."""
    container = {"image": "python:3.11", "command": ["python", "-c", code_for(0, False)]}
    doc = one_task({"container": container, "activeDeadlineSeconds": "{{inputs.parameters.p}}"}, "v")
    local = finished(doc, tmp_path)
    node = local.record.nodes["t0"]
    assert (local.record.phase, node.phase, node.message) == (
        "Error",
        "Error",
        "value 'v' cannot be resolved to an int",
    )
    assert node.attempts[-1].pid is None  # nothing started


def test_the_lint_reads_a_steps_template_so_steps_workflows_can_be_generated():
    """The lint took each step of a group for the group's wrapper model and refused every step field as unknown."""
    doc = one_task({"container": {"image": "python:3.11", "command": ["python", "-c", "pass"]}}, "v")
    doc["spec"]["templates"][0] = {"name": "main", "steps": [[
        {"name": "s", "template": "leaf0", "withItems": [{"k": 1}], "arguments": {"parameters": [{"name": "p", "value": "v"}]}}
    ]]}  # fmt: skip
    assert lint_documents("steps.yaml", yaml.safe_dump(doc)) == []
