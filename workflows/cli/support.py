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
    from workflows.argo import yaml_io

    return yaml_io.load(manifest_path(name).read_text())


def manifest_file(workflow: str) -> tuple[dict, list[dict]]:
    """(the document to run, the others beside it) of a manifest file: its one Workflow when it holds
    several documents (the WorkflowTemplates it references may travel in the same file)."""
    from workflows.local.loading import manifest_documents

    path = manifest_path(workflow)
    documents = manifest_documents(path)
    if len(documents) == 1:
        return documents[0], []
    runnable = [doc for doc in documents if doc.get("kind") == "Workflow"]
    if len(runnable) != 1:
        raise BadInput(
            f"{path}: holds {len(documents)} documents and {len(runnable)} Workflows; "
            "put the one to run in a file of its own and pass the others with --with"
        )
    return runnable[0], [doc for doc in documents if doc is not runnable[0]]


def local_document(workflow: str, settings: Settings, library: list[dict] | None = None) -> dict:
    """What a local run executes: one of the project's workflows compiled with this machine's
    settings (manifests/ holds the cluster's, from cluster.env), a Hera file's workflow
    (``FILE.py[:NAME]``), else the named manifest file; its templateRef, workflowTemplateRef and
    templateDefaults resolved against ``library`` (the ``--with`` documents), as Argo would."""
    from workflows.argo import yaml_io
    from workflows.argo.lint import lint_documents
    from workflows.local.loading import is_python_source, python_document
    from workflows.local.references import resolve
    from workflows.pipelines.compile import pipeline_document, pipelines

    library = list(library or [])
    if is_python_source(workflow):
        document, beside = python_document(workflow)
        # The file's other WorkflowTemplates are references' candidates too, as if applied with it.
        return resolve(document, library + [doc for doc in beside if doc is not document])
    if workflow not in pipelines():
        document, beside = manifest_file(workflow)
        return resolve(document, library + beside)
    document = pipeline_document(workflow, settings)
    # `make run` used to lint what it compiled; the local copy is linted as the committed one is.
    problems = lint_documents(f"{workflow} (compiled for this machine)", yaml_io.dump(document))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise BadInput(f"{problems[0]}{more}")
    return resolve(document, library)


def local_templates(settings: Settings, library: list[dict] | None = None) -> Callable[[str], dict]:
    """How a local run finds the WorkflowTemplates its tasks start (drift's retrain: training):
    one loaded with ``--with`` first, else the project's."""
    from workflows.local.references import library_of, resolve

    loaded = library_of(library or [])

    def find(name: str) -> dict:
        if ("WorkflowTemplate", name) in loaded:
            return resolve(loaded[("WorkflowTemplate", name)], library or [])
        return local_document(name, settings, library)

    return find
