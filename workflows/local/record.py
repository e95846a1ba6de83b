"""The run record: what ``run.json`` holds of a local run, its tasks and their attempts, in Argo's phases.

A run's folder holds ``run.json`` (this record, rewritten whole as the run goes) and
``workflow.yaml`` (the workflow it executes); ``mlops runs``, ``--resume`` and the progress view read
them back. Phases are Argo's node phases, kept as strings in the record.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from steps.errors import BadInput

WORKFLOW_FILE = "workflow.yaml"  # in the run folder: the workflow this run executes


class Phase(StrEnum):
    """Argo's node and workflow phases; each is the string run.json holds."""

    Pending = "Pending"
    Running = "Running"
    Succeeded = "Succeeded"
    Failed = "Failed"
    Error = "Error"
    Skipped = "Skipped"
    Omitted = "Omitted"


DONE = {Phase.Succeeded, Phase.Failed, Phase.Error, Phase.Skipped, Phase.Omitted}
FAILED = {Phase.Failed, Phase.Error}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Attempt:
    number: int
    started_at: str
    finished_at: str = ""
    duration_seconds: float = 0.0
    phase: str = Phase.Running
    exit_code: int | None = None
    message: str = ""
    log: str = ""
    pod_spec_patch: str | None = None
    pid: int | None = None
    command: list[str] = field(default_factory=list)
    warm: bool = False  # forked by the warm starter rather than exec'd
    result: str | None = None  # its stdout, when a task reads {{tasks.<name>.outputs.result}}
    sandbox: str | None = None  # its own filesystem's folder, when sandboxed (workflows.local.sandbox)
    artifacts: dict[str, dict] = field(default_factory=dict)  # saved output artifacts: location, size, digest


@dataclass
class Node:
    name: str
    template: str
    phase: str = Phase.Pending
    message: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""
    reused: bool = False
    children: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0  # wall time from the first attempt's start to the end, backoffs included
    memoization: dict | None = None  # Argo's MemoizationStatus: hit, key, cacheName (memoize.py)

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
    phase: str = Phase.Running
    message: str = ""
    started_at: str = ""
    finished_at: str = ""
    nodes: dict[str, Node] = field(default_factory=dict)
    exit_handler: Node | None = None
    outputs: dict[str, str] = field(default_factory=dict)  # the workflow's, by globalName (status.outputs)
    hooks: dict[str, Node] = field(default_factory=dict)  # lifecycle hook nodes by name (hooks.py)
    artifacts: dict[str, dict] = field(default_factory=dict)  # the workflow's, by globalName (artifacts.py)

    def entry_ended(self, phase: str, message: str) -> str:
        """The entrypoint's phase, the workflow's; its message becomes the workflow's when it did not succeed."""
        if phase != Phase.Succeeded:
            self.message = self.message or message
        return phase

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        def node(raw: dict[str, Any]) -> Node:
            return Node(**{**raw, "attempts": [Attempt(**a) for a in raw.get("attempts", [])]})

        nodes = {name: node(raw) for name, raw in data.get("nodes", {}).items()}
        handler = node(data["exit_handler"]) if data.get("exit_handler") else None
        hooks = {name: node(raw) for name, raw in data.get("hooks", {}).items()}
        return cls(**{**data, "nodes": nodes, "exit_handler": handler, "hooks": hooks})


def ended(
    attempt: Attempt, phase: str, code: int | None, message: str, outputs: dict[str, str] | None = None
) -> tuple[Attempt, dict[str, str]]:
    """Close an attempt with its phase, exit code and message: (the attempt, its output parameters)."""
    attempt.phase, attempt.exit_code, attempt.message, attempt.finished_at = (
        phase,
        code,
        message,
        now_iso(),
    )
    return attempt, outputs or {}


def load_record(run_dir: Path) -> RunRecord:
    path = run_dir / "run.json"
    if not path.exists():
        raise BadInput(f"{run_dir}: no run.json; is this a local run folder?")
    return RunRecord.from_json(json.loads(path.read_text()))


def failures(record: RunRecord) -> list[dict[str, str]]:
    """``{{workflow.failures}}``: each failed node (a loop's items and task group too), as Argo lists them."""
    return [
        {
            "displayName": display_name(name),
            "message": node.message,
            "templateName": node.template,
            "phase": node.phase,
            "podName": f"{record.name}-{name}",
            "finishedAt": node.finished_at,
        }
        for name, node in {**record.nodes, **record.hooks}.items()
        if node.phase in FAILED
    ]


def display_name(name: str) -> str:
    """A node's display name as Argo gives it, from its name in the record: a nested task's or step's own
    name (``outer.inner`` is ``inner``, ``[0].hello`` is ``hello``), a step group's ``[i]``, an item's
    ``task(0:value)`` whole (its value may hold a '.')."""
    start, depth = 0, 0
    for index, char in enumerate(name):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif depth == 0 and char == ".":
            start = index + 1
        elif depth == 0 and char == "[":
            start = index
    return name[start:]
