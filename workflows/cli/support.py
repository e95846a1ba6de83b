"""What the mlops commands share: one-line errors with the contract's exit codes, parameters, manifests."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from steps.errors import BadInput, StepError

if TYPE_CHECKING:
    from workflows.settings import Settings

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


def parse_parameters(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadInput(f"parameter {pair!r}: use -p key=value")
        parameters[key] = value
    return parameters


def manifest_path(workflow: str) -> Path:
    from workflows.pipelines.compile import MANIFESTS_DIR

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


def load_template(name: str) -> dict:
    """A compiled WorkflowTemplate by name, for workflows that start other workflows."""
    import yaml

    return yaml.safe_load(manifest_path(name).read_text())


def local_document(workflow: str, settings: Settings) -> dict:
    """What a local run executes: one of the project's workflows compiled with this machine's
    settings (manifests/ holds the cluster's, from cluster.env), else the named manifest file."""
    from workflows.argo import yaml_io
    from workflows.argo.lint import lint_documents
    from workflows.pipelines.compile import pipeline_document, pipelines

    if workflow not in pipelines():
        return load_template(workflow)
    document = pipeline_document(workflow, settings)
    # `make run` used to lint what it compiled; the local copy is linted as the committed one is.
    problems = lint_documents(f"{workflow} (compiled for this machine)", yaml_io.dump(document))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise BadInput(f"{problems[0]}{more}")
    return document


def local_templates(settings: Settings) -> Callable[[str], dict]:
    """How a local run finds the WorkflowTemplates its tasks start (drift's retrain: training)."""
    return lambda name: local_document(name, settings)
