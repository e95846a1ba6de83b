"""mlops runs: a local run's nodes as ``run.json`` records them (``show``), and where an artifact lies (``artifact``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from steps.errors import BadInput
from workflows.cli.support import contract_errors

if TYPE_CHECKING:
    from workflows.local.record import Node, RunRecord

runs_app = typer.Typer(
    help="Local runs: each node's phase, attempts, outputs and artifacts.", no_args_is_help=True
)
RUN_HELP = "a run's name (under the storage root's runs/) or its folder"


def load_run(run: str) -> RunRecord:
    from workflows.local.record import load_record
    from workflows.settings import load_settings

    folder = Path(run) if Path(run).is_dir() else Path(load_settings().runs_root) / run
    if not (folder / "run.json").exists():
        raise BadInput(f"run {run!r}: no run.json in {folder}; give a run's name as `mlops run` printed it")
    return load_record(folder)


def every_node(record: RunRecord) -> dict[str, Node]:
    """The DAG's nodes, then the lifecycle hooks', then the exit handler's, by name."""
    handler = {record.exit_handler.name: record.exit_handler} if record.exit_handler else {}
    return record.nodes | record.hooks | handler


def artifacts_of(node: Node) -> dict[str, dict]:
    """The artifacts the node's last attempt saved (a retried node keeps only its last attempt's)."""
    return dict(getattr(node.attempts[-1], "artifacts", None) or {}) if node.attempts else {}


def size_text(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


@runs_app.command("show")
@contract_errors
def show_command(run: Annotated[str, typer.Argument(help=RUN_HELP)]) -> None:
    """Every node of a run: phase, attempts (and the last exit code), time, message, outputs, artifacts.

    Example: mlops runs show training-x7k2q
    """
    record = load_run(run)
    print(f"{record.name} ({record.template}): {record.phase}  {record.message}".rstrip())
    nodes = every_node(record)
    width = max(map(len, nodes), default=0)
    for name, node in nodes.items():
        last = node.attempts[-1].exit_code if node.attempts else None
        attempts = f"{len(node.attempts)} attempt{'s' * (len(node.attempts) != 1)}"
        attempts += f" (exit {last})" if last not in (None, 0) else ""
        took = f"  {node.duration_seconds:.1f} s" if node.attempts else ""
        print(f"  {name:<{width}}  {node.phase:<9}  {attempts}{took}  {node.message}".rstrip())
        for key, value in node.outputs.items():
            if not key.startswith("."):  # the executor's own files (a step's message)
                print(f"    output {key}={value}")
        for key, art in artifacts_of(node).items():  # paths whole, so they can be copied
            print(f"    artifact {key}: {art['location']} ({size_text(int(art.get('size', 0)))})")


@runs_app.command("artifact")
@contract_errors
def artifact_command(
    run: Annotated[str, typer.Argument(help=RUN_HELP)],
    node: Annotated[str, typer.Argument(help="a node of that run, as `mlops runs show` names it")],
    name: Annotated[str, typer.Argument(help="one of the node's output artifacts")],
) -> None:
    """Print where a node's output artifact lies: a file, a folder or a .tgz, or its s3:// URI when the
    storage root is a bucket.

    Example: mlops runs artifact training-x7k2q generate data
    """
    record = load_run(run)
    nodes = every_node(record)
    if node not in nodes:
        raise BadInput(f"run {record.name!r} has no node {node!r}; its nodes: {', '.join(nodes)}")
    saved = artifacts_of(nodes[node])
    if name not in saved:
        names = ", ".join(saved) or "none"
        raise BadInput(f"node {node!r} of run {record.name!r} saved no artifact {name!r}; it saved: {names}")
    print(saved[name]["location"])
