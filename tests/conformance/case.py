"""A conformance case: a workflow as Argo's sources give it, and what Argo makes of it; and how one runs here.

Argo's e2e workflows use the ``argoproj/argosay:v2`` image without a ``command``; locally an image's
entrypoint is unknown (the executor refuses such a container), so ``local_manifest`` names argosay's entrypoint,
the script beside this module, and points its output paths at the local outputs folder. Nothing else changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workflows.local.dag import task_scope
from workflows.local.executor import LocalRun

ARGOSAY = Path(__file__).with_name("argosay.py")


@dataclass
class Case:
    name: str
    source: str  # where Argo's phases come from, and what was adapted
    manifest: str
    phase: str  # the workflow's
    nodes: dict[str, str]  # each task's phase
    messages: dict[str, str] = field(default_factory=dict)  # a part of a task's message
    attempts: dict[str, int] = field(default_factory=dict)
    args: dict[str, list[str]] = field(default_factory=dict)  # how a task's command line ends, substituted
    scope: dict[str, str] = field(default_factory=dict)  # what later tasks read, e.g. outputs.exitCode
    parameters: dict[str, str] = field(default_factory=dict)  # as -p gives them
    hooks: dict[str, str] = field(default_factory=dict)  # hook node -> phase ("onExit": the exit handler)


def local_manifest(text: str) -> dict[str, Any]:
    """The manifest with argosay's entrypoint named: ``python argosay.py`` with the container's args."""
    doc = yaml.safe_load(text)
    for template in doc["spec"]["templates"]:
        container = template.get("container") or {}
        if not str(container.get("image", "")).startswith("argoproj/argosay") or "command" in container:
            continue
        container["command"] = ["python", str(ARGOSAY)]
        paths = [p["valueFrom"]["path"] for p in (template.get("outputs") or {}).get("parameters") or []]
        if paths:  # the executor points an env value equal to the outputs' common folder at the local one
            root = os.path.commonpath(paths) if len(paths) > 1 else os.path.dirname(paths[0])
            container["env"] = [
                {"name": "ARGOSAY_OUTPUTS", "value": root},
                {"name": "ARGOSAY_REMOTE", "value": root + "/"},
            ]
    return doc


def run_case(case: Case, tmp_path: Path) -> LocalRun:
    local = LocalRun(
        local_manifest(case.manifest),
        case.parameters,
        str(tmp_path / "runs"),
        locks_dir=str(tmp_path / "locks"),
    )
    local.run()
    return local


def observed(local: LocalRun, case: Case) -> dict[str, Any]:
    """What the run gave, in the terms the case states Argo's: compared whole, so a mismatch shows all of it."""
    nodes = local.record.nodes
    scope = task_scope(local)
    return {
        "phase": local.record.phase,
        "nodes": {name: node.phase for name, node in nodes.items()},
        # the part the case names when the message holds it, else the whole message, to show the difference
        "messages": {
            name: part if part in nodes[name].message else nodes[name].message
            for name, part in case.messages.items()
        },
        "attempts": {name: len(nodes[name].attempts) for name in case.attempts},
        "args": {
            name: nodes[name].attempts[-1].command[-len(tail) :] if nodes[name].attempts else None
            for name, tail in case.args.items()
        },
        "scope": {key: scope.get(key) for key in case.scope},
        "hooks": hook_phases(local, case),
    }


def hook_phases(local: LocalRun, case: Case) -> dict[str, str]:
    """Every hook node's phase; the workflow's exit handler's as ``onExit`` when the case names it."""
    phases = {name: node.phase for name, node in local.record.hooks.items()}
    if "onExit" in case.hooks:
        phases["onExit"] = local.record.exit_handler.phase if local.record.exit_handler else None
    return phases


def expected(case: Case) -> dict[str, Any]:
    return {
        "phase": case.phase,
        "nodes": case.nodes,
        "messages": case.messages,
        "attempts": case.attempts,
        "args": case.args,
        "scope": case.scope,
        "hooks": case.hooks,
    }
