"""The local executor's Argo semantics, each on a tiny manifest with real subprocesses."""

from __future__ import annotations

import itertools
import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from workflows.local import executor
from workflows.local.attempt import DEADLINE_MESSAGE, WORKFLOW_DEADLINE_MESSAGE
from workflows.local.executor import LocalRun

NEVER_65 = "asInt(lastRetry.exitCode) != 65"
# Writes its outputs like a step does: one file per output parameter under $OUT.
WRITE = "import os,pathlib,sys; out=pathlib.Path(os.environ['OUT']); "


def container(
    name: str, code: str, inputs=(), outputs=(), retry=None, deadline=None, patch=None, values=None
) -> dict:
    template = {
        "name": name,
        "inputs": {
            "parameters": [
                {"name": i, **({"value": values[i]} if values and i in values else {})} for i in inputs
            ]
        },
        "outputs": {"parameters": [{"name": o, "valueFrom": {"path": f"/tmp/outputs/{o}"}} for o in outputs]},
        "container": {
            "image": "python:3.11",
            "command": ["python", "-c", code],
            "args": [f"{{{{inputs.parameters.{i}}}}}" for i in inputs],
            "env": [{"name": "OUT", "value": "/tmp/outputs"}],
        },
    }
    if retry:
        template["retryStrategy"] = retry
    if deadline:
        template["activeDeadlineSeconds"] = deadline
    if patch:
        template["podSpecPatch"] = patch
    return template


def workflow(tasks: list[dict], templates: list[dict], **spec) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "t-"},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", "dag": {"tasks": tasks}}, *templates],
            **spec,
        },
    }


def run(tmp_path: Path, doc: dict, parallelism: int = 4, **parameters) -> LocalRun:
    local = LocalRun(
        doc, parameters, str(tmp_path / "runs"), parallelism=parallelism, locks_dir=str(tmp_path / "locks")
    )
    local.run()
    return local


def counter(tmp_path: Path, succeed_on: int, fail_code: int = 1) -> str:
    """Code that fails with ``fail_code`` until its ``succeed_on``-th attempt, logging each attempt's time."""
    path = tmp_path / "attempts.txt"
    return (
        f"import time,sys,pathlib; p=pathlib.Path({str(path)!r}); p.open('a').write(f'{{time.time()}}\\n'); "
        f"sys.exit(0 if len(p.read_text().split()) >= {succeed_on} else {fail_code})"
    )


def test_retry_then_succeed(tmp_path):
    doc = workflow(
        [{"name": "a", "template": "a"}],
        [container("a", counter(tmp_path, 3), retry={"limit": 3, "retryPolicy": "Always"})],
    )
    local = run(tmp_path, doc)
    node = local.record.nodes["a"]
    assert (local.record.phase, node.phase, len(node.attempts)) == ("Succeeded", "Succeeded", 3)
    assert [a.phase for a in node.attempts] == ["Failed", "Failed", "Succeeded"]
    assert local.exit_code() == 0


def test_retries_exhausted(tmp_path):
    doc = workflow(
        [{"name": "a", "template": "a"}], [container("a", "import sys; sys.exit(3)", retry={"limit": 2})]
    )
    local = run(tmp_path, doc)
    assert local.record.phase == "Failed" and len(local.record.nodes["a"].attempts) == 3
    assert local.record.nodes["a"].message == "Error (exit code 3)"
    assert local.exit_code() == 1


def test_exit_65_is_not_retried(tmp_path):
    retry = {"limit": 3, "retryPolicy": "Always", "expression": NEVER_65}
    doc = workflow(
        [{"name": "a", "template": "a"}], [container("a", "import sys; sys.exit(65)", retry=retry)]
    )
    local = run(tmp_path, doc)
    assert len(local.record.nodes["a"].attempts) == 1
    assert local.exit_code() == 65


def test_backoff_timing_is_respected(tmp_path):
    retry = {"limit": 3, "retryPolicy": "Always", "backoff": {"duration": "1s", "factor": 2}}
    doc = workflow([{"name": "a", "template": "a"}], [container("a", counter(tmp_path, 3), retry=retry)])
    run(tmp_path, doc)
    starts = [float(t) for t in (tmp_path / "attempts.txt").read_text().split()]
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert gaps[0] >= 1.0 and gaps[1] >= 2.0, gaps


def test_backoff_max_duration_stops_retrying(tmp_path):
    retry = {
        "limit": 5,
        "retryPolicy": "Always",
        "backoff": {"duration": "1s", "factor": 4, "maxDuration": "3s"},
    }
    doc = workflow([{"name": "a", "template": "a"}], [container("a", "import sys; sys.exit(1)", retry=retry)])
    local = run(tmp_path, doc)
    assert len(local.record.nodes["a"].attempts) == 2  # the third would start after 1 s + 4 s > 3 s
    assert "maxDuration" in local.record.nodes["a"].attempts[-1].message


def test_outputs_flow_to_later_tasks_and_when_skips(tmp_path):
    target = tmp_path / "seen.txt"
    tasks = [
        {"name": "a", "template": "a"},
        {"name": "b", "template": "b", "depends": "a", "arguments": {"parameters": [{"name": "v", "value": "{{tasks.a.outputs.parameters.answer}}"}]}},
        {"name": "c", "template": "b", "depends": "a", "when": "'{{tasks.a.outputs.parameters.answer}}' == 'no'", "arguments": {"parameters": [{"name": "v", "value": "x"}]}},
        {"name": "d", "template": "b", "depends": "c", "arguments": {"parameters": [{"name": "v", "value": "after-skip"}]}},
    ]  # fmt: skip
    templates = [
        container("a", WRITE + "(out/'answer').write_text('yes')", outputs=("answer",)),
        container("b", f"import sys; open({str(target)!r}, 'a').write(sys.argv[1] + '\\n')", inputs=("v",)),
    ]
    local = run(tmp_path, workflow(tasks, templates))
    phases = {name: node.phase for name, node in local.record.nodes.items()}
    assert phases == {"a": "Succeeded", "b": "Succeeded", "c": "Skipped", "d": "Succeeded"}
    assert local.record.nodes["c"].message == "when ''yes' == 'no'' evaluated false"
    assert sorted(target.read_text().split()) == ["after-skip", "yes"]
    assert local.record.phase == "Succeeded"


def test_continue_on_carries_on(tmp_path):
    tasks = [
        {"name": "flaky", "template": "fail", "continueOn": {"failed": True}},
        {"name": "next", "template": "ok", "depends": "flaky"},
        {"name": "cleanup", "template": "ok", "depends": "flaky.Failed"},
    ]
    local = run(
        tmp_path, workflow(tasks, [container("fail", "import sys; sys.exit(2)"), container("ok", "pass")])
    )
    phases = {name: node.phase for name, node in local.record.nodes.items()}
    assert phases == {"flaky": "Failed", "next": "Succeeded", "cleanup": "Succeeded"}
    assert local.record.phase == "Succeeded"


def test_an_omitted_leaf_inherits_its_parents_failure(tmp_path):
    """As Argo's assessDAGPhase: a leaf omitted by its depends takes the failed branch's phase."""
    tasks = [
        {"name": "flaky", "template": "fail", "continueOn": {"failed": True}},
        {"name": "celebrate", "template": "ok", "depends": "flaky.Succeeded"},
    ]
    local = run(
        tmp_path, workflow(tasks, [container("fail", "import sys; sys.exit(2)"), container("ok", "pass")])
    )
    assert local.record.nodes["celebrate"].phase == "Omitted"
    assert local.record.phase == "Failed"


def test_a_failed_task_fails_the_dag_through_its_leaves(tmp_path):
    tasks = [{"name": "a", "template": "fail"}, {"name": "b", "template": "ok", "depends": "a"}]
    local = run(
        tmp_path, workflow(tasks, [container("fail", "import sys; sys.exit(2)"), container("ok", "pass")])
    )
    assert local.record.phase == "Failed"
    assert local.record.nodes["b"].attempts == []
    assert (local.record.nodes["b"].phase, local.record.nodes["b"].message) == (
        "Omitted",
        "omitted: depends condition not met",  # Argo's dag.go, for a task whose depends cannot be met
    )


def test_tasks_ready_after_a_failure_still_run_and_the_dag_fails(tmp_path):
    # Argo's dag.go: executeDAG creates every task whose dependencies are fulfilled (executeDAGTask has no
    # failFast check) before assessDAGPhase, the only reader of failFast (argoproj/argo-workflows#5227).
    tasks = [
        {"name": "a", "template": "fail"},
        {"name": "b", "template": "ok"},  # a second root: one slot, so it waits for a, which fails
        {"name": "c", "template": "ok", "depends": "b"},
    ]
    doc = workflow(tasks, [container("fail", "import sys; sys.exit(2)"), container("ok", "pass")])
    local = run(tmp_path, doc, parallelism=1)
    nodes = local.record.nodes
    assert {name: node.phase for name, node in nodes.items()} == {
        "a": "Failed",
        "b": "Succeeded",
        "c": "Succeeded",
    }
    assert local.record.phase == "Failed"


def test_a_retried_task_lasts_its_wall_time_backoffs_included(tmp_path):
    retry = {"limit": 2, "retryPolicy": "Always", "backoff": {"duration": "1s", "factor": 2}}
    local = run(
        tmp_path,
        workflow([{"name": "a", "template": "a"}], [container("a", counter(tmp_path, 3), retry=retry)]),
    )
    node = local.record.nodes["a"]
    attempts = sum(a.duration_seconds for a in node.attempts)
    assert len(node.attempts) == 3 and node.duration >= attempts + 3.0  # two backoffs: 1 s and 2 s
    assert (
        json.loads((Path(local.record.run_dir) / "run.json").read_text())["nodes"]["a"]["duration_seconds"]
        == node.duration
    )


def _gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "\nState:\tZ" in status.read_text()


def test_deadline_kills_a_hanging_step_and_its_children(tmp_path):
    pid_file = tmp_path / "child.pid"
    code = f"import subprocess,time; c=subprocess.Popen(['sleep','60']); open({str(pid_file)!r},'w').write(str(c.pid)); time.sleep(60)"
    doc = workflow([{"name": "hang", "template": "hang"}], [container("hang", code, deadline=1)])
    started = time.monotonic()
    local = run(tmp_path, doc)
    assert time.monotonic() - started < 15
    assert local.record.nodes["hang"].phase == "Failed"
    assert local.record.nodes["hang"].message == DEADLINE_MESSAGE
    time.sleep(0.2)
    assert _gone(int(pid_file.read_text()))


def test_workflow_deadline_stops_everything(tmp_path):
    doc = workflow(
        [{"name": "hang", "template": "hang"}],
        [container("hang", "import time; time.sleep(60)")],
        activeDeadlineSeconds=1,
    )
    started = time.monotonic()
    local = run(tmp_path, doc)
    assert time.monotonic() - started < 15
    assert (local.record.phase, local.record.message) == ("Failed", WORKFLOW_DEADLINE_MESSAGE)


def test_on_exit_sees_failed_and_the_failures(tmp_path):
    seen = tmp_path / "exit.json"
    handler = container(
        "notify",
        f"import sys,json; json.dump(sys.argv[1:], open({str(seen)!r},'w'))",
        inputs=("status", "failures", "name"),
        values={
            "status": "{{workflow.status}}",
            "failures": "{{workflow.failures}}",
            "name": "{{workflow.name}}",
        },
    )
    doc = workflow(
        [{"name": "boom", "template": "boom"}],
        [container("boom", "import sys; sys.exit(9)"), handler],
        onExit="notify",
    )
    local = run(tmp_path, doc)
    status, failures, name = json.loads(seen.read_text())
    assert status == "Failed" and name == local.record.name
    assert json.loads(failures)[0] | {"finishedAt": ""} == {
        "displayName": "boom", "message": "Error (exit code 9)", "templateName": "boom", "phase": "Failed",
        "podName": f"{local.record.name}-boom", "finishedAt": "",
    }  # fmt: skip
    assert local.record.exit_handler.phase == "Succeeded" and local.record.phase == "Failed"


def _interval(tmp_path: Path, name: str) -> tuple[float, float]:
    start, end = (float(x) for x in (tmp_path / f"{name}.times").read_text().split())
    return start, end


@pytest.mark.parametrize(("parallelism", "overlap"), [(2, True), (1, False)])
def test_parallel_branches_overlap_up_to_parallelism(tmp_path, parallelism, overlap):
    code = "import sys,time; s=time.time(); time.sleep(1); open(sys.argv[1],'w').write(f'{s} {time.time()}')"
    arguments = {n: {"parameters": [{"name": "file", "value": str(tmp_path / f"{n}.times")}]} for n in "xy"}
    tasks = [{"name": n, "template": "sleep", "arguments": arguments[n]} for n in "xy"]
    run(tmp_path, workflow(tasks, [container("sleep", code, inputs=("file",))]), parallelism=parallelism)
    (a_start, a_end), (b_start, b_end) = _interval(tmp_path, "x"), _interval(tmp_path, "y")
    assert (a_start < b_end and b_start < a_end) is overlap


def test_pod_spec_patch_moves_the_last_attempt_to_on_demand(tmp_path):
    patch = '{"nodeSelector": {"capacity": "{{=asInt(retries) >= 2 ? \'on-demand\' : \'spot\'}}"}}'
    doc = workflow(
        [{"name": "a", "template": "a"}],
        [container("a", counter(tmp_path, 3), retry={"limit": 2}, patch=patch)],
    )
    local = run(tmp_path, doc)
    capacities = [
        json.loads(a.pod_spec_patch)["nodeSelector"]["capacity"] for a in local.record.nodes["a"].attempts
    ]
    assert capacities == ["spot", "spot", "on-demand"]


def test_workflow_parameters_and_variables_are_substituted(tmp_path):
    seen = tmp_path / "args.txt"
    tasks = [{"name": "a", "template": "a", "arguments": {"parameters": [
        {"name": "p", "value": "{{workflow.parameters.size}}"}, {"name": "n", "value": "{{workflow.name}}"},
        {"name": "ts", "value": "{{workflow.creationTimestamp}}"}]}}]  # fmt: skip
    code = f"import sys; open({str(seen)!r},'w').write(' '.join(sys.argv[1:]))"
    doc = workflow(tasks, [container("a", code, inputs=("p", "n", "ts"))])
    doc["spec"]["arguments"] = {"parameters": [{"name": "size", "value": "3"}]}
    local = run(tmp_path, doc, size="7")
    size, name, timestamp = seen.read_text().split()
    assert (size, name) == ("7", local.record.name)
    datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ")
    assert json.loads((Path(local.record.run_dir) / "run.json").read_text())["phase"] == "Succeeded"


def test_a_resource_template_runs_the_referenced_template_as_a_child(tmp_path):
    seen = tmp_path / "child.txt"
    size = {"parameters": [{"name": "v", "value": "{{workflow.parameters.size}}"}]}
    code = f"import sys; open({str(seen)!r},'w').write(sys.argv[1])"
    child_template = workflow(
        [{"name": "work", "template": "work", "arguments": size}], [container("work", code, inputs=("v",))]
    )
    child_template["kind"], child_template["metadata"] = "WorkflowTemplate", {"name": "child"}
    child_template["spec"]["arguments"] = {"parameters": [{"name": "size", "value": "1"}]}
    manifest = "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: child-}\nspec:\n  workflowTemplateRef: {name: child}\n  arguments: {parameters: [{name: size, value: '{{inputs.parameters.n}}'}]}\n"
    start = {
        "name": "start",
        "inputs": {"parameters": [{"name": "n"}]},
        "outputs": {"parameters": [{"name": "child-name", "valueFrom": {"jsonPath": "{.metadata.name}"}}]},
        "resource": {"action": "create", "manifest": manifest, "successCondition": "status.phase == Succeeded", "failureCondition": "status.phase in (Failed, Error)"},
    }  # fmt: skip
    doc = workflow(
        [{"name": "start", "template": "start", "arguments": {"parameters": [{"name": "n", "value": "5"}]}}],
        [start],
    )
    load = {"child": child_template}.__getitem__
    local = LocalRun(doc, {}, str(tmp_path / "runs"), load_template=load, locks_dir=str(tmp_path))
    local.run()
    node = local.record.nodes["start"]
    assert local.record.phase == "Succeeded" and seen.read_text() == "5"
    assert node.children == [node.outputs["child-name"]] and node.outputs["child-name"].startswith("child-")
    child = json.loads((tmp_path / "runs" / node.children[0] / "run.json").read_text())
    assert child["phase"] == "Succeeded" and child["parameters"] == {"size": "5"}


def _fail_on_second_call(real):
    calls = itertools.count(1)

    def planted(*args, **kwargs):
        if next(calls) == 2:
            raise RuntimeError("planted fault\nsecond line")
        return real(*args, **kwargs)

    return planted


@pytest.mark.parametrize("where", ["ready", "run_attempt"])
def test_an_internal_error_ends_the_run_as_error_with_its_record_saved(tmp_path, monkeypatch, where):
    """DESIGN.md 13: an executor bug (here planted in the scheduler's ready(), or in a task thread's attempt)
    ends the run as Error with the exception's one line, run.json saved; nothing is left Running."""
    monkeypatch.setattr(executor, where, _fail_on_second_call(getattr(executor, where)))
    tasks = [{"name": "a", "template": "ok"}, {"name": "b", "template": "ok", "depends": "a"}]
    local = run(tmp_path, workflow(tasks, [container("ok", "pass")]))
    saved = json.loads((Path(local.record.run_dir) / "run.json").read_text())
    assert saved["phase"] == "Error" and saved["finished_at"]
    assert saved["message"] == "internal error of the local executor: RuntimeError: planted fault"
    assert saved["nodes"]["a"]["phase"] == "Succeeded"
    assert saved["nodes"]["b"]["phase"] == ("Omitted" if where == "ready" else "Error")
    assert local.exit_code() == 1


def test_outputs_result_is_the_last_256_kb_of_stdout_and_the_log_keeps_both_streams(tmp_path):
    """executor.go CaptureScriptResult: stdout only, one trailing newline trimmed, the last 256 kB kept;
    captured when the DAG refers to it (hasOutputResultRef); the log still holds stdout and stderr."""
    code = "import sys; sys.stderr.write('to-stderr\\n'); sys.stdout.write('x' * 300000 + 'END\\n')"
    tasks = [
        {"name": "big", "template": "big"},
        {"name": "check", "template": "ok", "depends": "big", "when": "{{=len(tasks.big.outputs.result)}} == 262144"},
    ]  # fmt: skip
    local = run(tmp_path, workflow(tasks, [container("big", code), container("ok", "pass")]))
    big, check = local.record.nodes["big"].attempts[-1], local.record.nodes["check"]
    assert (check.phase, len(big.result), big.result[-4:]) == ("Succeeded", 262144, "xEND")
    assert {"to-stderr", "END"} <= set(Path(big.log).read_text().replace("x", "\n").split())
