"""Argo Events objects against Hera's event models, checked in a second process while lint does the rest.

An EventSource or a Sensor is checked against Argo Events' part of Hera's models, Argo's kinds against
Argo Workflows' part (``workflows.argo.hera_models``). A lint that needs both parts (the project's
manifests: its Sensor starts a Workflow) imports the Kubernetes models they share, then forks: the
child imports the events part and checks the event objects, while lint imports the workflows part and
checks the rest. On two free cores the two imports overlap (0.53 and 0.63 s of 0.87 s one after the
other); on a busy machine it costs nothing, the same modules are imported once either way.
"""

from __future__ import annotations

import os
import pickle
import threading
from typing import Any

from pydantic import ValidationError

from workflows.argo.hera_models import KUBERNETES, event_objects, part
from workflows.argo.lint_fields import api_form, unknown_fields

KINDS = ("EventSource", "Sensor")
WORKFLOW_KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")
Found = list[tuple[str, str]]  # (path, message)


def model_problems(document: dict[str, Any]) -> Found:
    """What Hera's model of an EventSource or Sensor finds: its validation errors, then unknown fields."""
    kind = document["kind"]
    model = getattr(event_objects(), kind)
    body = {k: v for k, v in document.items() if k not in ("apiVersion", "kind")}  # not in Hera's models
    found: Found = []
    try:
        model.model_validate(api_form(body, model))
    except ValidationError as exc:
        found += [(".".join(str(p) for p in error["loc"]), error["msg"]) for error in exc.errors()]
    for path in unknown_fields(body, model, kind):
        found.append((path.split(".", 1)[1], f"unknown field '{path.rsplit('.', 1)[-1]}'"))
    return found


def started_workflow(trigger: Any) -> dict[str, Any] | None:
    """The Workflow a Sensor's trigger holds whole (``template.argoWorkflow.source.resource``), which
    lint checks with Argo's models as a Workflow; None for any other trigger, of any shape."""
    found = trigger
    for key in ("template", "argoWorkflow", "source", "resource"):
        found = found.get(key) if isinstance(found, dict) else None
    return found if isinstance(found, dict) else None


def needs_workflow_models(document: dict[str, Any]) -> bool:
    """An Argo Workflows kind, or a Sensor that holds one (any shape: lint reports a wrong one)."""
    if document.get("kind") in WORKFLOW_KINDS:
        return True
    spec = document.get("spec")
    triggers = spec.get("triggers") if document.get("kind") == "Sensor" and isinstance(spec, dict) else None
    return isinstance(triggers, list) and any(started_workflow(t) is not None for t in triggers)


class EventChecks:
    """The model problems of a lint's event objects: from a child begun beside the lint when both parts
    of the models are needed and this process can fork safely, else found here when first asked for."""

    def __init__(self, documents: list[Any]) -> None:
        self.events = [d for d in documents if isinstance(d, dict) and d.get("kind") in KINDS]
        self.position = {id(d): i for i, d in enumerate(self.events)}
        self.found: list[Found] | None = None
        self.child: tuple[int, int] | None = None  # (pid, the pipe it writes its answer to)
        workflows = any(isinstance(d, dict) and needs_workflow_models(d) for d in documents)
        if self.events and workflows and _can_fork():
            self.child = _begin(self.events)

    def problems(self, document: dict[str, Any]) -> Found:
        index = self.position.get(id(document))
        if index is None:  # a document that was not among the lint's (a caller's own Linter)
            return model_problems(document)
        if self.found is None:
            answer = _answer(*self.child) if self.child is not None else None
            self.child = None
            self.found = answer or [model_problems(d) for d in self.events]
        return self.found[index]

    def close(self) -> None:
        """Reap a child whose answer was not asked for (a lint that stopped early)."""
        if self.child is not None:
            _answer(*self.child)
            self.child = None


def _can_fork() -> bool:
    # a fork copies one thread: with others running (a test's servers) a lock one held stays held
    return hasattr(os, "fork") and threading.active_count() == 1


def _begin(events: list[dict[str, Any]]) -> tuple[int, int]:
    part(KUBERNETES)  # imported once, before the fork, for both processes
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        status = 1
        try:
            answer = pickle.dumps([model_problems(d) for d in events])
            with os.fdopen(writer, "wb") as pipe:
                pipe.write(answer)
            status = 0
        finally:
            os._exit(status)  # no teardown: the parent's buffers and atexit hooks are not the child's
    os.close(writer)
    return pid, reader


def _answer(pid: int, reader: int) -> list[Found] | None:
    """The child's problems, or None if it failed (the caller then finds them here)."""
    with os.fdopen(reader, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        return None
    return pickle.loads(data)
