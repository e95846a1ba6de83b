"""Argo's rules for a DAG template, as ``validateDAG`` in ``workflow/validate/validate.go`` (v4) and the
CRDs' CEL rules on DAGTask (argo-workflows#15028) check them. Task references, ``depends`` targets
and cycles are checked in ``workflows.argo.lint``; these are the rest."""

from __future__ import annotations

from typing import Any

from workflows.argo.expressions import ExpressionError, names_in
from workflows.argo.lint_templates import (
    ARGO_VARIABLE,
    Found,
    argument_values,
    dicts,
    field_names,
    hooks,
    indexed,
)

ITEM_CONDITIONS = ("AnySucceeded", "AllFailed")  # common.DependencyTypeItems


def dag_problems(dag: dict[str, Any], path: str) -> Found:
    """(path, message) for each DAG rule the template breaks."""
    tasks = dicts(dag.get("tasks"))
    if not tasks:
        yield f"{path}.tasks", "a DAG template must have at least one task"
    yield from field_names(tasks, f"{path}.tasks")
    using_depends = any(task.get("depends") for task in tasks)
    by_name = {str(task.get("name")): task for task in tasks}
    for index, task in indexed(dag.get("tasks")):
        where, name = f"{path}.tasks[{index}]", str(task.get("name") or "")
        if (using_depends or task.get("dependencies")) and name[:1] in "0123456789" and name:
            yield (
                f"{where}.name",
                f"task name '{name}' cannot begin with a digit when using either 'depends' or 'dependencies'",
            )
        if using_depends and task.get("dependencies"):
            yield (
                f"{where}.dependencies",
                "cannot use both 'depends' and 'dependencies' in the same DAG template",
            )
        if using_depends and task.get("continueOn") is not None:
            yield (
                f"{where}.continueOn",
                "cannot use 'continueOn' when using 'depends'. Instead use 'dep-task.Failed'/'dep-task.Errored'",
            )
        given = ["template"] if task.get("template") else []
        given += [key for key in ("templateRef", "inline") if task.get(key) is not None]
        if len(given) != 1:
            yield (
                where,
                f"exactly one of template, templateRef or inline must be given (given: {', '.join(given) or 'none'})",
            )
        yield from _items(task, where)
        yield from _item_conditions(task, where, by_name)
        yield from argument_values(task.get("arguments"), f"{where}.arguments", allow_empty=False)
        yield from hooks(task.get("hooks"), f"{where}.hooks")
    for target in str(dag.get("target") or "").split():
        if not ARGO_VARIABLE.search(target) and target not in by_name:
            yield f"{path}.target", f"target '{target}' is not defined"


def _has_items(task: dict[str, Any]) -> list[str]:
    given = [key for key in ("withItems", "withParam") if task.get(key)]
    return given + (["withSequence"] if task.get("withSequence") is not None else [])


def _items(task: dict[str, Any], where: str) -> Found:
    """addItemsToScope: one way to fan out, and a sequence has a count or an end."""
    if len(_has_items(task)) > 1:
        yield where, "only one of withItems, withParam, withSequence can be specified"
    sequence = task.get("withSequence")
    if isinstance(sequence, dict) and sequence.get("count") is not None and sequence.get("end") is not None:
        yield f"{where}.withSequence", "only one of count or end can be defined in withSequence"


def _item_conditions(task: dict[str, Any], where: str, by_name: dict[Any, dict[str, Any]]) -> Found:
    """An ``X.AnySucceeded``/``X.AllFailed`` condition needs X to fan out over items."""
    try:
        names = names_in(str(task.get("depends") or ""))
    except ExpressionError:
        return
    for name in names:
        dependency, _, condition = name.partition(".")
        if condition in ITEM_CONDITIONS and dependency in by_name and not _has_items(by_name[dependency]):
            yield (
                f"{where}.depends",
                f"dependency '{dependency}' uses an items-based condition such as .AnySucceeded or .AllFailed "
                "but does not contain any items",
            )


def task_dependencies(task: dict[str, Any]) -> set[str]:
    """The task names a task depends on, from ``dependencies`` or the ``depends`` expression."""
    found = set(task.get("dependencies") or [])
    if task.get("depends"):
        found |= {name.split(".")[0] for name in names_in(task["depends"])}
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle in a task -> dependencies graph, if any."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt in graph and not state.get(nxt):
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if not state.get(node):
            found = visit(node)
            if found:
                return found
    return None


def ancestors(graph: dict[str, set[str]], task: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph.get(task, ()))
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(graph.get(current, ()))
    return seen
