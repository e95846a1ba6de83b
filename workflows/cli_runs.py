"""mlops run, drift and cron: compiled workflows on the local executor, and the schedules."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from steps.contract import BadInput
from workflows.cli_support import contract_errors, load_template, manifest_path, parse_parameters

if TYPE_CHECKING:
    from workflows.local import RunRecord


@contract_errors
def run_command(
    workflow: Annotated[
        str, typer.Argument(help="a workflow in manifests/ (training) or a manifest file")
    ] = "training",
    param: Annotated[
        list[str] | None, typer.Option("-p", "--param", help="workflow parameter key=value")
    ] = None,
    parallelism: Annotated[int, typer.Option(help="most tasks at once")] = 4,
    resume: Annotated[
        str | None, typer.Option(help="re-run a failed local run (its name) from where it failed")
    ] = None,
) -> None:
    """Run a compiled workflow on this machine, every task a subprocess.

    Example: mlops run training -p epochs=5 -p min-auc=0.8
    """
    run_workflow(workflow, parse_parameters(param or []), parallelism, resume)


@contract_errors
def drift_command(
    current_uri: Annotated[str, typer.Option(help="the new data: a folder, file or s3:// prefix")],
    param: Annotated[
        list[str] | None, typer.Option("-p", "--param", help="more parameters key=value")
    ] = None,
    parallelism: Annotated[int, typer.Option(help="most tasks at once")] = 4,
) -> None:
    """Run the drift workflow locally: check the current data, retrain when it drifted.

    Example: mlops drift --current-uri data/incoming/ -p drift-share=0.3
    """
    run_workflow("drift", {**parse_parameters(param or []), "current-uri": current_uri}, parallelism, None)


def run_workflow(workflow: str, parameters: dict[str, str], parallelism: int, resume: str | None) -> None:
    sys.exit(run_locally(workflow, parameters, parallelism, resume)[1])


def run_locally(
    workflow: str, parameters: dict[str, str], parallelism: int, resume: str | None
) -> tuple[RunRecord, int]:
    """Run a compiled workflow on the local executor, showing progress; (its record, exit code)."""
    import yaml

    from workflows.local import LocalRun, load_record
    from workflows.local_stop import SignalStop
    from workflows.progress import Progress, console, table
    from workflows.settings import load_settings

    settings = load_settings()
    doc = yaml.safe_load(manifest_path(workflow).read_text())
    previous = None
    if resume:
        previous = load_record(Path(settings.runs_root) / resume)
        if previous.phase == "Succeeded":
            raise BadInput(f"run {resume!r} already succeeded; nothing to resume")
    else:
        declared = {p["name"] for p in (doc.get("spec", {}).get("arguments") or {}).get("parameters") or []}
        # Where data, runs and models are is a setting of this machine, not of the compiled file.
        for name, value in settings.workflow_parameters().items():
            if name in declared and name not in parameters:
                parameters[name] = value
    out = console()
    with Progress(out) as progress:
        run = LocalRun(
            doc, parameters, settings.runs_root, parallelism, previous=previous, on_change=progress,
            load_template=load_template, warm_start=settings.local_warm_start,
        )  # fmt: skip
        out.print(
            f"{'resuming' if previous else 'running'} {run.record.name} in {run.record.run_dir}",
            highlight=False,
        )

        def say(line: str) -> None:
            out.print(line, style="bold", highlight=False, markup=False)

        def killed() -> None:  # a second signal: the record as it was left, then the process exits
            progress.__exit__()
            out.print(table(run.record))
            report(out, run.record, settings, workflow)

        # Ctrl-C or SIGTERM stops the run as `argo stop` would; a second one kills it (workflows.local_stop).
        stopper = SignalStop(run, say, killed)
        record = stopper()
    out.print(table(record))
    report(out, record, settings, workflow)
    if stopper.exit_code() is not None:
        sys.exit(stopper.exit_code())  # a stopped run ends the command too (`mlops watch` included)
    return record, run.exit_code()


@contract_errors
def cron_command(
    action: Annotated[str, typer.Argument(help="list")] = "list",
    count: Annotated[int, typer.Option(help="next run times to show")] = 3,
) -> None:
    """Show each CronWorkflow's schedule, timezone, template and next run times.

    Example: mlops cron list
    """
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import yaml
    from croniter import croniter
    from rich.table import Table

    from workflows.compile import MANIFESTS_DIR

    if action != "list":
        raise BadInput(f"cron {action!r}: the only action is 'list'")
    view = Table(title="CronWorkflows", title_justify="left")
    for column in ("name", "schedule", "timezone", "template", "next runs"):
        view.add_column(column)
    for path in sorted(MANIFESTS_DIR.glob("cron-*.yaml")):
        spec = yaml.safe_load(path.read_text())
        zone = ZoneInfo(spec["spec"].get("timezone", "UTC"))
        for schedule in spec["spec"]["schedules"]:
            times = croniter(schedule, datetime.now(zone))
            upcoming = ", ".join(times.get_next(datetime).strftime("%a %Y-%m-%d %H:%M") for _ in range(count))
            template = spec["spec"]["workflowSpec"]["workflowTemplateRef"]["name"]
            view.add_row(spec["metadata"]["name"], schedule, str(zone), template, upcoming)
    Console().print(view)


def report(out: Console, record: RunRecord, settings, workflow: str = "training") -> None:
    """Where things are, what the run decided and, when it failed, why and how to resume it."""
    from workflows.progress import failure_report

    summary_path = Path(record.run_dir) / "notify" / "summary.json"
    if summary_path.exists():
        model = json.loads(summary_path.read_text()).get("model", {})
        if model.get("decision"):
            out.print(f"model: {model['decision']} ({model.get('reason', '')})", highlight=False)
        if model.get("version"):
            champion = model.get("champion_version")
            if champion is not None and str(champion) == str(model["version"]):
                line = f"registered version {model['version']}: the challenger, promoted to champion"
            else:
                line = f"registered version {model['version']} as challenger; champion is version {champion or 'none'}"
            out.print(line, highlight=False)
        if model.get("deployed_commit"):
            what = "deployed" if model.get("deploy_changed") else "already deployed"
            out.print(
                f"{what}: commit {model['deployed_commit'][:12]} in {settings.gitops_url}", highlight=False
            )
        drift = json.loads(summary_path.read_text()).get("drift") or {}
        if drift:
            columns = ", ".join(drift.get("drifted_columns") or []) or "none"
            verdict = "DRIFT" if drift.get("drifted") else "no drift"
            out.print(
                f"drift: {verdict} (share {drift.get('drift_share')}; top columns: {columns})",
                highlight=False,
            )
            out.print(f"drift report: {drift.get('report_uri')}", highlight=False)
    for node in record.nodes.values():
        for child in node.children:
            out.print(
                f"{node.name}: started {child} (run record {Path(record.run_dir).parent / child / 'run.json'})",
                highlight=False,
            )
    for line in failure_report(record, Path(record.run_dir).parent):
        out.print(line, highlight=False, markup=False)
    if record.message:
        out.print(record.message, style="red", highlight=False, markup=False)
    out.print(f"run record: {Path(record.run_dir) / 'run.json'}", highlight=False)
    out.print(
        f"MLflow:     {settings.tracking_uri}  (browse: mlflow ui --backend-store-uri {settings.tracking_uri})",
        highlight=False,
    )
    if record.phase != "Succeeded":
        command = f"mlops run {shlex.quote(workflow)} --resume {record.name}"
        out.print(
            f"resume:     {command}  (add -p NAME=VALUE to correct a parameter)",
            highlight=False,
            markup=False,
        )
