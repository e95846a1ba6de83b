"""The cost ledger of a local run, from its folder: ``run.json`` for every attempt's wall time, phase and
exit code; the template in ``workflow.yaml`` for what its pod would request; each step's ``usage.json``
for the CPU seconds and peak memory it used. Written as ``cost.json`` beside ``run.json``.

A step writes ``usage.json`` only when it succeeds (``steps.contract``), so a failed or preempted
attempt is billed on its requests and wall time alone, as its pod would have been.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from steps import storage
from workflows.argo import yaml_io
from workflows.argo.ledger import (
    COST_FILE,
    Ledger,
    Line,
    billed,
    capacity_of,
    gpu_type_of,
    is_preempted,
    priced,
)
from workflows.argo.resources import node_selector, template_requests
from workflows.local.record import WORKFLOW_FILE, Attempt, Node, Phase, RunRecord, load_record
from workflows.settings import Settings

LOG_TAIL = 4096  # bytes of a failed attempt's log read for the line that says SIGTERM stopped it


def step_folder_of(attempt: Attempt) -> str | None:
    """``<run-dir>/<step>`` of an attempt that ran ``python -m steps.<step> --run-dir DIR ...``."""
    command = attempt.command
    if "-m" not in command or "--run-dir" not in command:
        return None
    module = command[command.index("-m") + 1] if command.index("-m") + 1 < len(command) else ""
    run_dir = command[command.index("--run-dir") + 1] if command.index("--run-dir") + 1 < len(command) else ""
    if not module.startswith("steps.") or not run_dir:
        return None
    return storage.join(run_dir, module.removeprefix("steps.").replace("_", "-"))


def read_if_there(uri: str) -> dict[str, Any] | None:
    return storage.read_json(uri) if storage.exists(uri) else None


def log_tail(attempt: Attempt) -> str:
    path = Path(attempt.log) if attempt.log else None
    if path is None or not path.is_file():
        return ""
    with path.open("rb") as log:
        log.seek(max(0, path.stat().st_size - LOG_TAIL))
        return log.read().decode(errors="replace")


def usage_owners(nodes: list[Node]) -> dict[int, str]:
    """The step folder whose ``usage.json`` each succeeded attempt wrote (by ``id``); a folder that two
    attempts wrote to (loop items sharing one) belongs to neither: its figures are the last writer's."""
    claims: dict[str, list[int]] = {}
    for node in nodes:
        for attempt in node.attempts:
            folder = step_folder_of(attempt) if attempt.phase == Phase.Succeeded else None
            if folder:
                claims.setdefault(folder, []).append(id(attempt))
    return {owners[0]: folder for folder, owners in claims.items() if len(owners) == 1}


def local_ledger(run_dir: Path, settings: Settings) -> Ledger:
    """Every finished attempt of the run as a priced line, with the MLflow runs and model version it made."""
    record = load_record(run_dir)
    workflow = run_dir / WORKFLOW_FILE
    doc = yaml_io.load(workflow.read_text()) if workflow.exists() else {}  # libyaml: 0.17 s less
    templates = {t["name"]: t for t in (doc.get("spec") or {}).get("templates") or []}
    hooks = list(record.hooks.values())  # lifecycle hooks' pods cost too
    nodes = [node for node in [*record.nodes.values(), record.exit_handler, *hooks] if node is not None]
    owners = usage_owners(nodes)
    lines = []
    for node in nodes:
        template = templates.get(node.template) or {"name": node.template}
        if "resource" in template:
            continue  # the controller's work, not a pod's; the run it starts keeps its own ledger
        requests = template_requests(template)
        finished = [a for a in node.attempts if a.phase != Phase.Running]
        for index, attempt in enumerate(finished):
            folder = owners.get(id(attempt))
            usage = read_if_there(storage.join(folder, "usage.json")) if folder else None
            selector = node_selector(template, attempt.pod_spec_patch)
            capacity = capacity_of(selector, settings, node.template)
            failed = attempt.phase != Phase.Succeeded
            said = f"{attempt.message}\n{log_tail(attempt)}" if failed else ""
            gpu_type = (
                gpu_type_of(selector, settings.prices, capacity, node.template) if requests.gpus else ""
            )
            line = Line(
                step=node.name,
                template=node.template,
                attempt=attempt.number,
                phase=attempt.phase,
                exit_code=attempt.exit_code,
                retried=index < len(finished) - 1,
                preempted=failed and is_preempted(attempt.exit_code, said),
                capacity=capacity,
                gpu_type=gpu_type,
                wall_seconds=attempt.duration_seconds,
                requests=asdict(requests),
                cpu_seconds=usage.get("cpu_seconds") if usage else None,
                peak_memory_mib=usage.get("peak_rss_mib") if usage else None,
                source="usage.json" if usage else "run.json",
            )
            lines.append(priced(billed(line, requests), settings.prices))
    return Ledger(
        run=record.name,
        template=record.template,
        phase=record.phase,
        started_at=record.started_at,
        finished_at=record.finished_at,
        where="local",
        lines=lines,
        prices=settings.prices.model_dump(mode="json"),
        mlflow_runs=mlflow_runs(nodes),
        model=registered_version(nodes),
    )


def step_results(nodes: list[Node]) -> list[tuple[str, dict[str, Any]]]:
    """(folder, result.json) of every step that succeeded, as its attempt wrote it."""
    found = []
    for node in nodes:
        for attempt in node.attempts:
            folder = step_folder_of(attempt) if attempt.phase == Phase.Succeeded else None
            result = read_if_there(storage.join(folder, "result.json")) if folder else None
            if folder and isinstance(result, dict):
                found.append((folder, result))
    return found


def mlflow_runs(nodes: list[Node]) -> list[str]:
    """The MLflow runs this run logged to: each step result's ``run_id`` (train's, which evaluate reuses)."""
    ids = [str(result["run_id"]) for _, result in step_results(nodes) if result.get("run_id")]
    return list(dict.fromkeys(ids))


def registered_version(nodes: list[Node]) -> dict[str, str] | None:
    """The model version a register step reported (``model_name`` and ``version``), if one did."""
    for _, result in step_results(nodes):
        if result.get("model_name") and result.get("version"):
            return {"name": str(result["model_name"]), "version": str(result["version"])}
    return None


def started_runs(record: RunRecord) -> list[str]:
    """The runs this one started (a drift check's retrain): a resource node's children that are not its own nodes."""
    runs_root = Path(record.run_dir).parent
    return [
        child
        for node in record.nodes.values()
        for child in node.children
        if child not in record.nodes and (runs_root / child / "run.json").exists()
    ]


def write_cost(run_dir: Path, ledger: Ledger) -> Path:
    """``cost.json`` in the run folder, whole or absent."""
    path = run_dir / COST_FILE
    storage.write_json(str(path), ledger.to_json())
    return path


def read_cost(run_dir: Path) -> Ledger | None:
    path = run_dir / COST_FILE
    return Ledger.from_json(json.loads(path.read_text())) if path.exists() else None
