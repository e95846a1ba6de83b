"""Steps templates and nested templates, beyond the conformance cases: errors, empty loops, fan-in, nested
outputs and their defaults, the exit handler, the run record and ``--resume``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.local.test_local_executor import WRITE, container
from workflows.local.executor import LocalRun
from workflows.local.progress import table
from workflows.local.record import load_record


def steps_workflow(groups: list[list[dict]], templates: list[dict], **spec) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "s-"},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "steps": groups}, *templates], **spec},
    }


def run(tmp_path: Path, doc: dict, previous=None, **parameters) -> LocalRun:
    local = LocalRun(
        doc, parameters, str(tmp_path / "runs"), locks_dir=str(tmp_path / "locks"), previous=previous
    )
    local.run()
    return local


def phases(local: LocalRun) -> dict[str, str]:
    return {name: node.phase for name, node in local.record.nodes.items()}


SAY = container(
    "say", WRITE + "(out/'p').write_text(sys.argv[1]); print(sys.argv[1])", inputs=["m"], outputs=["p"]
)
FAIL = container("fail", "raise SystemExit(3)")


def step(name: str, template: str = "say", **fields) -> dict:
    return {"name": name, "template": template, **fields}


def m(value: str) -> dict:
    return {"arguments": {"parameters": [{"name": "m", "value": value}]}}


def test_a_when_that_cannot_be_evaluated_errors_the_step_and_fails_the_steps(tmp_path):
    """steps.go executeStepGroup: shouldExecute's error marks the step and its group Error; executeSteps
    then fails the steps node (FailedOrError) and no later group starts."""
    doc = steps_workflow(
        [[step("a", when="1 +", **m("x"))], [step("b", **m("y"))]],
        [SAY],
    )
    local = run(tmp_path, doc)
    assert local.record.phase == "Failed"
    assert phases(local) == {"[0]": "Error", "[0].a": "Error"}


def test_an_input_that_cannot_be_resolved_errors_the_step_and_its_group(tmp_path):
    """steps.go executeStepGroup: executeTemplate's error marks the group Error, 'step group deemed errored due
    to child ... error'; the steps node fails and no later group starts."""
    doc = steps_workflow([[step("a", **m("{{steps.nope.outputs.result}}"))], [step("b", **m("y"))]], [SAY])
    local = run(tmp_path, doc)
    assert local.record.phase == "Failed"
    assert phases(local) == {"[0]": "Error", "[0].a": "Error"}
    assert local.record.nodes["[0]"].message.startswith("step group deemed errored due to child [0].a error")


def test_an_empty_loop_is_one_skipped_node_and_the_group_succeeds(tmp_path):
    """steps.go expandStepGroup: an empty list gives one Skipped node '<group>.<step>', 'Skipped, empty params'."""
    doc = steps_workflow([[step("loop", withParam="[]", **m("{{item}}"))], [step("after", **m("z"))]], [SAY])
    local = run(tmp_path, doc)
    assert local.record.phase == "Succeeded"
    assert phases(local) == {
        "[0]": "Succeeded",
        "[0].loop": "Skipped",
        "[1]": "Succeeded",
        "[1].after": "Succeeded",
    }
    assert local.record.nodes["[0].loop"].message == "Skipped, empty params"


def test_a_looped_steps_outputs_are_fanned_in(tmp_path):
    """steps.go executeSteps: a looped step's items' outputs join the scope as JSON lists
    (processAggregateNodeOutputs), results and output parameters alike."""
    doc = steps_workflow(
        [
            [step("loop", withItems=["1", "2"], **m("{{item}}"))],
            [
                step("p", **m("{{steps.loop.outputs.parameters.p}}")),
                step("r", **m("{{steps.loop.outputs.result}}")),
            ],
        ],
        [SAY],
    )
    local = run(tmp_path, doc)
    assert local.record.phase == "Succeeded", local.record.message
    assert local.record.nodes["[1].p"].attempts[-1].command[-1] == '["1","2"]'
    assert local.record.nodes["[1].r"].attempts[-1].command[-1] == "[1,2]"


def test_a_nested_steps_output_falls_back_to_its_default_and_errs_without_one(tmp_path):
    """getTemplateOutputsFromScope: valueFrom.default when the parameter cannot be resolved, else an error."""
    inner = {
        "name": "inner",
        "steps": [[step("a", when="false", **m("x"))]],
        "outputs": {
            "parameters": [
                {
                    "name": "o",
                    "valueFrom": {"parameter": "{{steps.a.outputs.parameters.nope}}", "default": "d"},
                }
            ]
        },
    }
    doc = steps_workflow(
        [[step("n", "inner")], [step("after", **m("{{steps.n.outputs.parameters.o}}"))]], [inner, SAY]
    )
    local = run(tmp_path, doc)
    assert local.record.phase == "Succeeded", local.record.message
    assert local.record.nodes["[0].n"].outputs == {"o": "d"}
    assert local.record.nodes["[1].after"].attempts[-1].command[-1] == "d"
    del inner["outputs"]["parameters"][0]["valueFrom"]["default"]
    failed = run(tmp_path, doc)
    assert failed.record.nodes["[0].n"].phase == "Error"
    assert "Unable to resolve" in failed.record.nodes["[0].n"].message


def test_steps_in_steps_and_the_exit_handler_sees_the_failures(tmp_path):
    """Nested steps are named <step node>[i].<step>; {{workflow.failures}} lists the failed nodes."""
    inner = {"name": "inner", "steps": [[step("bad", "fail")]]}
    report = container("report", WRITE + "(out/'p').write_text(sys.argv[1])", inputs=["f"], outputs=["p"])
    report["inputs"]["parameters"][0]["value"] = "{{workflow.failures}}"
    doc = steps_workflow([[step("n", "inner")]], [inner, FAIL, report], onExit="report")
    local = run(tmp_path, doc)
    assert local.record.phase == "Failed"
    assert phases(local) == {
        "[0]": "Failed",
        "[0].n": "Failed",
        "[0].n[0]": "Failed",
        "[0].n[0].bad": "Failed",
    }
    assert local.record.nodes["[0].n"].message == "child '[0].n[0].bad' failed"
    listed = json.loads(local.record.exit_handler.outputs["p"])
    # operator.go lists every Failed or Error node by its display name: the step's own name, a group's [i]
    assert sorted(failure["displayName"] for failure in listed) == ["[0]", "[0]", "bad", "n"]
    saved = load_record(Path(local.record.run_dir))
    assert set(saved.nodes) == set(local.record.nodes) and saved.nodes["[0]"].children == ["[0].n"]
    assert table(saved).row_count == len(saved.nodes) + 1


def test_resume_reruns_what_did_not_succeed_and_keeps_what_did(tmp_path):
    flag = tmp_path / "ok"
    flaky = container(
        "flaky", f"import pathlib,sys; sys.exit(0 if pathlib.Path({str(flag)!r}).exists() else 1)"
    )
    doc = steps_workflow([[step("a", **m("x"))], [step("b", "flaky")]], [SAY, flaky])
    first = run(tmp_path, doc)
    assert first.record.phase == "Failed"
    flag.write_text("")
    again = run(tmp_path, doc, previous=first.record)
    assert again.record.phase == "Succeeded"
    assert again.record.nodes["[0].a"].reused and len(again.record.nodes["[0].a"].attempts) == 1
    assert again.record.nodes["[1].b"].phase == "Succeeded"


def test_a_nested_dag_reads_its_inputs_and_gives_its_outputs(tmp_path):
    inner = {
        "name": "inner",
        "inputs": {"parameters": [{"name": "w"}]},
        "outputs": {"parameters": [{"name": "o", "valueFrom": {"parameter": "{{tasks.t.outputs.result}}"}}]},
        "dag": {"tasks": [{"name": "t", "template": "say", **m("{{inputs.parameters.w}}!")}]},
    }
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "d-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "dag": {
                        "tasks": [
                            {
                                "name": "n",
                                "template": "inner",
                                "arguments": {"parameters": [{"name": "w", "value": "hi"}]},
                            },
                            {
                                "name": "u",
                                "template": "say",
                                "depends": "n",
                                **m("{{tasks.n.outputs.parameters.o}}"),
                            },
                        ]
                    },
                },
                inner,
                SAY,
            ],
        },
    }
    local = run(tmp_path, doc)
    assert local.record.phase == "Succeeded", local.record.message
    assert phases(local) == {"n": "Succeeded", "n.t": "Succeeded", "u": "Succeeded"}
    assert local.record.nodes["u"].attempts[-1].command[-1] == "hi!"


def test_the_workflow_deadline_stops_a_steps_run_before_its_next_group(tmp_path):
    sleep = container("sleep", "import time; time.sleep(30)")
    doc = steps_workflow(
        [[step("slow", "sleep")], [step("never", **m("x"))]], [sleep, SAY], activeDeadlineSeconds=1
    )
    local = run(tmp_path, doc)
    assert (local.record.phase, local.record.message) == ("Failed", "Max duration limit exceeded")
    assert phases(local) == {"[0]": "Failed", "[0].slow": "Failed"}


# Each step leaves a mark while it runs and reports how many others it saw: none when they never overlap.
OVERLAP = container(
    "overlap",
    WRITE + "import time; d=pathlib.Path(sys.argv[1]); me=d/str(os.getpid()); me.touch(); time.sleep(0.3); "
    "(out/'p').write_text(str(sum(1 for f in d.iterdir() if f != me))); me.unlink()",
    inputs=["m"],
    outputs=["p"],
)


def test_a_nested_templates_parallelism_runs_its_children_one_at_a_time(tmp_path):
    """operator.go checkParallelism: a nested dag or steps template of parallelism 1 has at most one active
    child (countActiveChildren), its loop items included; the run's own parallelism is 4."""
    marks = tmp_path / "marks"
    marks.mkdir()
    looped = {"name": "x", "template": "overlap", **m(str(marks)), "withItems": [1, 2, 3]}
    inner_dag = {"name": "inner-dag", "parallelism": 1, "dag": {"tasks": [looped, {**looped, "name": "y"}]}}
    group = [step(s, "overlap", **m(str(marks))) for s in "abc"]
    inner_steps = {"name": "inner-steps", "parallelism": 1, "steps": [group]}
    doc = steps_workflow(
        [[step("d", "inner-dag")], [step("s", "inner-steps")]], [inner_dag, inner_steps, OVERLAP]
    )
    local = run(tmp_path, doc)
    assert local.record.phase == "Succeeded", local.record.message
    seen = {name: node.outputs["p"] for name, node in local.record.nodes.items() if node.outputs}
    assert len(seen) == 9
    assert set(seen.values()) == {"0"}
