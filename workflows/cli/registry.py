"""mlops models and serve: the registry's versions and aliases, and the model on loopback."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from steps.errors import BadInput
from workflows.cli.support import contract_errors, err

models_app = typer.Typer(
    help="The model registry: versions, aliases, promotion, rollback.", no_args_is_help=True
)


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
    """Make VERSION champion and deploy it: the alias and a GitOps commit together, or neither.

    A failed push or sync puts the alias back (exit 70); a version with the champion's weights is
    refused (exit 65). A local run of the model holding its mutex is waited for, not raced.
    Example: mlops models promote 3
    """
    from steps.deploy import promote_champion
    from steps.tracking import model_version, tracking_errors
    from workflows.local.locks import model_lock

    settings, client = _registry()
    name = model or settings.model_name
    with tracking_errors("reading the registry"):
        model_version(client, name, version)
    with model_lock(settings.storage_root, name):
        message = promote_champion(settings, client, name, version)
    err.print(message, highlight=False)


@models_app.command("rollback")
@contract_errors
def models_rollback(
    model: Annotated[str | None, typer.Option(help="default MLOPS_MODEL_NAME")] = None,
) -> None:
    """Deploy the champion before this one again: the alias and a GitOps commit together.

    Each rollback goes one champion further back in the recorded history; with none left it is
    refused (exit 65). A local run of the model holding its mutex is waited for, not raced.
    Example: mlops models rollback
    """
    from steps.deploy import roll_back_champion
    from workflows.local.locks import model_lock

    settings, client = _registry()
    name = model or settings.model_name
    with model_lock(settings.storage_root, name):
        message = roll_back_champion(settings, client, name)
    err.print(message, highlight=False)


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

    from workflows.local.serve import create_app

    settings, client = _registry()
    name = model or settings.model_name
    try:
        version = str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        raise BadInput(f"model {name!r} has no version aliased {alias!r} (see mlops models list)") from None
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    err.print(f"serving {name} version {version} ({alias}) on http://{host}:{port}", highlight=False)
    uvicorn.run(create_app(loaded, name, version, alias), host=host, port=port, log_level="warning")
