"""The DAG's decisions, as Argo's ``dag.go`` makes them, read off a run's record.

Which pending tasks start (their dependencies done, ``depends``/``dependencies`` met, ``when`` true;
the rest become ``Omitted`` or ``Skipped``), whether a failure stops a ``failFast`` DAG, the DAG's
phase from its leaf tasks (``assessDAGPhase``: an unfinished task inherits its parents' failure),
and the scope a task's ``{{tasks.*}}`` tags read. ``continueOn`` is one rule, ``continues_on``.
Each function takes the run (``run.record``, and for ``ready`` its ``stopping`` event and scope).
"""

from __future__ import annotations

import re
from typing import Any

from workflows.argo.expressions import ExpressionError, evaluate
from workflows.local.record import DONE, FAILED, Phase
from workflows.local.substitution import substitute

# What a dependency's result in ``depends`` (``task.Failed``) means in node phases (Argo's ancestry.go).
RESULTS = {"Succeeded": {Phase.Succeeded}, "Failed": {Phase.Failed}, "Errored": {Phase.Error},
           "Skipped": {Phase.Skipped}, "Omitted": {Phase.Omitted}, "Completed": {Phase.Succeeded, Phase.Failed},
           "Daemoned": set(), "AnySucceeded": {Phase.Succeeded}, "AllFailed": {Phase.Failed}}  # fmt: skip


def continues_on(task: dict[str, Any], phase: str) -> bool:
    """Whether the task's ``continueOn`` lets the DAG go on past it ending in ``phase``."""
    key = {Phase.Failed: "failed", Phase.Error: "error"}.get(phase)
    return bool(key and (task.get("continueOn") or {}).get(key))


def ready(run: Any, tasks: dict, graph: dict[str, set[str]], fail_fast: bool) -> list[str]:
    """Pending tasks whose dependencies are done; decides Omitted and Skipped on the way."""
    if run.stopping.is_set() or (fail_fast and unhandled_failure(run, tasks)):
        return []
    startable = []
    for name, task in tasks.items():
        node = run.record.nodes[name]
        if node.phase != Phase.Pending or any(
            run.record.nodes[d].phase not in DONE for d in graph[name] if d in tasks
        ):
            continue
        if not depends_met(run, task, tasks):
            node.phase, node.message = Phase.Omitted, "omitted: depends condition not met"
            continue
        try:
            when = substitute(task.get("when"), task_scope(run)) if task.get("when") else None
            if when is not None and not evaluate(when, {}.__getitem__, bare_words_are_strings=True):
                node.phase, node.message = Phase.Skipped, f"when '{when}' evaluated false"
                continue
        except ExpressionError as exc:
            node.phase, node.message = Phase.Error, str(exc)
            continue
        startable.append(name)
    return startable


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
        return phase in RESULTS[result]

    return bool(evaluate(expression, resolve))


def unhandled_failure(run: Any, tasks: dict) -> bool:
    """A failed task that neither continueOn nor a dependent's depends on its failure covers."""
    for name, node in run.record.nodes.items():
        if node.phase not in FAILED:
            continue
        if continues_on(tasks[name], node.phase):
            continue
        if any(
            re.search(rf"\b{re.escape(name)}\.(Failed|Errored|Completed)\b", t.get("depends") or "")
            for t in tasks.values()
        ):
            continue
        return True
    return False


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
    """The run's scope with each task's ``tasks.<name>.status`` and output parameters."""
    scope = dict(run.scope)
    for name, node in run.record.nodes.items():
        scope[f"tasks.{name}.status"] = node.phase
        for key, value in node.outputs.items():
            scope[f"tasks.{name}.outputs.parameters.{key}"] = value
    return scope
