"""Loops on DAG tasks as Argo runs them: ``withItems``, ``withSequence``, ``withParam``.

A looped task is a task group node (its name the task's) whose children are one node per item, named
as Argo names them: ``task(0:value)``, for a map ``task(0:key1:v1,key2:v2)`` with the pairs sorted
(workflow/controller/steps.go ``processItem``, ``generateNodeName``). The group is expanded once its
dependencies are met: ``withParam`` and ``withSequence`` are substituted first (dag.go
``resolveDependencyReferences`` then ``expandTask``), each item's ``when`` is evaluated with the item in it
(an item is ``Skipped`` on its own), an empty list makes the group ``Skipped`` with the message "Skipped,
empty params" (dag.go executeDAGTask; test/e2e/functional_test.go TestLoopEmptyParam). Once every item is
done the group is ``Succeeded``, or the phase of its last failed item (dag.go executeDAGTask: ``groupPhase``).

Fan-in (operator.go ``processAggregateNodeOutputs``): ``tasks.X.outputs.result`` is the JSON list of the
Succeeded items' results, each read as JSON, in item order; ``tasks.X.outputs.parameters.p`` the JSON list
of their values (``aggregatedJSONValueList``: the values themselves when every one is a JSON list or object,
else the strings), and ``tasks.X.outputs.parameters`` the list of each item's parameters as an object.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from workflows.argo.expressions import ExpressionError
from workflows.local.record import DONE, FAILED, Node, Phase, now_iso
from workflows.local.substitution import TAG, go_text, substitute, unreadable

if TYPE_CHECKING:
    from workflows.local.executor import LocalRun

LOOP_KEYS = ("withItems", "withParam", "withSequence")
EMPTY_MESSAGE = (
    "Skipped, empty params"  # dag.go executeDAGTask, for an empty withItems/withParam/withSequence
)


def is_looped(task: dict[str, Any]) -> bool:
    """DAGTask.ShouldExpand: any of withItems, withParam, withSequence."""
    return any(task.get(key) not in (None, "", []) for key in LOOP_KEYS)


def task_of(node_name: str) -> str:
    """The task a node belongs to: ``fan(1:b)`` is task ``fan``'s item (a task name has no '(')."""
    return node_name.split("(", 1)[0]


def file_name(node_name: str) -> str:
    """A node's name as a file or folder name: an item's value may hold a '/'."""
    return node_name.replace("/", "_").replace("\0", "_")


def go_json(value: Any) -> str:
    """Go's ``json.Marshal``: compact, map keys sorted, and <, >, & escaped as \\u003c, \\u003e, \\u0026."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def item_text(value: Any) -> str:
    """An item as ``%v`` writes it (Item.String): a string bare, anything else as its JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return go_text(value)
    return go_json(value)


def item_tags(item: Any) -> tuple[dict[str, str], str]:
    """The ``{{item...}}`` tags an item gives and the description in its node name (processItem)."""
    if isinstance(item, dict):
        tags = {f"item.{key}": item_text(value) for key, value in item.items()}
        tags["item"] = go_json(item)
        return tags, ",".join(sorted(f"{key}:{item_text(value)}" for key, value in item.items()))
    if isinstance(item, list):
        return {"item": go_json(item)}, go_json(item)
    return {"item": item_text(item)}, item_text(item)


def with_item(value: Any, tags: dict[str, str]) -> Any:
    """``value`` with only the item's tags replaced; every other tag is left for later (allowUnresolved)."""
    if isinstance(value, dict):
        return {key: with_item(item, tags) for key, item in value.items()}
    if isinstance(value, list):
        return [with_item(item, tags) for item in value]
    if not isinstance(value, str):
        return value
    return TAG.sub(lambda match: tags.get(match.group(1).strip(), match.group(0)), value)


def expand_sequence(sequence: dict[str, Any]) -> list[str]:
    """dag.go/steps.go ``expandSequence``: start (0), end or count, each number printed with ``format`` ('%d')."""
    try:
        start = int(str(sequence.get("start", 0) or 0))
        if sequence.get("end") not in (None, ""):
            end = int(str(sequence["end"]))
        elif sequence.get("count") not in (None, ""):
            count = int(str(sequence["count"]))
            if count == 0:
                return []
            end = start + count - 1
        else:
            raise ExpressionError("neither end nor count was specified in withSequence")
    except ValueError as exc:
        raise ExpressionError(f"withSequence: {exc}") from None
    step = 1 if start <= end else -1
    fmt = sequence.get("format") or "%d"
    try:
        return [fmt % number for number in range(start, end + step, step)]
    except (TypeError, ValueError) as exc:
        raise ExpressionError(f"withSequence.format {fmt!r}: {exc}") from None


def items_of(task: dict[str, Any], scope: dict[str, str]) -> list[Any]:
    """The task's items, its withParam and withSequence substituted from ``scope`` first."""
    if task.get("withItems"):
        return list(task["withItems"])
    if task.get("withParam") not in (None, ""):
        text = substitute(str(task["withParam"]), scope)
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ExpressionError(
                f"withParam value could not be parsed as a JSON list: {text.strip()}: {exc}"
            ) from None
        if not isinstance(items, list):
            raise ExpressionError(f"withParam value could not be parsed as a JSON list: {text.strip()}")
        return items
    return expand_sequence(substitute(task["withSequence"], scope))


def expand(run: LocalRun, task: dict[str, Any], scope: dict[str, str] | None = None) -> None:
    """Start a looped task whose dependencies are met: its item nodes, or its group Skipped or Error.

    ``task["name"]`` is its group's node name (``<dag node>.<task>`` in a nested DAG, dag.go taskNodeName) and
    ``scope`` its DAG's (the entrypoint's by default). Called under the run's lock. An item node kept Succeeded
    from a resumed run is reused."""
    from workflows.local.dag import task_scope, when_holds

    group = run.record.nodes[task["name"]]
    scope = task_scope(run) if scope is None else scope
    try:
        items = items_of(task, scope)
    except ExpressionError as exc:
        finish_group(run, group, Phase.Error, str(exc))
        return
    old = {name for name in run.record.nodes if is_item_of(name, task["name"])}
    group.children, group.started_at = [], group.started_at or now_iso()
    template = {key: value for key, value in task.items() if key not in LOOP_KEYS}
    for index, item in enumerate(items):
        tags, description = item_tags(item)
        name = f"{task['name']}({index}:{description})"
        group.children.append(name)
        kept = run.record.nodes.get(name)
        if kept is not None and kept.phase == Phase.Succeeded:
            kept.reused = True
            continue
        node = run.record.nodes[name] = Node(name=name, template=task["template"])
        expanded = with_item(template, tags)
        run.item_tasks[name] = {**expanded, "name": name}
        if expanded.get("when"):
            try:
                when = substitute(expanded["when"], scope)
                if not when_holds(when):
                    node.phase, node.message = Phase.Skipped, f"when '{when}' evaluated false"
            except ExpressionError as exc:
                node.phase, node.message = Phase.Error, str(exc)
    for stale in old - set(group.children):
        run.record.nodes.pop(stale, None)
    if not items:
        finish_group(run, group, Phase.Skipped, EMPTY_MESSAGE)
        return
    group.phase = Phase.Running
    settle(run, [task["name"]])


def is_item_of(name: str, group: str) -> bool:
    """Whether node ``name`` is an item of group ``group`` (``group(0:a)``), not a node nested in an item."""
    rest = name[len(group) :] if name.startswith(group + "(") else ""
    return bool(rest) and rest.endswith(")") and ")." not in rest


def groups_of(run: LocalRun, names: Iterable[str]) -> list[Node]:
    """The running task groups among the nodes ``names`` (one DAG's tasks: each DAG starts its own items)."""
    nodes = [run.record.nodes.get(name) for name in names]
    return [group for group in nodes if group is not None and group.phase == Phase.Running and group.children]


def ready_items(run: LocalRun, names: Iterable[str]) -> list[str]:
    """The items of the running groups among ``names`` not started yet, in order."""
    return [
        name
        for group in groups_of(run, names)
        for name in group.children
        if run.record.nodes[name].phase == Phase.Pending
    ]


def settle(run: LocalRun, names: Iterable[str], stopped: bool = False) -> None:
    """Give each running group among ``names`` whose items are all done its phase; with ``stopped``, the items
    never started first get theirs (as ``stop.settle_unstarted`` gives a task's)."""
    from workflows.local import stop as local_stop

    for group in groups_of(run, names):
        if group.phase != Phase.Running or not group.children:
            continue
        items = [run.record.nodes[name] for name in group.children]
        for node in items:
            if stopped and node.phase == Phase.Pending:
                node.phase = Phase.Failed if run.stopped_by_user else Phase.Omitted
                node.message = local_stop.NODE_NOT_STARTED if run.stopped_by_user else "omitted: not started"
                node.finished_at = now_iso()
        if all(node.phase in DONE for node in items):
            phase = Phase.Succeeded
            for node in items:  # dag.go: the last failed item's phase
                if node.phase in FAILED:
                    phase = node.phase
            finish_group(run, group, phase, "")


def finish_group(run: LocalRun, group: Node, phase: str, message: str) -> None:
    group.phase, group.message, group.finished_at = phase, message, now_iso()


def aggregate(run: LocalRun, group: Node, prefix: str, scope: dict[str, str]) -> None:
    """A looped task's outputs in ``scope`` as Argo aggregates them (operator.go processAggregateNodeOutputs)."""
    items = [run.record.nodes[name] for name in group.children if name in run.record.nodes]
    if not items:
        return
    results: list[Any] = []
    parameters: list[dict[str, str]] = []
    values: dict[str, list[str]] = {}
    for node in items:
        if node.phase != Phase.Succeeded:
            continue
        if node.outputs:
            parameters.append(dict(node.outputs))
            for key, value in node.outputs.items():
                values.setdefault(key, []).append(value)
        last = node.attempts[-1] if node.attempts else None
        if last is not None and last.result is not None:
            try:
                results.append(json.loads(last.result))
            except json.JSONDecodeError as exc:
                # json.Unmarshal into an Item fails on what is not JSON: the reader errs, as Argo's does
                scope[f"{prefix}.outputs.result"] = unreadable(
                    f"the result of {node.name} is not JSON ({exc})"
                )
                break
    else:
        scope[f"{prefix}.outputs.result"] = go_json(results)
    scope[f"{prefix}.outputs.parameters"] = go_json(parameters)
    for key, listed in values.items():
        scope[f"{prefix}.outputs.parameters.{key}"] = aggregated_values(listed)


def aggregated_values(listed: list[str]) -> str:
    """operator.go ``aggregatedJSONValueList``: the values parsed when all are JSON lists or objects, else strings."""
    parsed = []
    for value in listed:
        try:
            loaded = json.loads(value)
        except json.JSONDecodeError:
            return go_json(listed)
        if not isinstance(loaded, (list, dict)):
            return go_json(listed)
        parsed.append(loaded)
    return go_json(parsed)


def prepare_resume(run: LocalRun, tasks: dict[str, dict]) -> None:
    """On ``--resume``: a looped task that did not succeed runs again, its Succeeded items kept (reused
    when it expands to them again); its other item nodes go."""
    for name in tasks:
        group = run.record.nodes.get(name)
        if group is None:
            continue
        for child in group.children:
            node = run.record.nodes.get(child)
            if node is None:
                continue
            if node.phase == Phase.Succeeded:
                node.reused = True
            elif group.phase != Phase.Succeeded:
                run.record.nodes.pop(child)
