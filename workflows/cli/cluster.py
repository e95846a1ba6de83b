"""mlops submit, apply, retry, logs and watch: the cluster, and runs started by new data."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
import yaml

from steps.errors import BadInput, BadSetting
from workflows.cli.support import contract_errors, err, manifest_path, parse_parameters

Via = Annotated[str, typer.Option(help="argo: the Argo Server (ARGO_SERVER); kube: the Kubernetes API")]
Params = Annotated[list[str] | None, typer.Option("-p", "--param", help="workflow parameter key=value")]


def _say(line: str) -> None:
    err.print(line, highlight=False, soft_wrap=True)


def _kube_if_reachable(settings, cluster):
    """The Kubernetes API for preflight's look at ServiceAccounts, ConfigMaps and Secrets, if any."""
    from workflows.cluster.client import KubeApi

    if isinstance(cluster, KubeApi):
        return cluster
    try:
        return KubeApi(settings)
    except BadSetting:
        return None


@contract_errors
def submit_command(
    workflow: Annotated[
        str, typer.Argument(help="training, drift or sweep (a WorkflowTemplate in manifests/)")
    ] = "training",
    param: Params = None,
    via: Via = "argo",
    wait: Annotated[
        bool, typer.Option(help="follow the run's steps to the end; exit 0 only if it succeeded")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="print the Workflow and send nothing")] = False,
    preflight: Annotated[bool, typer.Option(help="check the cluster has what the run needs first")] = True,
    interval: Annotated[float, typer.Option(help="seconds between polls with --wait")] = 5.0,
) -> None:
    """Submit a run of a WorkflowTemplate to the cluster, with this environment's settings.

    Example: mlops submit training -p epochs=10 --wait;
    mlops submit training -p max-cost=5 --wait (a budget: refused if estimated over, stopped once over)
    """
    from workflows.argo.workflow_ref import workflow_manifest
    from workflows.cluster import submit
    from workflows.cluster.client import connect
    from workflows.local.budget import take_budget
    from workflows.settings import load_settings

    settings = load_settings()
    template = yaml.safe_load(manifest_path(workflow).read_text())
    if template.get("kind") != "WorkflowTemplate":
        raise BadInput(f"{workflow}: a {template.get('kind')}, not a WorkflowTemplate")
    given = parse_parameters(param or [])
    budget = take_budget(given, template)  # -p max-cost / max-gpu-hours: the gate's, not the workflow's
    if budget.limits and not dry_run:
        _budget_needs(budget, wait, via)
    parameters = submit.run_parameters(template, given, settings)
    manifest = workflow_manifest(template["metadata"]["name"], parameters, settings)
    if dry_run:
        print(yaml.safe_dump(manifest, sort_keys=False), end="")
        return
    cluster = connect(settings, via)
    if preflight:
        submit.check(
            submit.preflight(template, parameters, cluster, _kube_if_reachable(settings, cluster)), _say
        )
    watch = _budget_gate(cluster, template, parameters, budget, settings) if budget.limits else None
    created = cluster.create(manifest)
    name = created["metadata"]["name"]
    print(name)
    _say(f"submitted {name} to {cluster.url} (namespace {cluster.namespace}, via {cluster.via})")
    if wait:
        _finish(cluster, name, interval, watch)


def _budget_needs(budget, wait: bool, via: str) -> None:
    """A cluster run's budget is enforced by the submit that follows it, through the Argo Server's stop."""
    from workflows.local.budget import LIMITS

    given = " / ".join(f"-p {name}" for name, total in LIMITS.items() if total in budget.limits)
    if not wait:
        raise BadInput(f"{given}: a cluster run's budget is checked only while mlops follows it; add --wait")
    if via != "argo":
        raise BadSetting(f"{given}: the budget stops a run through the Argo Server; leave out --via {via}")


def _budget_gate(cluster, template: dict, parameters: dict[str, str], budget, settings):
    """Refuse (65) a run estimated over its budget from the template's last successful cluster runs, before
    anything is sent; else say what was checked and return the check ``follow`` makes on every poll."""
    from workflows.cluster.budget import Watch, history
    from workflows.local.cost_estimate import count_rows, project

    name = template["metadata"]["name"]
    past = history(cluster, name, settings)
    rows = None
    if past and all(past_rows for _, past_rows in past) and parameters.get("data-uri"):
        rows = count_rows(parameters["data-uri"])  # only worth reading the data when the history has rows
    projected = project(past, rows) if past else None
    _say(budget.gate(projected, name, settings.prices.currency).replace("budget:     ", "budget: ", 1))
    return Watch(cluster, budget, settings, _say)


def _finish(cluster, name: str, interval: float, watch=None) -> None:
    from workflows.cluster.submit import follow

    finished = follow(cluster, name, _say, interval, check=watch)
    status = finished.get("status") or {}
    phase = status.get("phase")
    _say(f"{name}: {phase}{': ' + status['message'] if status.get('message') else ''}")
    if watch is not None and watch.reason:
        raise BadInput(f"{name}: {watch.reason}")
    sys.exit(0 if phase == "Succeeded" else 1)


@contract_errors
def apply_command(
    folder: Annotated[Path | None, typer.Option(help="compiled manifests to apply")] = None,
) -> None:
    """Create or update the WorkflowTemplates, CronWorkflows, EventSource and Sensor (Kubernetes API).

    Example: mlops compile && mlops apply
    """
    from workflows.argo.lint import lint_paths
    from workflows.cluster.apply import apply_object, cluster_objects
    from workflows.cluster.client import KubeApi
    from workflows.pipelines.compile import MANIFESTS_DIR
    from workflows.settings import load_settings

    folder = folder or MANIFESTS_DIR
    problems = lint_paths([folder])
    if problems:
        raise BadInput(f"{problems[0]} ({len(problems)} lint problem(s); fix them before applying)")
    kube = KubeApi(load_settings())
    for path, document in cluster_objects(folder):
        done = apply_object(kube, document)
        _say(f"{document['kind']}/{document['metadata']['name']} {done} ({path.name})")


@contract_errors
def retry_command(
    run: Annotated[str, typer.Argument(help="the cluster run's name, e.g. training-x7k2p")],
    wait: Annotated[bool, typer.Option(help="follow the retried run to the end")] = False,
    interval: Annotated[float, typer.Option(help="seconds between polls with --wait")] = 5.0,
) -> None:
    """Retry a failed cluster run from its failed steps (the Argo Server's retry); succeeded steps are kept.

    Example: mlops retry training-x7k2p --wait
    """
    from workflows.cluster.client import ArgoServer
    from workflows.settings import load_settings

    # No --via: the Kubernetes API cannot reset a run's failed nodes, only the Argo Server can.
    server = ArgoServer(load_settings(), needed_for="mlops retry")
    if server.retry(run) is None:
        raise BadInput(f"run {run!r}: not found in namespace {server.namespace}")
    _say(f"retrying {run} from its failed steps")
    if wait:
        _finish(server, run, interval)


@contract_errors
def logs_command(
    run: Annotated[str, typer.Argument(help="the cluster run's name")],
    step: Annotated[str | None, typer.Option(help="only this step (task name, e.g. train)")] = None,
    via: Via = "argo",
) -> None:
    """Print a cluster run's step logs, each line prefixed with its step.

    Example: mlops logs training-x7k2p --step train
    """
    from workflows.cluster.client import connect
    from workflows.settings import load_settings

    cluster = connect(load_settings(), via)
    workflow = cluster.get("Workflow", run)
    if workflow is None:
        raise BadInput(f"run {run!r}: not found in namespace {cluster.namespace}")
    printed = 0
    for owner, line in cluster.logs(workflow, step):
        print(f"{owner}: {line}")
        printed += 1
    if step and not printed:
        raise BadInput(f"run {run!r}: no logs for step {step!r}")


@contract_errors
def watch_command(
    source: Annotated[str, typer.Argument(help="folder or s3:// prefix where new data lands")],
    param: Params = None,
    interval: Annotated[float, typer.Option(help="seconds between polls")] = 30.0,
    once: Annotated[bool, typer.Option(help="poll once, run what is new, and stop")] = False,
    ledger: Annotated[Path | None, typer.Option(help="ledger folder (default <storage root>/watch)")] = None,
) -> None:
    """Start a local training run for each new data file under SOURCE, exactly once per file.

    Example: mlops watch s3://fraud-data/incoming/ --interval 60
    """
    from steps import storage
    from workflows.cli.runs import run_locally
    from workflows.local.watch import Ledger, poll
    from workflows.settings import load_settings

    settings = load_settings()
    if ledger is None and storage.is_s3(settings.storage_root):
        raise BadSetting(
            "setting MLOPS_STORAGE_ROOT: on S3; give the watch ledger a local folder with --ledger"
        )
    book = Ledger(ledger or Path(settings.storage_root) / "watch")
    extra = parse_parameters(param or [])

    def start_run(uri: str) -> tuple[str, str]:
        record, _ = run_locally("training", {**extra, "data-uri": uri}, 4, None)
        return record.name, record.phase

    _say(f"watching {source} (ledger {book.folder})")
    while True:
        poll(source, book, start_run, settings.allowed_data_prefixes, _say)
        if once:
            return
        time.sleep(interval)


COMMANDS = {
    "submit": submit_command,
    "apply": apply_command,
    "retry": retry_command,
    "logs": logs_command,
    "watch": watch_command,
}
