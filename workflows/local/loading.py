"""Where a local run's documents come from: a Hera Python file, a manifest file, or a folder of them.

``FILE.py[:NAME]`` imports the file by path (its folder on ``sys.path`` while it imports, as
``python FILE.py`` would have it) and ``.to_dict()``s the Hera Workflow or WorkflowTemplate named
NAME, or the only one it defines at top level; nothing is written. Every problem is one line naming
the file, as BadInput (exit 65).
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path
from typing import Any

from steps.errors import BadInput

MANIFEST_SUFFIXES = (".yaml", ".yml")


def is_python_source(workflow: str) -> bool:
    """``FILE.py`` or ``FILE.py:NAME``."""
    return workflow.endswith(".py") or ".py:" in workflow


def hera_objects(module: Any) -> dict[str, Any]:
    """The module's top-level Hera Workflows (WorkflowTemplates included), by variable name."""
    from hera.workflows import Workflow

    return {name: value for name, value in vars(module).items() if isinstance(value, Workflow)}


def import_file(path: Path) -> Any:
    """The Python file imported as a module of its own; its errors as one line naming it."""
    if not path.is_file():
        raise BadInput(f"{path}: no such Python file")
    spec = importlib.util.spec_from_file_location(f"mlops_user_{uuid.uuid4().hex[:8]}", path)
    if spec is None or spec.loader is None:
        raise BadInput(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)  # its own helper modules import as they would beside it
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise BadInput(f"{path}:{exc.lineno}: cannot import it: SyntaxError: {exc.msg}") from None
    except (Exception, SystemExit) as exc:  # the user's code: whatever it raises is one line, not a traceback
        lines = [frame.lineno for frame in _frames(exc) if Path(frame.filename).resolve() == path.resolve()]
        line = lines[-1] if lines else None  # the deepest line of the user's file
        where = f"{path}:{line}" if line else str(path)
        raise BadInput(f"{where}: cannot import it: {type(exc).__name__}: {exc}") from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return module


def _frames(exc: BaseException) -> list[Any]:
    import traceback

    return list(traceback.extract_tb(exc.__traceback__))


def python_document(workflow: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the chosen Hera object's manifest, every top-level Hera object's manifest) of ``FILE.py[:NAME]``."""
    file, _, name = workflow.partition(".py:") if ".py:" in workflow else (workflow[: -len(".py")], "", "")
    path = Path(file + ".py")
    module = import_file(path)
    found = hera_objects(module)
    if name:
        if name not in vars(module):
            known = ", ".join(sorted(found)) or "none"
            raise BadInput(f"{path}: defines no {name!r} (its Hera workflows: {known})")
        if name not in found:
            raise BadInput(
                f"{path}: {name!r} is a {type(vars(module)[name]).__name__}, not a Hera Workflow or WorkflowTemplate"
            )
    elif len(found) != 1:
        if not found:
            raise BadInput(f"{path}: defines no Hera Workflow or WorkflowTemplate at top level")
        raise BadInput(
            f"{path}: defines {len(found)} Hera workflows ({', '.join(sorted(found))}); name one: {path}:NAME"
        )
    else:
        name = next(iter(found))
    documents = {key: to_document(path, key, value) for key, value in found.items()}
    return documents[name], list(documents.values())


def to_document(path: Path, name: str, workflow: Any) -> dict[str, Any]:
    try:
        return workflow.to_dict()
    except Exception as exc:  # Hera's own validation, on the user's objects
        raise BadInput(f"{path}: {name}.to_dict() failed: {type(exc).__name__}: {exc}") from None


def manifest_documents(path: Path) -> list[dict[str, Any]]:
    """Every YAML document of a manifest file (``---`` separated), empty ones left out."""
    import yaml

    try:
        return [doc for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict)]
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None


def library_documents(paths: list[str]) -> list[dict[str, Any]]:
    """The documents of each ``--with`` path: a manifest file, a Hera Python file, or a folder (its
    ``*.yaml`` and ``*.yml`` files, sorted; Python files in it are not imported unasked)."""
    documents: list[dict[str, Any]] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for file in sorted(p for p in path.iterdir() if p.suffix in MANIFEST_SUFFIXES and p.is_file()):
                documents += manifest_documents(file)
        elif path.suffix == ".py":
            documents += python_document(given)[1]
        elif path.suffix in MANIFEST_SUFFIXES and path.is_file():
            documents += manifest_documents(path)
        else:
            raise BadInput(f"--with {given}: not a folder, a .yaml/.yml manifest or a .py Hera file")
    return documents
