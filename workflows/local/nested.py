"""Templates inside templates: a DAG task or a step whose template is itself a ``dag`` or ``steps`` template.

As Argo's operator.go ``executeTemplate`` does, the task's node is the nested template's node; its children
are named from it: a nested DAG's tasks ``<node>.<task>`` (dag.go ``taskNodeName``), a nested steps template's
groups ``<node>[i]`` and their steps ``<node>[i].<step>`` (steps.go ``executeSteps``). The nested template runs
with its own ``inputs.parameters`` from the task's arguments (common.ProcessArgs), and its
``outputs.parameters`` come from its scope by ``valueFrom.parameter`` (or ``valueFrom.default``): steps.go and
dag.go ``getTemplateOutputsFromScope``. A nested DAG's phase is ``assessDAGPhase``'s, as the entrypoint's.
A nested DAG's looped task is a group ``<node>.<task>`` of items ``<node>.<task>(0:a)`` (dag.go taskNodeName of
the expanded task), started by that DAG with its scope; ``tasks.<task>.outputs`` is their fan-in. A nested dag or
steps template's ``parallelism`` caps its own active children (operator.go checkParallelism, countActiveChildren:
the Pod, Steps and DAG nodes of its boundary, so tasks, items and nested templates but not task groups). A nested
template with a retryStrategy (its own or the workflow's) is a Retry node of whole runs ``<node>(n)`` (composite_retry).
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
from workflows.local import composite_retry, hooks, loops
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
    if composite_retry.strategy_of(run, template):  # a Retry node: whole runs of the template, <node>(n)
        runner = composite_retry.run_retried
    prefix = "onExit" if node is run.record.exit_handler else node.name  # hooks.start_exit_handler
    phase, message, outputs = runner(run, template, prefix, inputs)
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
        # a task's name, or a loop item's whole node name (a task's name holds no '.' nor '(': validate.go)
        return self.nodes[name if "." in name or "(" in name else f"{self.prefix}.{name}"]

    def __iter__(self) -> Iterator[str]:
        return (name for name in self.names if f"{self.prefix}.{name}" in self.nodes)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Record:
    def __init__(self, nodes: _Nodes, started_at: str) -> None:
        self.nodes, self.message = nodes, ""
        self.started_at = started_at  # the workflow's, for workflow.duration


class DagView:
    """The run as dag.py's functions see it, for a DAG nested in a node: its own tasks and inputs."""

    def __init__(self, run: LocalRun, prefix: str, inputs: dict[str, str], names: list[str]) -> None:
        self.run, self.entry_inputs = run, inputs
        self.record = _Record(_Nodes(run.record.nodes, prefix, names), run.record.started_at)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.run, name)


def run_dag(run: LocalRun, template: dict, prefix: str, inputs: dict[str, str]) -> tuple[str, str, dict]:
    """A DAG template nested in node ``prefix``: its tasks scheduled as the entrypoint's are (dag.py)."""
    tasks = {task["name"]: task for task in template["dag"].get("tasks") or []}
    graph = {name: task_dependencies(task) for name, task in tasks.items()}
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
    limit = limit_of(run, template)
    groups = [f"{prefix}.{name}" for name in tasks]
    running: dict[Future, str] = {}
    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="nested") as pool:
        while True:
            with run.lock:
                expanded = start_ready(view, pool, running, tasks, graph, prefix, limit)  # dag.py ready()
                run.save()
            if not running:
                if expanded:  # a group settled at once (empty, or all its items skipped): look again
                    continue
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                running.pop(future)
                future.result()
    with run.lock:
        local_stop.settle_unstarted(view, tasks, graph)
        loops.settle(run, groups, stopped=True)
        phase = assess(view, tasks, graph)
        try:
            outputs = template_outputs(template, task_scope(view)) if phase == Phase.Succeeded else {}
        except ExpressionError as exc:
            return Phase.Error, str(exc), {}
    return phase, view.record.message if phase != Phase.Succeeded else "", outputs


def limit_of(run: LocalRun, template: dict[str, Any]) -> int:
    """How many children of one invocation of ``template`` run at once: its ``parallelism``, within the run's."""
    return max(1, min(run.parallelism, int(template.get("parallelism") or run.parallelism)))


def start_ready(
    view: DagView, pool, running: dict[Future, str], tasks, graph, prefix: str, limit: int
) -> bool:
    """Start a nested DAG's ready tasks and loop items, up to ``limit`` at once; True when a looped task expanded.
    Called under the run's lock."""
    run = view.run
    groups = [f"{prefix}.{name}" for name in tasks]
    loops.settle(run, groups)
    scope = task_scope(view)
    expanded = False
    for name in ready(view, tasks, graph, True):
        task = {**tasks[name], "name": f"{prefix}.{name}"}
        if loops.is_looped(task):  # a task group: its items start below
            loops.expand(run, task, scope)
            expanded = True
        elif len(running) < limit:
            view.record.nodes[name].phase = Phase.Running
            running[pool.submit(hooks.execute, run, task, None, scope)] = name
    hooks.start_unrun(run, pool, running, tasks, view.record.nodes, scope)  # a Skipped/Omitted task's hooks
    for name in loops.ready_items(run, groups) if not run.stopping.is_set() else []:
        if len(running) >= limit:
            break
        run.record.nodes[name].phase = Phase.Running
        running[pool.submit(run.execute, run.item_tasks[name], None, scope)] = name
    return expanded
