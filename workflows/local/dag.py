"""The DAG's decisions, as Argo's ``dag.go`` makes them, read off a run's record.

Which pending tasks start (their dependencies done, ``depends``/``dependencies`` met, ``when`` true;
the rest become ``Omitted`` or ``Skipped``), whether a failure stops a ``failFast`` DAG, the DAG's
phase from its leaf tasks (``assessDAGPhase``: an unfinished task inherits its parents' failure),
and the scope a task's ``{{tasks.*}}`` tags read. ``continueOn`` is one rule, ``continues_on``.
Each function takes the run (``run.record``, and for ``ready`` its ``stopping`` event and scope).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from steps.errors import BadInput
from workflows.argo.expressions import ExpressionError, evaluate
from workflows.local import artifacts
from workflows.local.loops import aggregate, is_looped
from workflows.local.record import DONE, FAILED, Phase
from workflows.local.substitution import ABSENT, Absent, go_text, pure_reference, substitute

# What a dependency's result in ``depends`` (``task.Failed``) means in node phases (Argo's ancestry.go).
RESULTS = {"Succeeded": {Phase.Succeeded}, "Failed": {Phase.Failed}, "Errored": {Phase.Error},
           "Skipped": {Phase.Skipped}, "Omitted": {Phase.Omitted}, "Completed": {Phase.Succeeded, Phase.Failed},
           "Daemoned": set(), "AnySucceeded": {Phase.Succeeded}, "AllFailed": {Phase.Failed}}  # fmt: skip


def continues_on(task: dict[str, Any], phase: str) -> bool:
    """Whether the task's ``continueOn`` lets the DAG go on past it ending in ``phase``."""
    key = {Phase.Failed: "failed", Phase.Error: "error"}.get(phase)
    return bool(key and (task.get("continueOn") or {}).get(key))


def ready(run: Any, tasks: dict, graph: dict[str, set[str]], fail_fast: bool) -> list[str]:
    """Pending tasks whose dependencies are done; decides Omitted and Skipped on the way.

    ``fail_fast`` does not stop them: in Argo's dag.go, executeDAG runs executeDAGTask for every target (creating
    each task whose dependencies are fulfilled) before assessDAGPhase, and only assessDAGPhase reads
    ``DAG.FailFast``; a maintainer on argoproj/argo-workflows#5227 (fix for #5223, closed unmerged): "as long
    as a node is running new nodes will be able to be created". The DAG still fails once all is done (assess)."""
    del fail_fast  # kept for the callers; Argo reads failFast only when assessing the DAG's phase
    if run.stopping.is_set():
        return []
    startable = []
    for name, task in tasks.items():
        node = run.record.nodes[name]
        hooking = run.hook_state.hooking  # a dependency whose hooks still run is not done (hooks.py)
        if node.phase != Phase.Pending or any(
            run.record.nodes[d].phase not in DONE or run.record.nodes[d].name in hooking
            for d in graph[name]
            if d in tasks
        ):
            continue
        if not depends_met(run, task, tasks):
            node.phase, node.message = Phase.Omitted, "omitted: depends condition not met"
            continue
        try:
            # a looped task's when is its items' (dag.go executeDAGTask evaluates each expanded task's)
            when = (
                substitute(task["when"], task_scope(run))
                if task.get("when") and not is_looped(task)
                else None
            )
            if when is not None and not when_holds(when):
                node.phase, node.message = Phase.Skipped, f"when '{when}' evaluated false"
                continue
        except ExpressionError as exc:
            node.phase, node.message = Phase.Error, str(exc)
            continue
        startable.append(name)
    return startable


def when_holds(when: str) -> bool:
    """A substituted ``when``, as steps.go ``shouldExecute`` reads it: bare words are strings, the result a bool."""
    result = evaluate(when, {}.__getitem__, bare_words_are_strings=True)
    if not isinstance(result, bool):
        raise ExpressionError(f"Expected boolean evaluation for '{when}'. Got {go_text(result)}")
    return result


def depends_met(run: Any, task: dict, tasks: dict) -> bool:
    """The task's ``depends`` (or ``dependencies``, all of them) over its dependencies' phases."""
    expression = task.get("depends") or " && ".join(task.get("dependencies") or [])
    if not expression:
        return True

    def resolve(name: str) -> bool:
        task_name, _, result = name.partition(".")
        if task_name not in tasks:
            raise KeyError(name)
        phase = run.record.nodes[task_name].phase
        if not result:
            return phase in (Phase.Succeeded, Phase.Skipped) or continues_on(tasks[task_name], phase)
        if result not in RESULTS:
            raise KeyError(name)
        children = [
            run.record.nodes[c].phase for c in run.record.nodes[task_name].children if c in run.record.nodes
        ]
        if result in ("AnySucceeded", "AllFailed") and children:  # dag.go evaluateDependsLogic, a task group
            return (
                Phase.Succeeded in children if result == "AnySucceeded" else set(children) == {Phase.Failed}
            )
        return phase in RESULTS[result]

    return bool(evaluate(expression, resolve))


def assess(run: Any, tasks: dict, graph: dict[str, set[str]]) -> str:
    """The DAG's phase from its leaf tasks; an unfinished task inherits its parents' failure.

    A failed DAG's record gets the message naming its first failed task, unless it has one."""
    branch: dict[str, str] = {}

    def phase_of(name: str) -> str:
        if name not in branch:
            node = run.record.nodes[name]
            if node.phase in {Phase.Succeeded, Phase.Failed, Phase.Error, Phase.Skipped}:
                branch[name] = node.phase
            else:
                parents = [phase_of(p) for p in graph[name] if p in tasks]
                branch[name] = next((p for p in parents if p in FAILED), Phase.Succeeded)
        return branch[name]

    leaves = [name for name in tasks if not any(name in deps for deps in graph.values())]
    for leaf in leaves:
        phase = phase_of(leaf)
        if phase in FAILED and not continues_on(tasks[leaf], phase):
            culprit = next((n for n, node in run.record.nodes.items() if node.phase in FAILED), leaf)
            run.record.message = (
                run.record.message or f"task '{culprit}' {run.record.nodes[culprit].phase.lower()}"
            )
            return phase
    return Phase.Succeeded


def task_scope(run: Any) -> dict[str, str]:
    """The DAG's scope: the run's, the entrypoint's inputs, and each task's ``tasks.<name>.*``.

    A task's ``status``, its output parameters, and from its last attempt ``outputs.result`` and
    ``outputs.exitCode`` (controller.go ``addOutputsToLocalScope``). A Skipped or Omitted task's declared
    output parameters are their ``valueFrom.default``, or absent optionals (scope.go ``addSkippedNodeOutputsToScope``)."""
    scope = {**run.scope, **run.entry_inputs, "workflow.duration": workflow_duration(run.record.started_at)}
    # a resumed run's global artifacts (a nested DAG's view has none of its own: run.scope holds them)
    for name, record in getattr(run.record, "artifacts", {}).items():
        scope[artifacts.GLOBAL + name] = json.dumps(record)
    for name, node in run.record.nodes.items():
        node_scope(run, node, f"tasks.{name}", scope)
    return scope


def workflow_duration(started_at: str) -> str:
    """``workflow.duration``: seconds since the workflow started, as ``%f`` (operator.go ``operate`` sets it
    on each pass from ``status.startedAt``, a whole second; ``0.000000`` before it starts)."""
    if not started_at:
        return f"{0:.6f}"
    began = datetime.strptime(started_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return f"{(datetime.now(UTC) - began).total_seconds():.6f}"


def node_scope(run: Any, node: Any, prefix: str, scope: dict[str, str]) -> None:
    """One node's ``<prefix>.status`` and outputs in ``scope`` (a task's ``tasks.X``, a step's ``steps.X``)."""
    scope[f"{prefix}.status"] = node.phase
    if node.children:  # a looped task: its items' outputs as JSON lists
        aggregate(run, node, prefix, scope)
    for key, value in node.outputs.items():
        scope[f"{prefix}.outputs.parameters.{key}"] = value
    last = node.attempts[-1] if node.attempts else None
    if last is not None and last.result is not None:
        scope[f"{prefix}.outputs.result"] = last.result
    if last is not None and last.exit_code is not None:
        scope[f"{prefix}.outputs.exitCode"] = str(last.exit_code)
    if last is not None and last.artifacts:
        artifacts.scope_of(prefix, last.artifacts, scope)  # what a later ``from`` reads
    if node.phase in (Phase.Skipped, Phase.Omitted) and not node.outputs:
        declared = (run.templates.get(node.template, {}).get("outputs") or {}).get("parameters") or []
        for parameter in declared:
            default = (parameter.get("valueFrom") or {}).get("default")
            key = f"{prefix}.outputs.parameters.{parameter['name']}"
            scope[key] = ABSENT if default is None else str(default)


def entry_inputs(run: Any) -> dict[str, str]:
    """The entrypoint's ``inputs.parameters``, given by the workflow's arguments of the same name, else their
    value or default: Argo runs the entrypoint with ``spec.arguments`` as its arguments (operator.go)."""
    entry = run.templates.get(run.spec.get("entrypoint")) or {}
    values = {}
    for parameter in (entry.get("inputs") or {}).get("parameters") or []:
        key = parameter["name"]
        if key in run.record.parameters:
            raw = run.record.parameters[key]
        elif "value" in parameter or "default" in parameter:
            raw = parameter.get("value", parameter.get("default"))
        else:  # common.ProcessArgs' words
            raise BadInput(
                f"template '{entry['name']}': inputs.parameters.{key} was not supplied; "
                "declare it in spec.arguments.parameters or give it a default"
            )
        try:
            values[f"inputs.parameters.{key}"] = str(substitute(str(raw), run.scope))
        except ExpressionError as exc:
            raise BadInput(f"template '{entry['name']}': inputs.parameters.{key}: {exc}") from None
    return values


def result_readers(run: Any) -> set[str]:
    """The tasks whose stdout is kept as ``outputs.result``: those the DAG refers to, as Argo's controller
    tells the executor to capture it only then (``hasOutputResultRef``; ``HasOutputRef`` for expression tags)."""
    text = json.dumps((run.templates.get(run.spec.get("entrypoint")) or {}).get("dag") or {})
    return {name for name in re.findall(r"tasks\.([\w-]+)\.outputs\.result\b", text)}


def task_inputs(run: Any, task: dict, template: dict, scope: dict[str, str]) -> dict[str, str]:
    """The scope a task's template runs with: the run's, plus its inputs from the task's arguments, else their
    value or default (common.ProcessArgs). An argument that is only a reference to an absent optional gives
    way to the input's own default (controller/scope.go ``dropSkippedDefaultedArgs``)."""
    given = {p["name"]: p.get("value", "") for p in (task.get("arguments") or {}).get("parameters") or []}
    duration = workflow_duration(run.record.started_at)  # a global parameter, as of now
    values = {**run.scope, "workflow.duration": duration}
    for parameter in (template.get("inputs") or {}).get("parameters") or []:
        key = parameter["name"]
        reference = pure_reference(str(given.get(key, "")))
        if "default" in parameter and reference is not None and isinstance(scope.get(reference), Absent):
            given.pop(key)
        if key in given:
            raw = given[key]
        elif "value" in parameter or "default" in parameter:
            raw = parameter.get("value", parameter.get("default"))
        else:
            raise ExpressionError(
                f"input parameter '{key}' of template '{template['name']}' was not supplied"
            )
        values[f"inputs.parameters.{key}"] = str(substitute(str(raw), scope))
    values.update(artifacts.input_sources(run, task, template, scope))  # inputs.artifacts.X and its .path
    return values


def parallelism_of(spec: dict[str, Any], templates: dict[str, dict], parallelism: int) -> int:
    """How many tasks (and loop items) run at once: the run's ``parallelism``, the workflow's, and the dag
    template's (docs/fields.md, Template.parallelism: the most pods at once within the template's invocation)."""
    dag_limit = (templates.get(spec.get("entrypoint")) or {}).get("parallelism") or parallelism
    return max(1, min(parallelism, int(dag_limit), int(spec.get("parallelism") or parallelism)))
