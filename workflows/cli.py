"""The ``mlops`` command line: one entry point for data, runs, manifests and models."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any

import typer
from rich.console import Console

from steps.contract import StepError

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
