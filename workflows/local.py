"""The local executor: runs a compiled Workflow or WorkflowTemplate on this machine, faithfully.

Each DAG task is a subprocess of its template's command and args after ``{{...}}`` substitution,
with the template's env, in this project's Python, with its own outputs folder. Implemented as
Argo does it: ``depends``/``dependencies`` (``.Succeeded .Failed .Errored .Skipped .Omitted``,
``&& || !``), ``when``, ``retryStrategy`` (``limit``, ``retryPolicy``, ``backoff``
``duration/factor/maxDuration``, ``expression`` over ``lastRetry``), ``continueOn``,
``activeDeadlineSeconds`` of templates and of the workflow (the process group is killed),
``failFast``, ``onExit`` with ``{{workflow.status}}`` and ``{{workflow.failures}}``, the DAG's
phase from its leaf tasks (an omitted task inherits its parents' failure, as in Argo's
``assessDAGPhase``), ``synchronization.mutexes`` (a file lock), and parallel tasks up to
``parallelism``.

What only a cluster can honour (image, resources, nodeSelector, tolerations, serviceAccountName,
podGC, ttlStrategy, security contexts) is accepted and not applied; ``podSpecPatch`` is
substituted and recorded per attempt; ``envFrom`` ConfigMaps and Secrets are this process's
environment. Any other feature is refused before anything starts, by name.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from steps.errors import NOT_RETRIED, BadInput
from workflows import local_stop, yaml_io
from workflows.expressions import ExpressionError, evaluate
from workflows.lint import REFERENCE, task_dependencies
from workflows.warm_start import StarterGone, WarmProcess, WarmStarter, is_step

DONE = {"Succeeded", "Failed", "Error", "Skipped", "Omitted"}
FAILED = {"Failed", "Error"}
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
WORKFLOW_DEADLINE_MESSAGE = "Max duration limit exceeded"
WORKFLOW_FILE = "workflow.yaml"  # in the run folder: the workflow this run executes
# Fields the executor implements, by where they appear; "~" marks fields accepted but only meaningful on a cluster.
SUPPORTED = {
    "document": {"apiVersion", "kind", "metadata", "spec"},
    "spec": {"entrypoint", "onExit", "templates", "arguments", "activeDeadlineSeconds", "parallelism",
             "synchronization", "~serviceAccountName", "~podGC", "~ttlStrategy", "~securityContext",
             "~nodeSelector", "~tolerations", "~podMetadata", "~workflowMetadata", "~volumes"},
    "template": {"name", "inputs", "outputs", "container", "dag", "resource", "retryStrategy", "activeDeadlineSeconds",
                 "~podSpecPatch", "~nodeSelector", "~tolerations", "~metadata", "~securityContext",
                 "~serviceAccountName", "~priorityClassName", "~metrics"},
    "container": {"command", "args", "env", "~envFrom", "~image", "~resources", "~imagePullPolicy",
                  "~securityContext", "~volumeMounts", "workingDir", "name"},
    "dag": {"tasks", "failFast"},
    "task": {"name", "template", "arguments", "depends", "dependencies", "when", "continueOn"},
    "retryStrategy": {"limit", "retryPolicy", "backoff", "expression"},
    "synchronization": {"mutexes"},
    "resource": {"action", "manifest", "successCondition", "failureCondition", "~setOwnerReference"},
}  # fmt: skip
CONDITION = re.compile(r"^\s*status\.phase\s*(==|=|!=|in|notin)\s*\(?([\w ,]+?)\)?\s*$")
# Argo's resource pod exits 64 when the resource meets its failureCondition (argoexec's main), with the
# message "failure condition '<requirement>' evaluated true" (executor/resource.go): retry expressions see both.
RESOURCE_FAILED_EXIT = 64


class Unsupported(BadInput):
    """The manifest uses something the local executor cannot run faithfully."""


def _allowed(where: str) -> set[str]:
    return {key.lstrip("~") for key in SUPPORTED[where]}


def check_supported(doc: dict[str, Any]) -> None:
    """Refuse, naming it, the first manifest feature the executor does not implement."""

    def refuse(path: str, key: str, what: str) -> None:
        raise Unsupported(f"{path}.{key}: the local executor does not support {what} '{key}'")

    def only(value: dict, where: str, path: str) -> None:
        for key in value:
            if key not in _allowed(where):
                refuse(path, key, f"{where} field")

    if doc.get("kind") not in ("Workflow", "WorkflowTemplate"):
        raise Unsupported(
            f"kind: the local executor runs Workflow and WorkflowTemplate, not {doc.get('kind')!r}"
        )
    only(doc, "document", "")
    spec = doc.get("spec") or {}
    only(spec, "spec", "spec")
    if (spec.get("synchronization") or {}) and set(spec["synchronization"]) - {"mutexes"}:
        refuse("spec.synchronization", "semaphores", "synchronization kind")
    for index, template in enumerate(spec.get("templates") or []):
        path = f"spec.templates[{index}]"
        only(template, "template", path)
        if not ("container" in template or "dag" in template or "resource" in template):
            raise Unsupported(
                f"{path}: template '{template.get('name')}' is not a container, dag or resource template"
            )
        if "resource" in template:
            only(template["resource"], "resource", f"{path}.resource")
            check_child_workflow(template["resource"], f"{path}.resource")
        if "container" in template:
            only(template["container"], "container", f"{path}.container")
        if "retryStrategy" in template:
            only(template["retryStrategy"], "retryStrategy", f"{path}.retryStrategy")
        if "dag" in template:
            only(template["dag"], "dag", f"{path}.dag")
            for number, task in enumerate(template["dag"].get("tasks") or []):
                only(task, "task", f"{path}.dag.tasks[{number}]")


def check_child_workflow(resource: dict[str, Any], path: str) -> None:
    """The one resource the executor creates: a Workflow from a WorkflowTemplate, run as a child."""
    if resource.get("action") != "create":
        raise Unsupported(
            f"{path}.action: the local executor only runs action 'create' (got {resource.get('action')!r})"
        )
    try:
        manifest = yaml.safe_load(resource.get("manifest") or "")
    except yaml.YAMLError:
        raise Unsupported(f"{path}.manifest: not valid YAML") from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("kind") != "Workflow"
        or "workflowTemplateRef" not in (manifest.get("spec") or {})
    ):
        raise Unsupported(
            f"{path}.manifest: the local executor creates only Workflows that use a workflowTemplateRef"
        )
    for key in ("successCondition", "failureCondition"):
        if key in resource and not CONDITION.match(resource[key]):
            raise Unsupported(
                f"{path}.{key}: only conditions on status.phase are supported (got {resource[key]!r})"
            )


def condition_text(condition: str) -> str:
    """The condition as Argo's messages print it: a Kubernetes label requirement, values sorted."""
    operator, values = CONDITION.match(condition).groups()
    listed = sorted(value.strip() for value in values.split(","))
    if operator in ("in", "notin"):
        return f"status.phase {operator} ({','.join(listed)})"
    return f"status.phase{operator}{','.join(listed)}"


def condition_holds(condition: str, phase: str) -> bool:
    operator, values = CONDITION.match(condition).groups()
    listed = {value.strip() for value in values.split(",")}
    return phase in listed if operator in ("==", "=", "in") else phase not in listed


def parse_duration(value: Any) -> float:
    """Argo durations: seconds as a number, or '15s', '2m', '1h'."""
    text = str(value).strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text)
    if not match:
        raise Unsupported(f"duration {text!r}: use seconds or a number with s, m or h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def substitute(value: Any, scope: dict[str, str]) -> Any:
    """Replace ``{{name}}`` and ``{{=expression}}`` in strings (recursively) from ``scope``."""
    if isinstance(value, dict):
        return {key: substitute(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, scope) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        is_expression, body = bool(match.group(1)), match.group(2)
        if is_expression:
            return str(evaluate(body, scope.__getitem__))
        if body not in scope:
            raise ExpressionError(f"{{{{{body}}}}} is not known here")
        return scope[body]

    return REFERENCE.sub(replace, value)


@dataclass
class Attempt:
    number: int
    started_at: str
    finished_at: str = ""
    duration_seconds: float = 0.0
    phase: str = "Running"
    exit_code: int | None = None
    message: str = ""
    log: str = ""
    pod_spec_patch: str | None = None
    pid: int | None = None
    command: list[str] = field(default_factory=list)
    warm: bool = False  # forked by the warm starter rather than exec'd


@dataclass
class Node:
    name: str
    template: str
    phase: str = "Pending"
    message: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""
    reused: bool = False
    children: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0  # wall time from the first attempt's start to the end, backoffs included

    @property
    def duration(self) -> float:
        return self.duration_seconds or sum(a.duration_seconds for a in self.attempts)


@dataclass
class RunRecord:
    """What ``run.json`` holds: enough to report, link, and resume the run."""

    name: str
    uid: str
    template: str
    creation_timestamp: str
    parameters: dict[str, str]
    run_dir: str
    phase: str = "Running"
    message: str = ""
    started_at: str = ""
    finished_at: str = ""
    nodes: dict[str, Node] = field(default_factory=dict)
    exit_handler: Node | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        def node(raw: dict[str, Any]) -> Node:
            return Node(**{**raw, "attempts": [Attempt(**a) for a in raw.get("attempts", [])]})

        nodes = {name: node(raw) for name, raw in data.get("nodes", {}).items()}
        handler = node(data["exit_handler"]) if data.get("exit_handler") else None
        return cls(**{**data, "nodes": nodes, "exit_handler": handler})


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
        warm_start: bool = False,
    ) -> None:
        check_supported(doc)
        self.warm_start, self.starter = warm_start, None
        self.doc, self.spec = doc, doc["spec"]
        self.templates = {t["name"]: t for t in self.spec.get("templates") or []}
        self.parallelism = max(1, min(parallelism, int(self.spec.get("parallelism") or parallelism)))
        self.on_change = on_change or (lambda run: None)
        self.locks_dir = Path(locks_dir or Path(runs_root).parent / "locks")
        self.runs_root, self.load_template = runs_root, load_template
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.processes: dict[str, subprocess.Popen] = {}
        self.deadline_hit = False
        # Stopping early (workflows.local_stop): a step starts and joins self.processes under launch_lock.
        self.launch_lock = threading.Lock()
        self.stopped_by_user = self.killed = self.in_exit_handler = False
        self.child_runs: list[LocalRun] = []
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
            self.record.phase, self.record.message, self.record.exit_handler = "Running", "", None
            # Like `argo retry -p`: a resumed run may correct a parameter; kept tasks keep their outputs.
            self.record.parameters.update({k: str(v) for k, v in parameters.items()})
        else:
            values = {**declared, **parameters}
            missing = [name for name, value in values.items() if value is None]
            if missing:
                raise BadInput(f"parameter {missing[0]!r}: required, pass -p {missing[0]}=VALUE")
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
        }

    # ---- the DAG -------------------------------------------------------------------------

    def dag(self) -> dict[str, Any]:
        entry = self.templates.get(self.spec.get("entrypoint"))
        if entry is None or "dag" not in entry:
            raise Unsupported(
                "spec.entrypoint: the local executor runs a workflow whose entrypoint is a dag template"
            )
        return entry["dag"]

    def run(self) -> RunRecord:
        tasks = {t["name"]: t for t in self.dag().get("tasks") or []}
        graph = {name: task_dependencies(task) for name, task in tasks.items()}
        fail_fast = self.dag().get("failFast", True)
        for name, task in tasks.items():
            node = self.record.nodes.get(name)
            if node is None or node.phase != "Succeeded":
                self.record.nodes[name] = Node(name=name, template=task["template"])
            else:
                node.reused = True
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.keep_workflow()
        self.record.started_at = self.record.started_at or now_iso()
        with self.mutexes(), self.step_starter():
            self.save()
            deadline = self.spec.get("activeDeadlineSeconds")
            timer = threading.Timer(float(deadline), self.workflow_deadline) if deadline else None
            if timer:
                timer.daemon = True
                timer.start()
            try:
                self.schedule(tasks, graph, fail_fast)
            finally:
                if timer:
                    timer.cancel()
            local_stop.settle_unstarted(self, tasks, graph)
            self.record.phase = self.assess(tasks, graph)
            if self.deadline_hit:
                self.record.phase, self.record.message = "Failed", WORKFLOW_DEADLINE_MESSAGE
            with self.lock:
                self.in_exit_handler = True
                if self.stopped_by_user:  # as Argo's shutdown: the DAG fails, whatever its tasks did
                    self.record.phase, self.record.message = "Failed", local_stop.STOP_MESSAGE
            self.run_exit_handler()
        with self.lock:
            self.record.finished_at = now_iso()
            self.save()
        return self.record

    def keep_workflow(self) -> None:
        """The workflow as this run executes it, beside its record (as Argo keeps a Workflow's spec);
        a resumed run reads it back, so it resumes what it ran."""
        path = self.run_dir / WORKFLOW_FILE
        if not path.exists():
            partial = path.with_suffix(".partial")
            partial.write_text(yaml_io.dump(self.doc))
            partial.replace(path)  # whole or absent

    @contextlib.contextmanager
    def step_starter(self) -> Iterator[None]:
        """With warm starts on, one starter process for this run's steps (see workflows.warm_start)."""
        if not self.warm_start:
            yield
            return
        self.starter = WarmStarter(self.run_dir / "logs" / "warm-start.log")
        try:
            yield
        finally:
            self.starter.close()
            self.starter = None

    def launch(self, command: list[str], log: BinaryIO, env: dict[str, str], cwd: str | None):
        """Start a step's process: forked by the warm starter when it is one of our steps, else exec'd."""
        if self.starter is not None and not self.starter.gone and is_step(command):
            return self.starter.start(command, env, cwd, Path(log.name))
        if not is_step(command):
            return subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=cwd
            )
        # A step starts with SIGTERM held (the mask survives exec) until steps/__init__ installs the
        # contract's handler: a stop during interpreter start-up still exits 75, not -15.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            return subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=cwd
            )
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

    def schedule(self, tasks: dict, graph: dict[str, set[str]], fail_fast: bool) -> None:
        running: dict[Future, str] = {}
        with ThreadPoolExecutor(max_workers=self.parallelism, thread_name_prefix="task") as pool:
            while True:
                with self.lock:
                    for name in self.ready(tasks, graph, fail_fast):
                        if len(running) >= self.parallelism:
                            break
                        self.record.nodes[name].phase = "Running"
                        running[pool.submit(self.execute, tasks[name])] = name
                    self.save()
                if not running:
                    return
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    running.pop(future)
                    future.result()

    def ready(self, tasks: dict, graph: dict[str, set[str]], fail_fast: bool) -> list[str]:
        """Pending tasks whose dependencies are done; decides Omitted and Skipped on the way."""
        if self.stopping.is_set() or (fail_fast and self.unhandled_failure(tasks)):
            return []
        startable = []
        for name, task in tasks.items():
            node = self.record.nodes[name]
            if node.phase != "Pending" or any(
                self.record.nodes[d].phase not in DONE for d in graph[name] if d in tasks
            ):
                continue
            if not self.depends_met(task, tasks):
                node.phase, node.message = "Omitted", "omitted: depends condition not met"
                continue
            try:
                when = substitute(task.get("when"), self.task_scope()) if task.get("when") else None
                if when is not None and not evaluate(when, {}.__getitem__, bare_words_are_strings=True):
                    node.phase, node.message = "Skipped", f"when '{when}' evaluated false"
                    continue
            except ExpressionError as exc:
                node.phase, node.message = "Error", str(exc)
                continue
            startable.append(name)
        return startable

    def depends_met(self, task: dict, tasks: dict) -> bool:
        expression = task.get("depends") or " && ".join(task.get("dependencies") or [])
        if not expression:
            return True

        def resolve(name: str) -> bool:
            task_name, _, result = name.partition(".")
            if task_name not in tasks:
                raise KeyError(name)
            phase = self.record.nodes[task_name].phase
            if not result:
                continue_on = tasks[task_name].get("continueOn") or {}
                allowed = {"Succeeded", "Skipped"}
                if continue_on.get("failed"):
                    allowed.add("Failed")
                if continue_on.get("error"):
                    allowed.add("Error")
                return phase in allowed
            wanted = {"Succeeded": {"Succeeded"}, "Failed": {"Failed"}, "Errored": {"Error"}, "Skipped": {"Skipped"},
                      "Omitted": {"Omitted"}, "Completed": {"Succeeded", "Failed"}, "Daemoned": set(),
                      "AnySucceeded": {"Succeeded"}, "AllFailed": {"Failed"}}  # fmt: skip
            if result not in wanted:
                raise KeyError(name)
            return phase in wanted[result]

        return bool(evaluate(expression, resolve))

    def unhandled_failure(self, tasks: dict) -> bool:
        """A failed task that neither continueOn nor a dependent's depends on its failure covers."""
        for name, node in self.record.nodes.items():
            if node.phase not in FAILED:
                continue
            continue_on = tasks[name].get("continueOn") or {}
            if continue_on.get({"Failed": "failed", "Error": "error"}[node.phase]):
                continue
            if any(
                re.search(rf"\b{re.escape(name)}\.(Failed|Errored|Completed)\b", t.get("depends") or "")
                for t in tasks.values()
            ):
                continue
            return True
        return False

    def assess(self, tasks: dict, graph: dict[str, set[str]]) -> str:
        """The DAG's phase from its leaf tasks; an unfinished task inherits its parents' failure."""
        branch: dict[str, str] = {}

        def phase_of(name: str) -> str:
            if name not in branch:
                node = self.record.nodes[name]
                if node.phase in {"Succeeded", "Failed", "Error", "Skipped"}:
                    branch[name] = node.phase
                else:
                    parents = [phase_of(p) for p in graph[name] if p in tasks]
                    branch[name] = next((p for p in parents if p in FAILED), "Succeeded")
            return branch[name]

        leaves = [name for name in tasks if not any(name in deps for deps in graph.values())]
        for leaf in leaves:
            phase = phase_of(leaf)
            continue_on = tasks[leaf].get("continueOn") or {}
            if phase in FAILED and not continue_on.get({"Failed": "failed", "Error": "error"}[phase]):
                culprit = next((n for n, node in self.record.nodes.items() if node.phase in FAILED), leaf)
                self.record.message = (
                    self.record.message or f"task '{culprit}' {self.record.nodes[culprit].phase.lower()}"
                )
                return phase
        return "Succeeded"

    def task_scope(self) -> dict[str, str]:
        scope = dict(self.scope)
        for name, node in self.record.nodes.items():
            scope[f"tasks.{name}.status"] = node.phase
            for key, value in node.outputs.items():
                scope[f"tasks.{name}.outputs.parameters.{key}"] = value
        return scope

    # ---- one task --------------------------------------------------------------------------

    def execute(
        self, task: dict[str, Any], node_name: str | None = None, scope: dict[str, str] | None = None
    ) -> None:
        """Run a task's template with retries; the node's record says how it went."""
        name = node_name or task["name"]
        node = self.record.exit_handler if node_name else self.record.nodes[name]
        template = self.templates[task["template"]]
        try:
            inputs = self.resolve_inputs(task, template, scope or self.task_scope())
        except ExpressionError as exc:
            self.finish(node, "Error", str(exc))
            return
        if self.stopping.is_set() and self.stopped_by_user and not self.in_exit_handler:
            # Scheduled as the stop came: never started, as Argo creates no pod once shut down.
            self.finish(node, "Failed", local_stop.NODE_NOT_STARTED)
            return
        node.started_at = now_iso()
        strategy = template.get("retryStrategy") or {}
        limit = int(substitute(str(strategy.get("limit", 0)), inputs)) if strategy else 0
        backoff = strategy.get("backoff") or {}
        first_start = time.monotonic()
        for number in range(limit + 1):
            attempt, outputs = self.attempt(node, template, {**inputs, "retries": str(number)}, number)
            if attempt.phase == "Succeeded":
                node.outputs = outputs
                self.finish(node, "Succeeded", "", first_start)
                return
            with self.lock:
                self.save()
            if number == limit or self.stopping.is_set() or not self.should_retry(strategy, attempt):
                break
            wait_for = parse_duration(backoff.get("duration", 0)) * float(backoff.get("factor", 1)) ** number
            max_duration = backoff.get("maxDuration")
            if max_duration and time.monotonic() - first_start + wait_for > parse_duration(max_duration):
                attempt.message += "; backoff maxDuration reached"
                break
            if self.stopping.wait(wait_for):
                break
        self.finish(node, node.attempts[-1].phase, node.attempts[-1].message, first_start)

    def finish(self, node: Node, phase: str, message: str, started: float | None = None) -> None:
        with self.lock:
            node.phase, node.message, node.finished_at = phase, message, now_iso()
            if started is not None:
                node.duration_seconds = round(time.monotonic() - started, 3)
            self.save()

    def resolve_inputs(self, task: dict, template: dict, scope: dict[str, str]) -> dict[str, str]:
        given = {p["name"]: p.get("value", "") for p in (task.get("arguments") or {}).get("parameters") or []}
        values = dict(self.scope)
        for parameter in (template.get("inputs") or {}).get("parameters") or []:
            key = parameter["name"]
            if key in given:
                raw = given[key]
            elif "value" in parameter:
                raw = parameter["value"]
            elif "default" in parameter:
                raw = parameter["default"]
            else:
                raise ExpressionError(
                    f"input parameter '{key}' of template '{template['name']}' was not supplied"
                )
            values[f"inputs.parameters.{key}"] = str(substitute(str(raw), scope))
        return values

    def should_retry(self, strategy: dict, attempt: Attempt) -> bool:
        policy = strategy.get("retryPolicy", "OnFailure")
        if policy == "OnFailure" and attempt.phase != "Failed":
            return False
        if policy in ("OnError", "OnTransientError") and attempt.phase != "Error":
            return False
        expression = strategy.get("expression")
        if not expression:
            return True
        last = {
            "lastRetry.exitCode": str(attempt.exit_code if attempt.exit_code is not None else -1),
            "lastRetry.status": attempt.phase,
            "lastRetry.duration": str(int(attempt.duration_seconds)),
            "lastRetry.message": attempt.message,
        }
        return bool(evaluate(expression, last.__getitem__))

    def attempt(
        self, node: Node, template: dict, scope: dict[str, str], number: int
    ) -> tuple[Attempt, dict[str, str]]:
        """One run of the template's process: the attempt's record and its output parameters.

        The attempt joins the node's record as it starts, so run.json shows what is running."""
        name = node.name if node is not self.record.exit_handler else "onExit"
        attempt = Attempt(number=number + 1, started_at=now_iso())
        with self.lock:
            node.attempts.append(attempt)
        outputs_dir = self.run_dir / "outputs" / name
        log_path = self.run_dir / "logs" / f"{name}.attempt-{number + 1}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        attempt.log = str(log_path)
        outputs_dir.mkdir(parents=True, exist_ok=True)
        for old in outputs_dir.iterdir():
            old.unlink()
        if "resource" in template:
            return self.child_workflow(node, template, scope, attempt)
        try:
            container = substitute(template["container"], scope)
            if "podSpecPatch" in template:
                attempt.pod_spec_patch = substitute(template["podSpecPatch"], scope)
        except ExpressionError as exc:
            return self._ended(attempt, "Error", None, str(exc))
        declared = (template.get("outputs") or {}).get("parameters") or []
        remote_root = os.path.commonpath([p["valueFrom"]["path"] for p in declared]) if declared else None
        if remote_root and len(declared) == 1:
            remote_root = os.path.dirname(remote_root)
        env = dict(os.environ)
        for variable in container.get("env") or []:
            value = str(variable.get("value", ""))
            env[variable["name"]] = str(outputs_dir) if remote_root and value == remote_root else value
        env["PYTHONUNBUFFERED"] = "1"
        command = [*(container.get("command") or []), *(container.get("args") or [])]
        if command and command[0] in ("python", "python3"):
            command[0] = sys.executable  # this project's interpreter and virtual environment
        attempt.command = command
        deadline = template.get("activeDeadlineSeconds")
        started = time.monotonic()
        with log_path.open("wb") as log:
            with self.launch_lock:
                try:
                    if self.killed:
                        raise OSError("the run was killed")
                    process = self.launch(command, log, env, container.get("workingDir") or None)
                    attempt.warm = isinstance(process, WarmProcess)
                except OSError as exc:
                    return self._ended(attempt, "Error", None, f"could not start {command[:1]}: {exc}")
                attempt.pid = process.pid
                with self.lock:
                    self.processes[name] = process
                    self.save()
                    if self.stopping.is_set():
                        local_stop.started_while_stopping(self, process)
            try:
                code = process.wait(timeout=float(substitute(str(deadline), scope)) if deadline else None)
                message = ""
            except subprocess.TimeoutExpired:
                self.kill(process)
                code, message = process.wait(), DEADLINE_MESSAGE
            except StarterGone as exc:
                self.kill(process)
                return self._ended(attempt, "Error", None, str(exc))
            finally:
                with self.lock:
                    self.processes.pop(name, None)
                local_stop.end_group(process.pid)  # what the step left running ends with it, as in a pod
        attempt.duration_seconds = round(time.monotonic() - started, 3)
        if self.stopping.is_set() and code != 0:
            return self._ended(
                attempt,
                "Failed",
                code if code >= 0 else 128 - code,
                WORKFLOW_DEADLINE_MESSAGE if self.deadline_hit else local_stop.NODE_STOPPED,
            )
        if message:
            return self._ended(attempt, "Failed", code, message)
        if code < 0:
            return self._ended(attempt, "Error", 128 - code, f"killed by signal {-code}")
        if code != 0:
            return self._ended(attempt, "Failed", code, f"Error (exit code {code})")
        outputs = {}
        for parameter in declared:
            local = Path(
                str(parameter["valueFrom"]["path"]).replace(remote_root, str(outputs_dir), 1)
                if remote_root
                else parameter["valueFrom"]["path"]
            )
            if local.exists():
                outputs[parameter["name"]] = local.read_text()
            elif "default" in parameter["valueFrom"]:
                outputs[parameter["name"]] = str(parameter["valueFrom"]["default"])
            else:
                return self._ended(
                    attempt, "Error", 0, f"output parameter '{parameter['name']}' was not produced"
                )
        return self._ended(attempt, "Succeeded", 0, "", outputs)

    def child_workflow(
        self, node: Node, template: dict, scope: dict[str, str], attempt: Attempt
    ) -> tuple[Attempt, dict[str, str]]:
        """Create a Workflow from a WorkflowTemplate: here, run that template locally as a child run."""
        resource = template["resource"]
        try:
            manifest = yaml.safe_load(substitute(resource["manifest"], scope))
        except ExpressionError as exc:
            return self._ended(attempt, "Error", None, str(exc))
        reference = manifest["spec"]["workflowTemplateRef"]["name"]
        if self.load_template is None:
            return self._ended(
                attempt, "Error", None, f"no way to find WorkflowTemplate '{reference}' locally"
            )
        child_doc = self.load_template(reference)
        child_doc["metadata"] = {
            **child_doc.get("metadata", {}),
            "generateName": manifest["metadata"].get("generateName", f"{reference}-"),
        }
        child_doc["metadata"].pop("name", None)
        arguments = {
            p["name"]: str(p.get("value", ""))
            for p in (manifest["spec"].get("arguments") or {}).get("parameters") or []
        }
        started = time.monotonic()
        try:
            child = LocalRun(
                child_doc,
                arguments,
                self.runs_root,
                self.parallelism,
                locks_dir=str(self.locks_dir),
                load_template=self.load_template,
                warm_start=self.warm_start,
            )
        except BadInput as exc:
            return self._ended(attempt, "Failed", None, f"could not create the child workflow: {exc}")
        with self.lock:
            node.children.append(child.record.name)
            self.child_runs.append(child)
            self.save()
            stop_child = self.stopped_by_user and not self.in_exit_handler
        if stop_child:  # outside this run's lock: request_stop takes the child's
            local_stop.request_stop(child)
        record = child.run()
        attempt.duration_seconds = round(time.monotonic() - started, 3)
        if self.stopped_by_user and record.phase != "Succeeded":
            return self._ended(attempt, "Failed", None, local_stop.NODE_STOPPED)
        outputs = {}
        for parameter in (template.get("outputs") or {}).get("parameters") or []:
            path = (parameter.get("valueFrom") or {}).get("jsonPath", "")
            outputs[parameter["name"]] = {
                "{.metadata.name}": record.name,
                "{.status.phase}": record.phase,
            }.get(path, "")
        if "failureCondition" in resource and condition_holds(resource["failureCondition"], record.phase):
            # As Argo's resource pod reports it; it saves no outputs then. The child is in node.children.
            condition = condition_text(resource["failureCondition"])
            return self._ended(
                attempt,
                "Failed",
                RESOURCE_FAILED_EXIT,
                f"Error (exit code {RESOURCE_FAILED_EXIT}): failure condition '{condition}' evaluated true",
            )
        if "successCondition" in resource and not condition_holds(resource["successCondition"], record.phase):
            return self._ended(
                attempt, "Failed", None, f"child workflow {record.name} {record.phase}", outputs
            )
        return self._ended(attempt, "Succeeded", 0, "", outputs)

    @staticmethod
    def _ended(
        attempt: Attempt, phase: str, code: int | None, message: str, outputs: dict[str, str] | None = None
    ) -> tuple[Attempt, dict[str, str]]:
        attempt.phase, attempt.exit_code, attempt.message, attempt.finished_at = (
            phase,
            code,
            message,
            now_iso(),
        )
        return attempt, outputs or {}

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        local_stop.kill_process(process)

    def workflow_deadline(self) -> None:
        with self.lock:
            self.deadline_hit = True
            self.stopping.set()
            for process in list(self.processes.values()):
                self.kill(process)

    # ---- the end -----------------------------------------------------------------------------

    def failures(self) -> list[dict[str, str]]:
        return [
            {
                "displayName": name,
                "message": node.message,
                "templateName": node.template,
                "phase": node.phase,
                "podName": f"{self.record.name}-{name}",
                "finishedAt": node.finished_at,
            }
            for name, node in self.record.nodes.items()
            if node.phase in FAILED
        ]

    def run_exit_handler(self) -> None:
        handler = self.spec.get("onExit")
        if not handler:
            return
        self.stopping.clear()
        self.record.exit_handler = Node(name=f"{self.record.name}.onExit", template=handler, phase="Running")
        scope = {
            **self.task_scope(),
            "workflow.status": self.record.phase,
            "workflow.failures": json.dumps(self.failures()),
        }
        self.scope.update(
            {"workflow.status": scope["workflow.status"], "workflow.failures": scope["workflow.failures"]}
        )
        self.save()
        self.execute({"name": "onExit", "template": handler}, node_name="onExit", scope=scope)
        if self.record.exit_handler.phase in FAILED and self.record.phase == "Succeeded":
            self.record.phase, self.record.message = (
                "Failed",
                f"exit handler {handler} {self.record.exit_handler.phase.lower()}",
            )

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
        return _FileLocks(self.locks_dir, names)

    def exit_code(self) -> int:
        """0 on success; else the contract code of the first failure that has one, else 1."""
        if self.record.phase == "Succeeded":
            return 0
        for node in self.record.nodes.values():
            if node.phase in FAILED and node.attempts and node.attempts[-1].exit_code in (*NOT_RETRIED, 75):
                return int(node.attempts[-1].exit_code)
        return 1


class _FileLocks:
    """Local stand-in for Argo's mutexes: one exclusive file lock per name, held for the run."""

    def __init__(self, folder: Path, names: list[str]) -> None:
        self.folder, self.names, self.handles = folder, names, []

    def __enter__(self) -> _FileLocks:
        if self.names:
            self.folder.mkdir(parents=True, exist_ok=True)
        for name in sorted(self.names):
            handle = (self.folder / (re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".lock")).open("w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(
                    f"waiting for mutex {name!r} (another run of this model holds it)",
                    file=sys.stderr,
                    flush=True,
                )
                fcntl.flock(handle, fcntl.LOCK_EX)
            self.handles.append(handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self.handles:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


def load_record(run_dir: Path) -> RunRecord:
    path = run_dir / "run.json"
    if not path.exists():
        raise BadInput(f"{run_dir}: no run.json; is this a local run folder?")
    return RunRecord.from_json(json.loads(path.read_text()))
