"""The ``mlops`` command line: one entry point for data, runs, manifests and models."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from steps.errors import EXIT_BAD_INPUT, BadInput
from workflows.cli import cache as cli_cache
from workflows.cli import cluster as cli_cluster
from workflows.cli import costs as cli_costs
from workflows.cli import registry as cli_registry
from workflows.cli import runs as cli_runs
from workflows.cli import runs_view as cli_runs_view
from workflows.cli.collector import collector_paused
from workflows.cli.ending import end
from workflows.cli.support import contract_errors, err

# -h as well as --help, for the app and, inherited through click's context, every subcommand.
HELP = {"help_option_names": ["-h", "--help"]}
app = typer.Typer(
    name="mlops",
    help="Train, validate, register, deploy and watch models on Argo Workflows, or on this machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=HELP,
)
data_app = typer.Typer(help="Sample and user datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


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

    Example: mlops data generate data/train/ --rows 50000 --seed 7
    """
    from workflows.local.sample_data import generate, write_partitions

    frame = generate(rows, seed=seed, drift=drift, start=start, days=days)
    written = write_partitions(frame, out, partitions, overwrite=overwrite)
    fraud = frame["target"].mean()
    err.print(
        f"wrote {len(frame):,} rows ({fraud:.2%} fraud, drift {drift}) to {len(written)} files under {out}"
    )


@app.command("compile")
@contract_errors
def compile_command(
    out: Annotated[Path | None, typer.Option(help="root to write manifests/ and deploy/ under")] = None,
) -> None:
    """Render every manifest from cluster.env (not this shell's variables): workflows to manifests/,
    serving, ArgoCD and RBAC to deploy/.

    Example: mlops compile && git diff manifests/ deploy/
    """
    from workflows.pipelines.compile import ROOT, cluster_settings, compile_manifests

    with collector_paused():
        written = compile_manifests(cluster_settings(), out or ROOT)
    for path in written:
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
    from workflows.argo.lint import lint_paths
    from workflows.pipelines.compile import OUTPUT_DIRS, ROOT

    targets = paths or [ROOT / folder for folder in OUTPUT_DIRS]
    for target in targets:
        if not target.exists():
            raise BadInput(f"{target}: no such file or folder")
    with collector_paused():
        problems = lint_paths(targets)
    for problem in problems:
        print(problem)
    if problems:
        err.print(f"[red]{len(problems)} problem(s)[/]")
        sys.exit(EXIT_BAD_INPUT)  # the manifests are bad input; exit 1 is reserved for bugs
    err.print("lint: no problems", highlight=False)


@app.command("settings")
@contract_errors
def show_settings() -> None:
    """Print the effective settings as JSON, each under the environment variable that sets it.

    Example: MLOPS_STORAGE_ROOT=/tmp/m mlops settings
    """
    from workflows.settings import env_name, load_settings

    settings = load_settings()
    # Keyed by variable: what a user sets, not the Python field it lands in.
    shown = {env_name(field): value for field, value in settings.model_dump(mode="json").items()}
    shown[env_name("mlflow_tracking_uri")] = settings.tracking_uri  # the effective one, default included
    shown[env_name("gitops_repo_url")] = settings.gitops_url
    print(json.dumps(shown, indent=2))


app.add_typer(cli_registry.models_app, name="models")
app.add_typer(cli_cache.cache_app, name="cache")
app.add_typer(cli_runs_view.runs_app, name="runs")
for name, command in {
    "run": cli_runs.run_command,
    "drift": cli_runs.drift_command,
    "cron": cli_runs.cron_command,
    "serve": cli_registry.serve,
    "cost": cli_costs.cost_command,
    **cli_cluster.COMMANDS,
}.items():
    app.command(name)(command)


def main() -> None:
    try:
        app()
    except SystemExit as done:  # click ends every command with one, 0 included
        end(done.code)
    end(0)


if __name__ == "__main__":
    main()
