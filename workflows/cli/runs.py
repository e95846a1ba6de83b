"""mlops run, drift and cron: compiled workflows on the local executor, and the schedules."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from steps.errors import BadInput
from workflows.cli.support import contract_errors, local_templates, parse_parameters

if TYPE_CHECKING:
    from workflows.local.record import RunRecord


@contract_errors
def run_command(
    workflow: Annotated[
        str,
        typer.Argument(
            help="a workflow in manifests/ (training), a manifest file, or a Hera file FILE.py[:NAME]"
        ),
    ] = "training",
    param: Annotated[
        list[str] | None, typer.Option("-p", "--param", help="workflow parameter key=value")
    ] = None,
    parallelism: Annotated[int, typer.Option(help="most tasks at once")] = 4,
    resume: Annotated[
        str | None, typer.Option(help="re-run a failed local run (its name) from where it failed")
    ] = None,
    with_: Annotated[
        list[str] | None,
        typer.Option(
            "--with",
            help="WorkflowTemplates its templateRef/workflowTemplateRef name: a manifest, a Hera .py or a folder",
        ),
    ] = None,
) -> None:
    """Run a compiled workflow on this machine, every task a subprocess.

    Example: mlops run training -p epochs=5 -p min-auc=0.8;
    mlops run training -p max-cost=0.50 (a budget: refused if estimated over, stopped once over);
    mlops run pipeline.py:w --with templates/
    """
    run_workflow(workflow, parse_parameters(param or []), parallelism, resume, with_ or [])


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


def run_workflow(
    workflow: str,
    parameters: dict[str, str],
    parallelism: int,
    resume: str | None,
    with_: list[str] | None = None,
) -> None:
    sys.exit(run_locally(workflow, parameters, parallelism, resume, with_)[1])


def run_locally(
    workflow: str,
    parameters: dict[str, str],
    parallelism: int,
    resume: str | None,
    with_: list[str] | None = None,
) -> tuple[RunRecord, int]:
    """Run a compiled workflow on the local executor, showing progress; (its record, exit code).
    ``with_``: the ``--with`` paths whose WorkflowTemplates its references name."""
    from workflows.local.warm_start import WarmStarter

    # First, for the project's workflows, even before the settings are read (0.3 s): its imports (seconds)
    # overlap this command's own start; the cost is recorded through it at the end. Any other workflow's
    # run starts one at its first step, if it has one.
    starter = WarmStarter(None) if names_a_pipeline(workflow) else None
    try:
        from workflows.settings import load_settings

        settings = load_settings()
        if starter is not None and not settings.local_warm_start:  # begun for nothing: warm starts are off
            starter.close()
            starter = None
        return run_with(starter, settings, workflow, parameters, parallelism, resume, with_)
    finally:
        if starter is not None:
            starter.close()


def names_a_pipeline(workflow: str) -> bool:
    """A name (``training``), not a file (``FILE.py[:NAME]``, ``FILE.yaml``): known before Hera is imported."""
    return not Path(workflow).suffix and ":" not in workflow and not Path(workflow).exists()


def run_with(
    starter,
    settings,
    workflow: str,
    parameters: dict,
    parallelism: int,
    resume: str | None,
    with_: list[str] | None,
) -> tuple[RunRecord, int]:
    """``run_locally`` with its settings read and its warm starter (or None) started."""
    from workflows.argo import yaml_io
    from workflows.cli.compiled import compiled_document
    from workflows.local.budget import take_budget
    from workflows.local.executor import LocalRun
    from workflows.local.loading import library_documents
    from workflows.local.parameter_check import check_parameters
    from workflows.local.progress import Progress, console, table
    from workflows.local.record import WORKFLOW_FILE, load_record
    from workflows.local.stop import SignalStop

    library = library_documents(with_ or [])  # read first: a bad --with path is refused before anything
    previous = None
    if resume:
        previous = load_record(Path(settings.runs_root) / resume)
        if previous.phase == "Succeeded":
            raise BadInput(f"run {resume!r} already succeeded; nothing to resume")
        kept = Path(previous.run_dir) / WORKFLOW_FILE  # resume what ran, whatever changed since
        doc = (
            yaml_io.load(kept.read_text())
            if kept.exists()
            else compiled_document(workflow, settings, library)
        )
    else:
        doc = compiled_document(workflow, settings, library)
        declared = {p["name"] for p in (doc.get("spec", {}).get("arguments") or {}).get("parameters") or []}
        # Where data, runs and models are is a setting of this machine, not of the compiled file.
        for name, value in settings.workflow_parameters().items():
            if name in declared and name not in parameters:
                parameters[name] = value
    budget = take_budget(parameters, doc)  # -p max-cost / max-gpu-hours: the gate's, not the workflow's
    check_parameters(doc, parameters, starter)  # `-p epochs=abc` refused now, not when train starts
    out = console()
    with Progress(out) as progress:
        run = LocalRun(
            doc, parameters, settings.runs_root, parallelism, previous=previous,
            on_change=budget.watching(progress, settings),
            load_template=local_templates(settings, library), warm_start=starter or settings.local_warm_start,
        )  # fmt: skip
        checked = None if previous else budget.refuse_if_over(run, settings)  # over its estimate: 65, no step
        out.print(
            f"{'resuming' if previous else 'running'} {run.record.name} in {run.record.run_dir}",
            highlight=False,
        )
        if checked:
            out.print(checked, highlight=False, markup=False, soft_wrap=True)

        def say(line: str) -> None:
            out.print(line, style="bold", highlight=False, markup=False)

        def killed() -> None:  # a second signal: the record as it was left, then the process exits
            progress.__exit__()
            out.print(table(run.record))
            report(out, run.record, settings, workflow)

        # Ctrl-C or SIGTERM stops the run as `argo stop` would; a second one kills it (workflows.local.stop).
        stopper = SignalStop(run, say, killed)
        record = stopper()
    out.print(table(record))
    report(out, record, settings, workflow)
    from workflows.cli.costs import settle_cost

    # cost.json, and the totals on its MLflow runs and model version
    settle_cost(out, record, settings, starter)
    if stopper.exit_code() is not None:
        sys.exit(stopper.exit_code())  # a stopped run ends the command too (`mlops watch` included)
    return record, budget.exit_code() or run.exit_code()


@contract_errors
def cron_command(
    action: Annotated[str, typer.Argument(help="list")] = "list",
    count: Annotated[int, typer.Option(help="next run times to show")] = 3,
) -> None:
    """Show each CronWorkflow's schedule, timezone, template and next run times, from the settings
    the cluster's CronWorkflows are compiled from (cluster.env).

    Example: mlops cron list
    """
    import os
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from croniter import croniter
    from rich.table import Table

    from cron.schedules import schedules
    from workflows.pipelines import compile as compiled
    from workflows.settings import env_name

    if action != "list":
        raise BadInput(f"cron {action!r}: the only action is 'list'")
    # The settings, not manifests/ (which may be stale); the cluster's, as `mlops compile` reads them.
    settings = compiled.cluster_settings(compiled.CLUSTER_ENV)
    variables = [env_name(f) for f in ("retrain_schedule", "drift_schedule", "schedule_timezone")]
    view = Table(
        title=f"CronWorkflows, from settings {', '.join(variables)} in {compiled.CLUSTER_ENV.name} "
        "(their defaults where it sets none)",
        title_justify="left",
    )
    for column in ("name", "schedule", "timezone", "template", "next runs"):
        view.add_column(column)
    for name, cron in schedules(settings).items():
        zone = ZoneInfo(cron.timezone or "UTC")
        for schedule in cron.schedules or []:
            times = croniter(schedule, datetime.now(zone))
            upcoming = ", ".join(times.get_next(datetime).strftime("%a %Y-%m-%d %H:%M") for _ in range(count))
            view.add_row(name, schedule, str(zone), cron.workflow_template_ref.name, upcoming)
    out = Console()
    out.print(view)
    for variable, field in zip(
        variables, ("retrain_schedule", "drift_schedule", "schedule_timezone"), strict=True
    ):
        shell = os.environ.get(variable)
        if shell is not None and shell != getattr(settings, field):
            out.print(
                f"note: this shell's {variable}={shell!r} is not used; set it in {compiled.CLUSTER_ENV.name}, "
                "then mlops compile and mlops apply",
                highlight=False,
                markup=False,
            )


def model_lines(model: dict, settings) -> list[str]:
    """What a run decided about its model, from its notify summary: decision, version, deployment."""
    lines = []
    if model.get("decision"):
        lines.append(f"model: {model['decision']} ({model.get('reason', '')})")
    if model.get("version"):
        champion = model.get("champion_version")
        if champion is not None and str(champion) == str(model["version"]):
            lines.append(f"registered version {model['version']}: the challenger, promoted to champion")
        else:
            lines.append(
                f"registered version {model['version']} as challenger; champion is version {champion or 'none'}"
            )
    if model.get("deployed_commit"):
        what = "deployed" if model.get("deploy_changed") else "already deployed"
        lines.append(f"{what}: commit {model['deployed_commit'][:12]} in {settings.gitops_url}")
    return lines


def child_lines(runs_root: Path, child: str, settings) -> list[str]:
    """A run started by this one (drift's retrain): how it ended and what it decided, from its own
    record and notify summary; nothing when it left neither."""
    record_path, summary_path = runs_root / child / "run.json", runs_root / child / "notify" / "summary.json"
    lines = []
    if record_path.exists():
        lines.append(f"{child}: {json.loads(record_path.read_text()).get('phase', 'unknown')}")
    if summary_path.exists():
        model = json.loads(summary_path.read_text()).get("model") or {}
        lines += [f"{child}: {line}" for line in model_lines(model, settings)]
    return lines


def venv_command(name: str) -> str:
    """A console script of this interpreter's venv as a shell can run it: ``make run`` never puts the
    venv on PATH, so a bare ``mlflow`` or ``mlops`` is "command not found" there and in a fresh shell."""
    script = Path(sys.executable).parent / name
    if not script.exists():
        return name
    if script.is_relative_to(Path.cwd()):
        return str(script.relative_to(Path.cwd()))  # .venv/bin/mlflow after `make run`
    return str(script)


def mlflow_ui_command(tracking_uri: str) -> str:
    """``mlflow ui`` on this tracking store, one line to copy and run, the URI quoted for the shell."""
    return shlex.join([venv_command("mlflow"), "ui", "--backend-store-uri", tracking_uri])


def report(out: Console, record: RunRecord, settings, workflow: str = "training") -> None:
    """Where things are, what the run decided and, when it failed, why and how to resume it."""
    from workflows.local.progress import failure_report

    def say(line: str) -> None:
        out.print(line, highlight=False, markup=False, soft_wrap=True)  # soft: a long path stays one line

    summary_path = Path(record.run_dir) / "notify" / "summary.json"
    if summary_path.exists():
        summary = json.loads(summary_path.read_text())
        for line in model_lines(summary.get("model") or {}, settings):
            say(line)
        drift = summary.get("drift") or {}
        if drift:
            columns = ", ".join(drift.get("drifted_columns") or []) or "none"
            verdict = "DRIFT" if drift.get("drifted") else "no drift"
            say(f"drift: {verdict} (share {drift.get('drift_share')}; top columns: {columns})")
            say(f"drift report: {drift.get('report_uri')}")
    runs_root = Path(record.run_dir).parent
    for node in record.nodes.values():
        # A looped task's children are its items, nodes of this run; a resource task's are child runs.
        for child in (c for c in node.children if c not in record.nodes):
            say(f"{node.name}: started {child} (run record {runs_root / child / 'run.json'})")
            # Not just "started": what the retrain decided is what a drift run is for.
            for line in child_lines(runs_root, child, settings):
                say(f"  {line}")
    for line in failure_report(record, Path(record.run_dir).parent):
        out.print(line, highlight=False, markup=False)
    if record.message:
        out.print(record.message, style="red", highlight=False, markup=False)
    say(f"run record: {Path(record.run_dir) / 'run.json'}")
    from workflows.cli.compiled import is_pipeline

    if not is_pipeline(workflow):
        pass  # a user's own workflow: the project's tracking store is none of its business
    elif settings.tracking_uri.startswith(("http://", "https://")):
        say(f"MLflow:     {settings.tracking_uri}")
    else:
        say(f"MLflow:     {settings.tracking_uri}; to browse it, run:")
        say(f"  {mlflow_ui_command(settings.tracking_uri)}")
    if record.phase != "Succeeded":
        command = shlex.join([venv_command("mlops"), "run", workflow, "--resume", record.name])
        say(f"resume:     {command}  (add -p NAME=VALUE to correct a parameter)")
