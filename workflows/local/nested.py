"""Templates inside templates: a DAG task or a step whose template is itself a ``dag`` or ``steps`` template.

As Argo's operator.go ``executeTemplate`` does, the task's node is the nested template's node; its children
are named from it: a nested DAG's tasks ``<node>.<task>`` (dag.go ``taskNodeName``), a nested steps template's
groups ``<node>[i]`` and their steps ``<node>[i].<step>`` (steps.go ``executeSteps``). The nested template runs
with its own ``inputs.parameters`` from the task's arguments (common.ProcessArgs), and its
``outputs.parameters`` come from its scope by ``valueFrom.parameter`` (or ``valueFrom.default``): steps.go and
dag.go ``getTemplateOutputsFromScope``. A nested DAG's phase is ``assessDAGPhase``'s, as the entrypoint's.
Loops on the tasks of a nested DAG are refused by preflight (the loop module keys its groups by task name).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from workflows.argo.expressions import ExpressionError
from workflows.argo.lint import task_dependencies
from workflows.local import hooks
from workflows.local import stop as local_stop
from workflows.local.dag import assess, ready, task_inputs, task_scope
from workflows.local.record import Node, Phase, now_iso
from workflows.local.substitution import Absent, Unreadable

if TYPE_CHECKING:
    from workflows.local.executor import LocalRun

NESTED = ("dag", "steps")


def is_nested(template: dict[str, Any]) -> bool:
    return any(kind in template for kind in NESTED)


def run_nested(
    run: LocalRun, task: dict[str, Any], node: Node, template: dict, scope: dict[str, str]
) -> None:
    """Run a task's (or step's) nested template as its node: the node's phase, message and outputs."""
    from workflows.local.steps_template import run_steps

    began = time.monotonic()
    with run.lock:
        node.phase, node.started_at = Phase.Running, node.started_at or now_iso()
    try:
        inputs = {k: v for k, v in task_inputs(run, task, template, scope).items() if k.startswith("inputs.")}
    except ExpressionError as exc:
        run.finish(node, Phase.Error, str(exc))
        return
    runner = run_dag if "dag" in template else run_steps
    phase, message, outputs = runner(run, template, node.name, inputs)
    node.outputs = outputs
    run.finish(node, phase, message, began)


def template_outputs(template: dict[str, Any], scope: dict[str, str]) -> dict[str, str]:
    """steps.go/dag.go ``getTemplateOutputsFromScope``: each output's ``valueFrom.parameter`` read from the
    template's scope, else its ``valueFrom.default``; otherwise an error (scope.go ``resolveParameter``)."""
    outputs = {}
    for parameter in (template.get("outputs") or {}).get("parameters") or []:
        source = parameter.get("valueFrom") or {}
        key = str(source.get("parameter", "")).strip()
        key = key[2:-2].strip() if key.startswith("{{") and key.endswith("}}") else key
        value = scope.get(key)
        if value is None or isinstance(value, (Absent, Unreadable)):
            if source.get("default") is None:
                raise ExpressionError(f"Unable to resolve: {{{{{key}}}}}")
            value = str(source["default"])
        outputs[parameter["name"]] = str(value)
    return outputs


class _Nodes(Mapping):
    """A nested DAG's task nodes by task name, over the run's record (names ``<prefix>.<task>``)."""

    def __init__(self, nodes: dict[str, Node], prefix: str, names: list[str]) -> None:
        self.nodes, self.prefix, self.names = nodes, prefix, names

    def __getitem__(self, name: str) -> Node:
        return self.nodes[f"{self.prefix}.{name}"]

    def __iter__(self) -> Iterator[str]:
        return (name for name in self.names if f"{self.prefix}.{name}" in self.nodes)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Record:
    def __init__(self, nodes: _Nodes) -> None:
        self.nodes, self.message = nodes, ""


class DagView:
    """The run as dag.py's functions see it, for a DAG nested in a node: its own tasks and inputs."""

    def __init__(self, run: LocalRun, prefix: str, inputs: dict[str, str], names: list[str]) -> None:
        self.run, self.entry_inputs = run, inputs
        self.record = _Record(_Nodes(run.record.nodes, prefix, names))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.run, name)


def run_dag(run: LocalRun, template: dict, prefix: str, inputs: dict[str, str]) -> tuple[str, str, dict]:
    """A DAG template nested in node ``prefix``: its tasks scheduled as the entrypoint's are (dag.py)."""
    tasks = {task["name"]: task for task in template["dag"].get("tasks") or []}
    graph = {name: task_dependencies(task) for name, task in tasks.items()}
    fail_fast = template["dag"].get("failFast", True)
    view = DagView(run, prefix, inputs, list(tasks))
    readers = set(re.findall(r"tasks\.([\w-]+)\.outputs\.result\b", json.dumps(template)))
    run.capture_results.update(f"{prefix}.{name}" for name in readers)  # dag.py result_readers, nested
    with run.lock:
        for name, task in tasks.items():
            full = f"{prefix}.{name}"
            kept = run.record.nodes.get(full)
            if kept is not None and kept.phase == Phase.Succeeded:
                kept.reused = True
            else:
                run.record.nodes[full] = Node(name=full, template=task["template"])
    running: dict[Future, str] = {}
    with ThreadPoolExecutor(max_workers=run.parallelism, thread_name_prefix="nested") as pool:
        while True:
            with run.lock:
                scope = task_scope(view)
                for name in ready(view, tasks, graph, fail_fast):
                    view.record.nodes[name].phase = Phase.Running
                    task = {**tasks[name], "name": f"{prefix}.{name}"}
                    running[pool.submit(hooks.execute, run, task, None, scope)] = name
                run.save()
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                running.pop(future)
                future.result()
    with run.lock:
        local_stop.settle_unstarted(view, tasks, graph)
        phase = assess(view, tasks, graph)
        try:
            outputs = template_outputs(template, task_scope(view)) if phase == Phase.Succeeded else {}
        except ExpressionError as exc:
            return Phase.Error, str(exc), {}
    return phase, view.record.message if phase != Phase.Succeeded else "", outputs
