"""The local executor: runs a compiled Workflow or WorkflowTemplate on this machine, faithfully.

Each DAG task is a subprocess of its template's command and args after ``{{...}}`` substitution,
with the template's env, in this project's Python, with its own outputs folder. Implemented as
Argo does it: ``depends``/``dependencies`` (``.Succeeded .Failed .Errored .Skipped .Omitted``,
``&& || !``), ``when``, ``retryStrategy`` (``limit``, ``retryPolicy``, ``backoff``
``duration/factor/maxDuration``, ``expression`` over ``lastRetry``), ``continueOn``,
``activeDeadlineSeconds`` of templates and of the workflow (the process group is killed),
``failFast``, ``onExit`` (a dag or steps template too) with ``{{workflow.status}}``, ``{{workflow.failures}}``
and ``{{workflow.duration}}``, the DAG's
phase from its leaf tasks (an omitted task inherits its parents' failure, as in Argo's
``assessDAGPhase``), ``synchronization.mutexes`` (a file lock), parallel tasks up to ``parallelism``,
the entrypoint's inputs from ``spec.arguments``, ``outputs.result``/``outputs.exitCode``, and a skipped
task's outputs as their defaults. An internal error ends the run as ``Error``, its record saved. A ``steps``
entrypoint (``steps_template``) and dag or steps templates nested in a task or step (``nested``) run too.

What only a cluster can honour (image, resources, nodeSelector, tolerations, serviceAccountName,
podGC, ttlStrategy, security contexts) is accepted and not applied; ``podSpecPatch`` is
substituted and recorded per attempt; ``envFrom`` ConfigMaps and Secrets are this process's
environment, and the keys an ``env`` ``valueFrom`` or a ``configMap``/``secret`` volume reads are files under
``MLOPS_LOCAL_CONFIG_DIR`` (``config_sources``). Any other feature is refused before anything starts, by name.

This module holds the run: scheduling, retries, the exit handler, the record's saving. The rest lies
beside it, a job each: ``preflight`` (what is supported), ``record`` (run.json), ``substitution``
(``{{...}}`` tags), ``dag`` (the DAG's decisions), ``attempt`` (one process), ``script`` (a script template's
source), ``loops`` (withItems, withSequence, withParam and fan-in), ``retry``, ``child`` (a child workflow),
``locks`` (mutexes), ``stop`` (stopping early).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from steps.errors import NOT_RETRIED, BadInput
from workflows.argo import yaml_io
from workflows.argo.expressions import ExpressionError
from workflows.argo.lint import task_dependencies
from workflows.local import entry_pod, global_outputs, hooks, loops, nested, steps_template, suspend
from workflows.local import stop as local_stop
from workflows.local.attempt import WORKFLOW_DEADLINE_MESSAGE, run_attempt
from workflows.local.composite_retry import retried_entry, strategy_of
from workflows.local.dag import (
    assess,
    entry_inputs,
    parallelism_of,
    ready,
    result_readers,
    task_inputs,
    task_scope,
)
from workflows.local.locks import FileLocks
from workflows.local.preflight import Unsupported, check_enums, check_supported
from workflows.local.record import FAILED, WORKFLOW_FILE, Attempt, Node, Phase, RunRecord, now_iso
from workflows.local.retry import retry_limit, should_retry
from workflows.local.substitution import parse_duration, substitute
from workflows.local.warm_start import WarmStarter, run_starter


class LocalRun:
    """One execution of a compiled workflow; ``run()`` returns the finished record."""

    def __init__(
        self,
        doc: dict[str, Any],
        parameters: dict[str, str],
        runs_root: str,
        parallelism: int = 4,
        previous: RunRecord | None = None,
        on_change: Callable[[LocalRun], None] | None = None,
        locks_dir: str | None = None,
        load_template: Callable[[str], dict[str, Any]] | None = None,
        warm_start: bool | WarmStarter = False,  # a starter: the caller's, shared with child runs
    ) -> None:
        check_supported(doc)
        self.warm_start, self.starter = warm_start, None
        self.doc, self.spec = doc, doc["spec"]
        self.templates = {t["name"]: t for t in self.spec.get("templates") or []}
        self.parallelism = parallelism_of(self.spec, self.templates, parallelism)
        self.on_change = on_change or (lambda run: None)
        self.locks_dir = Path(locks_dir or Path(runs_root).parent / "locks")
        self.runs_root, self.load_template = runs_root, load_template
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.processes: dict[str, subprocess.Popen] = {}
        self.deadline_hit = False
        # Stopping early (workflows.local.stop): a step starts and joins self.processes under launch_lock.
        self.launch_lock = threading.Lock()
        self.stopped_by_user = self.killed = self.in_exit_handler = False
        self.child_runs: list[LocalRun] = []
        self.item_tasks: dict[str, dict] = {}  # loop items, by node name (workflows.local.loops)
        self.hook_state = hooks.HookState()  # task hooks still running, their errors (workflows.local.hooks)
        declared = {
            p["name"]: p.get("value", p.get("default"))
            for p in (self.spec.get("arguments") or {}).get("parameters") or []
        }
        unknown = sorted(set(parameters) - set(declared))
        if unknown:
            raise BadInput(
                f"parameter {unknown[0]!r}: the workflow declares no such parameter (it has: {', '.join(declared)})"
            )
        base = doc["metadata"].get("name") or doc["metadata"].get("generateName", "run-").rstrip("-")
        if previous is not None:
            self.record = previous
            self.record.phase, self.record.message, self.record.exit_handler = Phase.Running, "", None
            # Like `argo retry -p`: a resumed run may correct a parameter; kept tasks keep their outputs.
            self.record.parameters.update({k: str(v) for k, v in parameters.items()})
        else:
            values = {**declared, **parameters}
            missing = [name for name, value in values.items() if value is None]
            if missing:
                raise BadInput(f"parameter {missing[0]!r}: required, pass -p {missing[0]}=VALUE")
            check_enums(self.spec, values)
            name = f"{base}-{secrets.token_hex(3)[:5]}"
            self.record = RunRecord(
                name=name,
                uid=str(uuid.uuid4()),
                template=base,
                creation_timestamp=now_iso(),
                parameters={k: str(v) for k, v in values.items()},
                run_dir=str(Path(runs_root) / name),
            )
        self.run_dir = Path(self.record.run_dir)
        self.scope = {
            "workflow.name": self.record.name,
            "workflow.uid": self.record.uid,
            "workflow.namespace": doc["metadata"].get("namespace", "default"),
            "workflow.creationTimestamp": self.record.creation_timestamp,
            "workflow.serviceAccountName": self.spec.get("serviceAccountName", "default"),
            **{f"workflow.parameters.{k}": v for k, v in self.record.parameters.items()},
            **global_outputs.scope_of(self.record),
        }
        self.entry_inputs = entry_inputs(self)
        self.capture_results = result_readers(self)

    # ---- the DAG -------------------------------------------------------------------------

    def dag(self) -> dict[str, Any]:
        entry = self.templates.get(self.spec.get("entrypoint"))
        if entry is None or "dag" not in entry:
            raise Unsupported(
                "spec.entrypoint: the local executor runs a workflow whose entrypoint is a dag template"
            )
        return entry["dag"]

    def run(self) -> RunRecord:
        entry = self.templates.get(self.spec.get("entrypoint")) or {}
        if nested.is_nested(entry) and strategy_of(self, entry):  # a Retry node: its runs (0), (1)...
            body = lambda: retried_entry(self, entry)  # noqa: E731
        elif "steps" in entry:  # a steps entrypoint (workflows.local.steps_template)
            body: Callable[[], str] = lambda: steps_template.run_entry(self, entry)  # noqa: E731
        elif "dag" not in entry:  # a container, script, resource or suspend entrypoint (entry_pod)
            body = lambda: entry_pod.run_entry(self, entry)  # noqa: E731
        else:
            tasks = {t["name"]: t for t in self.dag().get("tasks") or []}
            graph = {name: task_dependencies(task) for name, task in tasks.items()}
            loops.prepare_resume(self, tasks)
            for name, task in tasks.items():
                node = self.record.nodes.get(name)
                if node is None or node.phase != Phase.Succeeded:
                    self.record.nodes[name] = Node(name=name, template=task["template"])
                else:
                    node.reused = True
            body = lambda: self.run_dag(tasks, graph, self.dag().get("failFast", True))  # noqa: E731
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.keep_workflow()
            self.record.started_at = self.record.started_at or now_iso()
            self.execute_body(body)
        except Exception as exc:  # an executor bug: the run ends as Error, never left Running (DESIGN.md 13)
            self.internal_error(exc)
        with self.lock:
            self.record.finished_at = now_iso()
            self.save()
        return self.record

    def run_dag(self, tasks: dict, graph: dict[str, set[str]], fail_fast: bool) -> str:
        self.schedule(tasks, graph, fail_fast)
        local_stop.settle_unstarted(self, tasks, graph)
        loops.settle(self, tasks, stopped=True)
        return assess(self, tasks, graph)

    def execute_body(self, body: Callable[[], str]) -> None:
        """Run the entrypoint's body under the mutexes and the workflow's deadline, then the exit handler."""
        with self.mutexes(), run_starter(self):
            self.save()
            deadline = self.spec.get("activeDeadlineSeconds")
            timer = threading.Timer(float(deadline), self.workflow_deadline) if deadline else None
            if timer:
                timer.daemon = True
                timer.start()
            try:
                started, self.record.phase = hooks.start_workflow(self), body()
            finally:
                if timer:
                    timer.cancel()
            if self.deadline_hit:
                self.record.phase, self.record.message = Phase.Failed, WORKFLOW_DEADLINE_MESSAGE
            with self.lock:
                self.in_exit_handler = True
                if self.stopped_by_user:  # as Argo's shutdown: the DAG fails, whatever its tasks did
                    self.record.phase, self.record.message = Phase.Failed, local_stop.STOP_MESSAGE
            hooks.end_workflow(self, started)
            self.run_exit_handler()

    def internal_error(self, exc: Exception) -> None:
        """End the run as Error with the exception's one line; what was running is stopped and recorded."""
        self.stop_processes()
        line = (str(exc).strip().splitlines() or [""])[0]
        message = f"internal error of the local executor: {type(exc).__name__}: {line}"
        with self.lock:
            for node in [*self.record.nodes.values(), *self.record.hooks.values(), self.record.exit_handler]:
                if node is not None and node.phase == Phase.Running:
                    node.phase, node.message = Phase.Error, message
                if node is not None and node.phase == Phase.Pending:  # never started: Omitted, as failFast
                    node.phase, node.message = Phase.Omitted, f"omitted: {message}"
            self.record.phase, self.record.message = Phase.Error, message

    def keep_workflow(self) -> None:
        """The workflow as this run executes it, beside its record (as Argo keeps a Workflow's spec);
        a resumed run reads it back, so it resumes what it ran."""
        path = self.run_dir / WORKFLOW_FILE
        if not path.exists():
            partial = path.with_suffix(".partial")
            partial.write_text(yaml_io.dump(self.doc))
            partial.replace(path)  # whole or absent

    def schedule(self, tasks: dict, graph: dict[str, set[str]], fail_fast: bool) -> None:
        """Start each task once it is ready, up to parallelism, until none runs; a task's exception is raised here."""
        running: dict[Future, str] = {}
        with ThreadPoolExecutor(max_workers=self.parallelism, thread_name_prefix="task") as pool:
            try:
                while True:
                    with self.lock:
                        expanded = self.start_ready(pool, running, tasks, graph, fail_fast)
                        self.save()
                    if not running:
                        if expanded:  # a group settled at once (empty, or all its items skipped): look again
                            continue
                        return
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        running.pop(future)
                        future.result()
            except BaseException:
                self.stop_processes()  # what still runs is stopped before the pool waits for it
                raise

    def start_ready(self, pool, running: dict[Future, str], tasks, graph, fail_fast: bool) -> bool:
        """Start the ready tasks and loop items up to parallelism; True when a looped task expanded."""
        loops.settle(self, tasks)
        expanded = False
        for name in ready(self, tasks, graph, fail_fast):
            if loops.is_looped(tasks[name]):  # a task group: its items start below
                loops.expand(self, tasks[name])
                expanded = True
            elif len(running) < self.parallelism:
                self.record.nodes[name].phase = Phase.Running
                running[pool.submit(hooks.execute, self, tasks[name])] = name  # with its lifecycle hooks
        hooks.start_unrun(self, pool, running, tasks, self.record.nodes)  # a Skipped/Omitted task's hooks
        for name in loops.ready_items(self, tasks) if not self.stopping.is_set() else []:
            if len(running) >= self.parallelism:
                break
            self.record.nodes[name].phase = Phase.Running
            running[pool.submit(self.execute, self.item_tasks[name])] = name
        return expanded

    # ---- one task --------------------------------------------------------------------------

    def execute(
        self, task: dict[str, Any], node_name: str | None = None, scope: dict[str, str] | None = None
    ) -> None:
        """Run a task's template with retries; the node's record says how it went."""
        name = node_name or task["name"]  # a task's, an item's (``task(0:a)``), or the exit handler's
        kept = {"onExit": self.record.exit_handler, **self.record.hooks}  # the exit handler, hooks
        node = kept.get(node_name) or self.record.nodes[name]
        template = self.templates[task["template"]]
        if nested.is_nested(template):  # a dag or steps template as a task or step (workflows.local.nested)
            nested.run_nested(self, task, node, template, scope or task_scope(self))
            return
        try:
            inputs = task_inputs(self, task, template, scope or task_scope(self))
        except ExpressionError as exc:
            self.finish(node, Phase.Error, str(exc))
            return
        if self.stopping.is_set() and self.stopped_by_user and not self.in_exit_handler:
            # Scheduled as the stop came: never started, as Argo creates no pod once shut down.
            self.finish(node, Phase.Failed, local_stop.NODE_NOT_STARTED)
            return
        if "suspend" in template:  # waits its duration, or until stopped (workflows.local.suspend)
            return suspend.run_suspend(self, node, template, inputs)
        node.started_at = now_iso()
        # operator.go retryStrategy(): the template's own, else the workflow's spec.retryStrategy
        strategy = template.get("retryStrategy", self.spec.get("retryStrategy")) or {}
        limit = retry_limit(strategy, inputs)  # intstr's message when no integer: a retry errors (retry.py)
        backoff = strategy.get("backoff") or {}
        first_start = time.monotonic()
        for number in range(limit + 1 if isinstance(limit, int) else 2):
            attempt, outputs = run_attempt(self, node, template, {**inputs, "retries": str(number)}, number)
            if attempt.phase == Phase.Succeeded:
                node.outputs = outputs
                self.finish(node, Phase.Succeeded, attempt.message, first_start)  # a step's note: "cached"
                return
            with self.lock:
                self.save()
            try:
                last = number == limit or self.stopping.is_set()
                if last or not self.should_retry(strategy, attempt, limit):
                    break
            except ExpressionError as exc:  # processNodeRetries' error marks the node Error
                self.finish(node, Phase.Error, str(exc), first_start)
                return
            wait_for = parse_duration(backoff.get("duration", 0)) * float(backoff.get("factor", 1)) ** number
            if backoff.get("cap"):  # operator.go processNodeRetries: no wait longer than the cap
                wait_for = min(wait_for, parse_duration(backoff["cap"]))
            max_duration = backoff.get("maxDuration")
            if max_duration and time.monotonic() - first_start + wait_for > parse_duration(max_duration):
                attempt.message += "; backoff maxDuration reached"
                break
            if self.wait_backoff(wait_for):
                break
        node.outputs = outputs  # a failed pod's saved outputs are its node's too (executor.go SaveParameters)
        self.finish(node, node.attempts[-1].phase, node.attempts[-1].message, first_start)

    def wait_backoff(self, seconds: float) -> bool:
        """Sleep a retry's backoff; True when the run is being stopped meanwhile."""
        return self.stopping.wait(seconds)

    def finish(self, node: Node, phase: str, message: str, started: float | None = None) -> None:
        with self.lock:
            node.phase, node.message, node.finished_at = phase, message, now_iso()
            global_outputs.export(self, node)  # a globalName output becomes {{workflow.outputs.parameters.X}}
            if started is not None:
                node.duration_seconds = round(time.monotonic() - started, 3)
            self.save()

    def should_retry(self, strategy: dict, attempt: Attempt, limit: int | str = 0) -> bool:
        return should_retry(strategy, attempt, limit)

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        local_stop.kill_process(process)

    def workflow_deadline(self) -> None:
        with self.lock:
            self.deadline_hit = True
        self.stop_processes()

    def stop_processes(self) -> None:
        with self.lock:
            self.stopping.set()
            for process in list(self.processes.values()):
                self.kill(process)

    # ---- the end -----------------------------------------------------------------------------

    def run_exit_handler(self) -> None:
        handler = (hooks.exit_task(self) or {}).get("template")  # spec.onExit, else spec.hooks.exit
        if not handler:
            return
        self.stopping.clear()
        scope = hooks.start_exit_handler(self, handler)  # its node, and workflow.status/failures/duration
        self.save()
        self.execute(hooks.exit_task(self), node_name="onExit", scope=scope)  # with its arguments
        exit_node = self.record.exit_handler
        if exit_node.phase in FAILED and self.record.phase == Phase.Succeeded:
            # operator.go: a succeeded workflow takes its exit node's phase (Failed, else Error) and message
            failed = exit_node.phase == Phase.Failed
            self.record.phase = Phase.Failed if failed else Phase.Error
            self.record.message = exit_node.message or f"exit handler {handler} {exit_node.phase.lower()}"

    def save(self) -> None:
        """Write run.json atomically, then tell the progress view."""
        target = self.run_dir / "run.json"
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.record.to_json(), indent=2, default=str))
        tmp.replace(target)
        self.on_change(self)

    def mutexes(self):
        names = [
            substitute(m["name"], self.scope)
            for m in (self.spec.get("synchronization") or {}).get("mutexes") or []
        ]
        return FileLocks(self.locks_dir, names)

    def exit_code(self) -> int:
        """0 on success; else the contract code of the first failure that has one, else 1."""
        if self.record.phase == Phase.Succeeded:
            return 0
        for node in self.record.nodes.values():
            if node.phase in FAILED and node.attempts and node.attempts[-1].exit_code in (*NOT_RETRIED, 75):
                return int(node.attempts[-1].exit_code)
        return 1
