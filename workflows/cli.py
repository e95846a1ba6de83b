"""The ``mlops`` command line: one entry point for data, runs, manifests and models."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from steps.contract import BadInput, StepError

app = typer.Typer(
    name="mlops",
    help="Train, validate, register, deploy and watch models on Argo Workflows, or on this machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Sample and user datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
err = Console(stderr=True)


def contract_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Show an expected failure as one line and exit with the contract's code."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except StepError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            sys.exit(exc.exit_code)

    return wrapper


@data_app.command("generate")
@contract_errors
def data_generate(
    out: Annotated[str, typer.Argument(help="folder or s3:// prefix to write Parquet partitions to")],
    rows: Annotated[int, typer.Option(help="number of transactions")] = 20_000,
    seed: Annotated[int, typer.Option(help="random seed; the same seed gives the same data")] = 7,
    drift: Annotated[float, typer.Option(help="0 = reference period, 1 = strongly drifted")] = 0.0,
    partitions: Annotated[int, typer.Option(help="number of Parquet files")] = 4,
    start: Annotated[str, typer.Option(help="first day of the data (ISO date)")] = "2026-01-01",
    days: Annotated[int, typer.Option(help="days the data spans")] = 90,
    overwrite: Annotated[bool, typer.Option(help="replace data files already in OUT")] = False,
) -> None:
    """Write a synthetic card-transaction fraud dataset.

    Example: mlops data generate data/ --rows 50000 --seed 7
    """
    from workflows.sample_data import generate, write_partitions

    frame = generate(rows, seed=seed, drift=drift, start=start, days=days)
    written = write_partitions(frame, out, partitions, overwrite=overwrite)
    fraud = frame["target"].mean()
    err.print(
        f"wrote {len(frame):,} rows ({fraud:.2%} fraud, drift {drift}) to {len(written)} files under {out}"
    )


def parse_parameters(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadInput(f"parameter {pair!r}: use -p key=value")
        parameters[key] = value
    return parameters


def manifest_path(workflow: str) -> Path:
    from workflows.compile import MANIFESTS_DIR

    given = Path(workflow)
    if given.suffix in (".yaml", ".yml"):
        if not given.exists():
            raise BadInput(f"{workflow}: no such manifest file")
        return given
    path = MANIFESTS_DIR / f"{workflow}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in MANIFESTS_DIR.glob("*.yaml"))) or "none; run mlops compile"
        raise BadInput(f"workflow {workflow!r}: no manifests/{workflow}.yaml (known: {known})")
    return path


@app.command("compile")
@contract_errors
def compile_command(
    out: Annotated[Path | None, typer.Option(help="root to write manifests/ and deploy/ under")] = None,
) -> None:
    """Render every manifest: workflows to manifests/, serving, ArgoCD and RBAC to deploy/.

    Example: mlops compile && git diff manifests/ deploy/
    """
    from workflows.compile import ROOT, compile_manifests
    from workflows.settings import load_settings

    for path in compile_manifests(load_settings(), out or ROOT):
        err.print(f"wrote {path}", highlight=False)


@app.command("lint")
@contract_errors
def lint_command(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="files or folders (default: manifests/, deploy/)")
    ] = None,
) -> None:
    """Check manifests offline as argo lint would; one 'file: path: message' line per problem.

    Example: mlops lint manifests/training.yaml
    """
    from workflows.compile import OUTPUT_DIRS, ROOT
    from workflows.lint import lint_paths

    targets = paths or [ROOT / folder for folder in OUTPUT_DIRS]
    for target in targets:
        if not target.exists():
            raise BadInput(f"{target}: no such file or folder")
    problems = lint_paths(targets)
    for problem in problems:
        print(problem)
    if problems:
        err.print(f"[red]{len(problems)} problem(s)[/]")
        sys.exit(1)
    err.print("lint: no problems", highlight=False)


@app.command("run")
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


@app.command("drift")
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


def load_template(name: str) -> dict:
    """A compiled WorkflowTemplate by name, for workflows that start other workflows."""
    import yaml

    return yaml.safe_load(manifest_path(name).read_text())


def run_workflow(workflow: str, parameters: dict[str, str], parallelism: int, resume: str | None) -> None:
    import yaml

    from workflows.local import LocalRun, load_record
    from workflows.progress import Progress, table
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
    out = Console()
    with Progress(out) as progress:
        run = LocalRun(
            doc, parameters, settings.runs_root, parallelism, previous=previous, on_change=progress,
            load_template=load_template,
        )  # fmt: skip
        out.print(
            f"{'resuming' if previous else 'running'} {run.record.name} in {run.record.run_dir}",
            highlight=False,
        )
        record = run.run()
    out.print(table(record))
    report(out, record, settings)
    sys.exit(run.exit_code())


@app.command("cron")
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


def report(out: Console, record, settings) -> None:
    """Where things are, and what the run decided."""
    summary_path = Path(record.run_dir) / "notify" / "summary.json"
    if summary_path.exists():
        model = json.loads(summary_path.read_text()).get("model", {})
        if model.get("decision"):
            out.print(f"model: {model['decision']} ({model.get('reason', '')})", highlight=False)
        if model.get("version"):
            out.print(
                f"registered version {model['version']}; champion is version {model.get('champion_version') or 'none'}",
                highlight=False,
            )
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
    if record.message:
        out.print(f"[red]{record.message}[/]")
    out.print(f"run record: {Path(record.run_dir) / 'run.json'}", highlight=False)
    out.print(
        f"MLflow:     {settings.tracking_uri}  (browse: mlflow ui --backend-store-uri {settings.tracking_uri})",
        highlight=False,
    )


models_app = typer.Typer(
    help="The model registry: versions, aliases, promotion, rollback.", no_args_is_help=True
)
app.add_typer(models_app, name="models")


def _registry():
    from steps.tracking import connect
    from workflows.settings import load_settings

    settings = load_settings()
    return settings, connect(settings)


@models_app.command("list")
@contract_errors
def models_list(model: Annotated[str | None, typer.Option(help="default MLOPS_MODEL_NAME")] = None) -> None:
    """List a model's versions with their aliases and key metrics.

    Example: mlops models list
    """
    from rich.table import Table

    settings, client = _registry()
    name = model or settings.model_name
    versions = sorted(client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version))
    if not versions:
        raise BadInput(f"model {name!r}: no versions registered")
    aliases = {}
    for alias, version in (client.get_registered_model(name).aliases or {}).items():
        aliases.setdefault(str(version), []).append(alias)
    view = Table(title=name, title_justify="left")
    for column in ("version", "aliases", "decision", "test AUC", "data", "run"):
        view.add_column(column)
    for version in versions:
        metrics = client.get_run(version.run_id).data.metrics if version.run_id else {}
        auc = metrics.get("test_roc_auc")
        view.add_row(
            str(version.version),
            ", ".join(sorted(aliases.get(str(version.version), []))),
            version.tags.get("mlops.decision", ""),
            f"{auc:.4f}" if auc is not None else "",
            version.tags.get("mlops.data_fingerprint", "")[:12],
            version.tags.get("mlops.workflow_name", ""),
        )
    Console().print(view)


@models_app.command("promote")
@contract_errors
def models_promote(
    version: Annotated[str, typer.Argument(help="the version to make champion")],
    model: Annotated[str | None, typer.Option(help="default MLOPS_MODEL_NAME")] = None,
) -> None:
    """Point the champion alias at VERSION (the previous champion is recorded for rollback).

    Example: mlops models promote 3
    """
    from steps.promote import promote_version

    settings, client = _registry()
    name = model or settings.model_name
    from mlflow.exceptions import MlflowException

    try:
        client.get_model_version(name, version)
    except MlflowException:
        raise BadInput(f"model {name!r} has no version {version!r}") from None
    previous = promote_version(client, name, version)
    err.print(f"{name}@champion -> version {version} (was {previous or 'none'})", highlight=False)


@models_app.command("rollback")
@contract_errors
def models_rollback(
    model: Annotated[str | None, typer.Option(help="default MLOPS_MODEL_NAME")] = None,
) -> None:
    """Put the previous champion back: registry alias and a Git revert of the deploy.

    Example: mlops models rollback
    """
    from steps.deploy import roll_back_champion

    settings, client = _registry()
    message = roll_back_champion(settings, client, model or settings.model_name)
    err.print(message, highlight=False)


@app.command("serve")
@contract_errors
def serve(
    alias: Annotated[str, typer.Option(help="registry alias to serve")] = "champion",
    model: Annotated[str | None, typer.Option(help="default MLOPS_MODEL_NAME")] = None,
    port: Annotated[int, typer.Option(help="port on loopback")] = 8080,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
) -> None:
    """Serve a registered model on loopback: /health, /invocations (raw columns), /metrics.

    Example: mlops serve --alias champion --port 8080
    """
    import mlflow.pyfunc
    import uvicorn
    from mlflow.exceptions import MlflowException

    from workflows.serve import create_app

    settings, client = _registry()
    name = model or settings.model_name
    try:
        version = str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        raise BadInput(f"model {name!r} has no version aliased {alias!r} (see mlops models list)") from None
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    err.print(f"serving {name} version {version} ({alias}) on http://{host}:{port}", highlight=False)
    uvicorn.run(create_app(loaded, name, version, alias), host=host, port=port, log_level="warning")


@app.command("settings")
@contract_errors
def show_settings() -> None:
    """Print the effective settings (from MLOPS_* and standard variables) as JSON.

    Example: MLOPS_STORAGE_ROOT=/tmp/m mlops settings
    """
    from workflows.settings import load_settings

    settings = load_settings()
    shown = settings.model_dump(mode="json")
    shown["tracking_uri"] = settings.tracking_uri
    print(json.dumps(shown, indent=2))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
