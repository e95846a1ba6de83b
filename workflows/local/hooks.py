"""Lifecycle hooks, as Argo's workflow/controller/hooks.go and docs/lifecyclehook.md run them.

A hook runs its template once, when its ``expression`` holds; Argo evaluates it on each reconcile and creates the
hook's node the first time it holds (``executeWfLifeCycleHook``, ``executeTmplLifeCycleHook``). Here a workflow's
hooks are evaluated as it starts (``workflow.status`` is ``Running``) and once its entrypoint has ended (its final
status, ``workflow.failures`` beside it); a task's or step's as it starts (``tasks.X.status``/``steps.X.status`` is
``Running``) and once it has ended. The expression is read after ``{{...}}`` substitution (hooks.go:
``template.Replace`` of the hook), ``tasks["X"]`` as ``tasks.X``. A hook runs beside its task; the task's dependents,
its step group and the workflow's end wait for every hook that started (dag.go ``evaluateDependsLogic``:
``CheckAllHooksFullfilled``; operator.go returns while a workflow hook is unfulfilled). A hook's phase changes neither
its task's nor the workflow's (assessDAGPhase reads the target tasks' own phases; the workflow's phase is its
entrypoint's and its exit handler's). A workflow hook's expression that cannot be evaluated errs the hook's node and
the workflow (operator.go ``markNodeError`` of the entry node); a task's or step's errs its task or step group
(``execute``). A DAG task that ends without running (Skipped, Omitted) has its hooks evaluated too (``start_unrun``).

The ``exit`` hook is an exit handler: a task's runs once the task has completed (Succeeded, Failed or Error, not
Skipped or Omitted) and its started hooks are done, as node ``<task>.onExit`` (dag.go/steps.go ``runOnExitNode``,
which also honours its ``expression``); the workflow's is ``spec.onExit``'s, which wins when both are given
(``WorkflowSpec.GetExitHook``). An exit hook without ``arguments`` gets the workflow's (``LifecycleHook.WithArgs``).
Hook nodes are named as Argo names them, ``<node>.hooks.<name>`` (``generateLifeHookNodeName``), and kept in the
record's ``hooks``; the workflow's own name is left out, as the record's task names leave it out.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workflows.argo.expressions import ExpressionError, evaluate
from workflows.local.dag import node_scope, task_scope
from workflows.local.loops import is_looped
from workflows.local.record import Node, Phase, failures, now_iso
from workflows.local.substitution import Absent, Unreadable, substitute

if TYPE_CHECKING:
    from workflows.local.executor import LocalRun

EXIT = "exit"
# NodePhase.Completed(): what an exit hook runs after (not Skipped or Omitted)
COMPLETED = {Phase.Succeeded, Phase.Failed, Phase.Error}
INDEX = re.compile(r"""\[\s*(['"])([^'"\]]+)\1\s*\]""")  # tasks["step-1"] is tasks.step-1


@dataclass
class HookState:
    """What a run's task hooks share: the tasks whose hooks still run (their dependents wait: dag.ready), the
    hook expression errors kept for a step group, and the tasks whose hooks were already evaluated."""

    hooking: set[str] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)


class Started:
    """The hooks one task (or the workflow) has started, each at most once, and the threads running them."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []
        self.error = ""  # the first hook expression that could not be evaluated

    def wait(self) -> None:
        """Until every started hook is done; an executor error in one is raised here, as the task's own would be."""
        for thread in self.threads:
            thread.join()
        if self.errors:
            raise self.errors[0]


def holds(expression: str, scope: dict[str, str]) -> bool:
    """The hook's expression over the scope (argoexpr.EvalBool: true or false, anything else is an error)."""

    def resolve(name: str) -> Any:
        value = scope.get(name)  # expr-lang reads a missing key of its environment's maps as nil
        # a Phase compares as its text
        return None if value is None or isinstance(value, (Absent, Unreadable)) else str(value)

    result = evaluate(INDEX.sub(r".\2", str(substitute(expression, scope))), resolve)
    if not isinstance(result, bool):
        raise ExpressionError(f"hook expression {expression!r} must be true or false, not {result!r}")
    return result


def launch(run: LocalRun, name: str, hook: dict, scope: dict[str, str], started: Started | None) -> None:
    """Run the hook's template as node ``name``: in a thread of its own when ``started`` keeps it, else now."""
    node = Node(name=name, template=hook["template"], phase=Phase.Running, started_at=now_iso())
    task = {"name": name, "template": hook["template"], "arguments": hook.get("arguments") or {}}
    with run.lock:
        run.record.hooks[name] = node
        run.save()
    if started is None:
        run.execute(task, name, dict(scope))
        return

    def body() -> None:
        try:
            run.execute(task, name, dict(scope))
        except BaseException as exc:  # an executor bug: raised where the task's hooks are waited for
            started.errors.append(exc)

    thread = threading.Thread(target=body, name=f"hook-{name}", daemon=True)
    started.threads.append(thread)
    thread.start()


def errored(run: LocalRun, name: str, hook: dict, message: str) -> None:
    """hooks.go ``errorHookNode``: a hook whose expression cannot be evaluated gets an Error node."""
    node = Node(name=name, template=hook.get("template", ""), phase=Phase.Error, message=message)
    node.finished_at = now_iso()
    with run.lock:
        run.record.hooks[name] = node
        run.save()


def fire(
    run: LocalRun, hooks: dict, prefix: str, scope: dict[str, str], started: Started, mark: bool = True
) -> str:
    """Start each named hook whose expression holds and has not started; the first expression error, else ''.
    ``mark=False`` (a task's hooks): an expression error gets no hook node (v3.6/3.7 hooks.go returns it)."""
    error = ""
    for hook_name, hook in hooks.items():
        name = f"{prefix}hooks.{hook_name}"
        if hook_name == EXIT or name in started.names:
            continue
        try:
            if not holds(hook.get("expression", ""), scope):
                continue
        except ExpressionError as exc:
            started.names.add(name)
            if mark:
                errored(run, name, hook, str(exc))
            error = error or f"{name}: {exc}"
            continue
        started.names.add(name)
        launch(run, name, hook, scope, started)
    return error


# ---- the workflow's hooks ----------------------------------------------------------------------------------------


def workflow_scope(run: LocalRun, status: str) -> dict[str, str]:
    """What a workflow hook reads: the run's scope with ``workflow.status`` and ``workflow.failures``."""
    return {
        **task_scope(run),
        "workflow.status": status,
        "workflow.failures": json.dumps(failures(run.record)),
    }


def start_workflow(run: LocalRun) -> Started:
    """The workflow's hooks that hold while it runs, started beside its entrypoint."""
    started = Started()
    hooks = run.spec.get("hooks") or {}
    if any(name != EXIT for name in hooks):
        # v3.6/3.7 executeWfLifeCycleHook returns EvalBool's error before any hook node exists
        started.error = fire(run, hooks, "", workflow_scope(run, Phase.Running), started, mark=False)
    return started


def end_workflow(run: LocalRun, started: Started) -> None:
    """Once the entrypoint has ended: the hooks that hold for its status, then wait for every one started."""
    hooks = run.spec.get("hooks") or {}
    if any(name != EXIT for name in hooks):
        ended = workflow_scope(run, run.record.phase)
        started.error = started.error or fire(run, hooks, "", ended, started, mark=False)
    started.wait()
    if started.error:  # operator.go marks the entry node Error with it: the workflow is Error
        run.record.phase, run.record.message = Phase.Error, started.error


def exit_task(run: LocalRun) -> dict[str, Any] | None:
    """The workflow's exit handler as a task: ``spec.onExit``, else ``spec.hooks.exit``, with its arguments."""
    hooks = run.spec.get("hooks") or {}
    hook = {"template": run.spec["onExit"]} if run.spec.get("onExit") else hooks.get(EXIT)
    if not hook:
        return None
    return {
        "name": "onExit",
        "template": hook["template"],
        "arguments": hook.get("arguments") or workflow_arguments(run),
    }


def start_exit_handler(run: LocalRun, handler: str) -> dict[str, str]:
    """The workflow's exit handler node, ``<wf>.onExit``, and the scope it runs in: the run's, with
    ``workflow.status``, ``workflow.failures`` and ``workflow.duration`` (operator.go ``operate``). A dag or steps
    handler's children are ``onExit.<task>`` / ``onExit[i].<step>``, the workflow's name left out as for every node;
    a resumed run drops the ones it kept, as util.go ``FormulateRetryWorkflow`` drops every ``<wf>.onExit*`` node."""
    for name in [name for name in run.record.nodes if name.startswith(("onExit.", "onExit["))]:
        del run.record.nodes[name]
    run.record.exit_handler = Node(name=f"{run.record.name}.onExit", template=handler, phase=Phase.Running)
    scope = workflow_scope(run, run.record.phase)
    run.scope.update({key: scope[key] for key in ("workflow.status", "workflow.failures")})  # for its steps
    return scope


def workflow_arguments(run: LocalRun) -> dict[str, Any]:
    return {"parameters": [{"name": key, "value": value} for key, value in run.record.parameters.items()]}


# ---- a task's or a step's hooks ----------------------------------------------------------------------------------


def reference(node_name: str) -> str:
    """How the hook's expression names its task: ``steps.<step>`` under a step group (``…[i].<step>``), else
    ``tasks.<task>`` (the last part of a nested task's ``outer.inner``)."""
    head, dot, own = node_name.rpartition(".")
    if not dot:
        return f"tasks.{node_name}"
    return f"steps.{own}" if head.endswith("]") else f"tasks.{own}"


def execute(
    run: LocalRun,
    task: dict,
    node_name: str | None = None,
    scope: dict[str, str] | None = None,
    ran: bool = True,
) -> None:
    """Run a task or step (``LocalRun.execute``) with its hooks: started as it starts and as it ends, each once;
    then, once they are done and the task has completed, its exit hook. Its node stays in ``run.hook_state.hooking`` (its
    dependents wait) until all of them are done. ``ran=False``: a DAG task that ended without running (unrun).

    A hook expression that cannot be evaluated (Argo v3.6/3.7 hooks.go returns EvalBool's error, no hook node)
    errs the task's node in a DAG (dag.go executeDAGTask ``markNodeError(node.Name, err)``) and the step group of
    a step (steps.go executeStepGroup ``markNodeError(node.Name, err)``, read by steps_template.run_group); either
    returns before ``runOnExitNode``, so the task's exit hook does not run."""
    hooks = task.get("hooks") or ({EXIT: {"template": task["onExit"]}} if task.get("onExit") else {})
    if not hooks:
        if ran:
            run.execute(task, node_name, scope)
        return
    name = node_name or task["name"]
    node, started = run.record.nodes[name], Started()

    def now() -> dict[str, str]:
        current = dict(scope) if scope is not None else task_scope(run)
        # its own status and outputs, as the scope of hooks.go holds them
        node_scope(run, node, reference(name), current)
        return current

    with run.lock:
        run.hook_state.hooking.add(name)  # read by dag.ready: its dependents wait
    try:
        error = fire(run, hooks, f"{name}.", now(), started, mark=False)
        if ran:
            run.execute(task, node_name, scope)
            error = error or fire(run, hooks, f"{name}.", now(), started, mark=False)
        started.wait()
        if error:
            hook_error(run, name, node, error)
            return
        exit_hook = hooks.get(EXIT)
        if exit_hook and node.phase in COMPLETED:
            run_exit_hook(run, name, exit_hook, now())
    finally:
        with run.lock:
            run.hook_state.hooking.discard(name)


def run_exit_hook(run: LocalRun, name: str, hook: dict, scope: dict[str, str]) -> None:
    """The task's exit hook, node ``<task>.onExit``, when its expression (if any) holds."""
    try:
        if hook.get("expression") and not holds(hook["expression"], scope):
            return
    except ExpressionError as exc:
        errored(run, f"{name}.onExit", hook, str(exc))
        return
    arguments = hook.get("arguments") or workflow_arguments(run)  # LifecycleHook.WithArgs
    launch(run, f"{name}.onExit", {**hook, "arguments": arguments}, scope, None)


def hook_error(run: LocalRun, name: str, node: Node, error: str) -> None:
    """A task's hook expression error: its node Error (dag.go), or kept for its step group (steps.go)."""
    with run.lock:
        if reference(name).startswith("steps."):
            run.hook_state.errors[name] = error
        else:
            node.phase, node.message, node.finished_at = Phase.Error, error, now_iso()
            run.save()


def group_error(run: LocalRun, children: list[str]) -> str:
    """The first hook expression error of a step group's steps, '' when none (steps.go errs the group)."""
    errors = run.hook_state.errors
    return next((errors.pop(child) for child in children if child in errors), "")


# dag.go executeDAGTask evaluates a task's hooks whenever its node is fulfilled, so also when it never ran
UNRUN = {Phase.Skipped, Phase.Omitted, Phase.Error}


def start_unrun(
    run: LocalRun, pool, running: dict, tasks: dict, nodes, scope: dict[str, str] | None = None
) -> None:
    """Start the hooks of each DAG task that ended Skipped, Omitted or Error without running (``tasks.A.status ==
    "Skipped"`` fires; dag.go executeDAGTask runs executeTmplLifeCycleHook, then runOnExitNode once Completed),
    each task once. A task seen Running runs its hooks in ``execute``; a looped task's only when Skipped or Omitted.
    Steps are not swept: steps.go reads a step's hooks from ``nodeSteps``, which holds only the steps it ran.
    Called under the run's lock, after the ready tasks started."""
    seen = run.hook_state.seen
    for short, task in tasks.items():
        node = nodes[short]
        if node.name in seen or node.phase == Phase.Pending or not (task.get("hooks") or task.get("onExit")):
            continue
        seen.add(node.name)
        if node.phase in UNRUN and not (is_looped(task) and node.phase == Phase.Error):
            running[pool.submit(execute, run, {**task, "name": node.name}, None, scope, False)] = short
