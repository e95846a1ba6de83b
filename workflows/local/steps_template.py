"""``steps`` templates as Argo's workflow/controller/steps.go runs them.

The groups run in sequence and the steps of a group in parallel (``executeSteps``, ``executeStepGroup``).
A group is a node ``<node>[i]`` and each of its steps a node ``<node>[i].<step>`` (for the entrypoint, whose
node is the workflow's, ``[i]`` and ``[i].<step>``: the record's names leave out the workflow's name, as a
DAG's tasks do). Before a group starts its steps are substituted from the scope (``resolveReferences``: the
template's inputs, ``{{steps.X.*}}`` of the groups before), then expanded (``expandStepGroup``: a looped step's
items are steps of the group, ``step(0:a)``; an empty list is one ``Skipped`` node, "Skipped, empty params").
A step whose ``when`` is false is ``Skipped`` ("when '...' evaluated false"); a ``when`` that cannot be
evaluated, or a step input that cannot be resolved, makes the step and its group ``Error``. Once all are done the group is ``Failed`` ("child '<node>'
failed") when a step failed or errored that ``continueOn`` does not cover, else ``Succeeded``. A group that did
not succeed fails the template with the group's message, and later groups get no node at all. After each group
its steps' outputs join the scope as ``steps.<name>.*`` (a looped step's as the fan-in's JSON lists,
``processAggregateNodeOutputs``); the template's outputs are read from the scope at the end
(``getTemplateOutputsFromScope``).
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from workflows.argo.expressions import ExpressionError
from workflows.local import global_outputs, hooks, loops
from workflows.local.dag import continues_on, node_scope, task_inputs, when_holds, workflow_duration
from workflows.local.nested import limit_of, template_outputs
from workflows.local.record import FAILED, Node, Phase, now_iso
from workflows.local.substitution import substitute

if TYPE_CHECKING:
    from workflows.local.executor import LocalRun

STOPPED = "stopped before the step group started"


def run_entry(run: LocalRun, template: dict[str, Any]) -> str:
    """The entrypoint's steps: the workflow's phase (its root node's), the record's message set on failure."""
    phase, message, _ = run_steps(run, template, "", dict(run.entry_inputs))
    return run.record.entry_ended(phase, message)


def run_steps(run: LocalRun, template: dict, prefix: str, inputs: dict[str, str]) -> tuple[str, str, dict]:
    """A steps template as node ``prefix``: (its phase, its message, its output parameters)."""
    scope = {**run.scope, **inputs}
    readers = set(re.findall(r"steps\.([\w-]+)\.outputs\.result\b", json.dumps(template)))
    for index, group in enumerate(template.get("steps") or []):
        if run.stopping.is_set():
            return Phase.Failed, STOPPED, {}
        name = f"{prefix}[{index}]"
        scope.update(global_outputs.scope_of(run.record))  # globalName outputs set by the groups before
        scope["workflow.duration"] = workflow_duration(run.record.started_at)  # operator.go: on each pass
        phase, message = run_group(run, group or [], name, scope, readers, limit_of(run, template))
        if phase != Phase.Succeeded:  # steps.go: sgNode.FailedOrError() fails the steps node
            return Phase.Failed, message, {}
        add_outputs(run, group or [], name, scope)
    try:
        return Phase.Succeeded, "", template_outputs(template, scope)
    except ExpressionError as exc:
        return Phase.Error, str(exc), {}


def run_group(
    run: LocalRun, group: list[dict], name: str, scope: dict[str, str], readers: set[str], limit: int
) -> tuple[str, str]:
    """One step group: its steps expanded and started in parallel, at most ``limit`` at once (the template's
    ``parallelism``, operator.go checkParallelism); its phase and message once all are done."""
    node = Node(name=name, template="", phase=Phase.Running, started_at=now_iso())
    began = time.monotonic()
    with run.lock:
        run.record.nodes[name] = node
    children: list[str] = []
    start: list[tuple[dict, Node]] = []
    owner: dict[str, dict] = {}
    try:
        expanded_steps = [
            (step, child_name, expanded)
            for step in group
            for child_name, expanded in expand(run, step, name, scope, children)
        ]
    except ExpressionError as exc:  # executeStepGroup: a group whose steps cannot be expanded errs
        return finish(run, node, began, children, Phase.Error, str(exc))
    error = ""
    for step, child_name, expanded in expanded_steps:
        child = node_for(run, child_name, expanded)
        children.append(child_name)
        owner[child_name] = step
        if child.reused:
            continue
        try:
            when = substitute(expanded["when"], scope) if expanded.get("when") else None
            if when is not None and not when_holds(when):
                child.phase, child.message = Phase.Skipped, f"when '{when}' evaluated false"
                child.finished_at = now_iso()
                continue
        except ExpressionError as exc:  # the step and its group Error; the steps before it already started
            child.phase, child.message, error = Phase.Error, str(exc), str(exc)
            break
        try:  # executeTemplate's ProcessArgs: an input that cannot be resolved errs the step and its group
            task_inputs(run, expanded, run.templates[expanded["template"]], scope)
        except ExpressionError as exc:
            child.phase, child.message, child.finished_at = Phase.Error, str(exc), now_iso()
            error = f"step group deemed errored due to child {child_name} error: {exc}"
            break
        if step["name"] in readers:
            run.capture_results.add(f"{name}.{step['name']}")
        start.append(({**expanded, "name": child_name}, child))
    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="step") as pool:
        futures = []
        for task, child in start:
            with run.lock:
                child.phase = Phase.Running
            futures.append(pool.submit(hooks.execute, run, task, None, scope))  # with its lifecycle hooks
        for future in futures:
            future.result()
    error = error or hooks.group_error(run, children)  # a step's hook expression error errs its group
    if error:
        return finish(run, node, began, children, Phase.Error, error)
    for child_name in children:
        child = run.record.nodes[child_name]
        if child.phase in FAILED and not continues_on(owner.get(child_name, {}), child.phase):
            return finish(run, node, began, children, Phase.Failed, f"child '{child_name}' failed")
    return finish(run, node, began, children, Phase.Succeeded, "")


def expand(run: LocalRun, step: dict, group: str, scope: dict[str, str], children: list[str]):
    """The step, or its items as steps ``step(i:value)`` (steps.go expandStep); an empty loop's Skipped node."""
    if not loops.is_looped(step):
        yield f"{group}.{step['name']}", step
        return
    items = loops.items_of(step, scope)
    if not items:
        empty = Node(name=f"{group}.{step['name']}", template=step["template"], phase=Phase.Skipped)
        empty.message, empty.finished_at = loops.EMPTY_MESSAGE, now_iso()
        with run.lock:
            run.record.nodes[empty.name] = empty
        children.append(empty.name)
        return
    bare = {key: value for key, value in step.items() if key not in loops.LOOP_KEYS}
    for index, item in enumerate(items):
        tags, description = loops.item_tags(item)
        yield f"{group}.{step['name']}({index}:{description})", loops.with_item(bare, tags)


def node_for(run: LocalRun, name: str, step: dict) -> Node:
    """The step's node; on ``--resume`` a Succeeded one of a container or script step is kept, reused."""
    kept = run.record.nodes.get(name)
    template = run.templates.get(step["template"]) or {}
    with run.lock:
        if kept is not None and kept.phase == Phase.Succeeded and kept.attempts and "steps" not in template:
            kept.reused = True
            return kept
        run.record.nodes[name] = Node(name=name, template=step["template"])
        return run.record.nodes[name]


def finish(
    run: LocalRun, node: Node, began: float, children: list[str], phase: str, message: str
) -> tuple[str, str]:
    with run.lock:
        node.children, node.duration_seconds = children, round(time.monotonic() - began, 3)
        node.phase, node.message, node.finished_at = phase, message, now_iso()
        run.save()
    return phase, message


def add_outputs(run: LocalRun, group: list[dict], name: str, scope: dict[str, str]) -> None:
    """Each step's ``steps.<name>.*``; a looped step's items' fan-in (not its Skipped items: steps.go)."""
    for step in group:
        prefix, base = f"steps.{step['name']}", f"{name}.{step['name']}"
        node = run.record.nodes.get(base)
        if node is not None:
            node_scope(run, node, prefix, scope)
            continue
        items = [n for n in run.record.nodes if n.startswith(base + "(")]
        fan = Node(name=base, template=step["template"], children=items)
        fan.children = [n for n in items if run.record.nodes[n].phase != Phase.Skipped]
        if fan.children:
            loops.aggregate(run, fan, prefix, scope)
