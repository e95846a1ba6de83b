"""Workflow parameters checked against the steps that take them, before the first task starts.

A value given with ``-p`` travels workflow parameter -> task argument -> template input -> a step's
``--flag``; the step's pydantic model would refuse a bad one only when that step runs, minutes in.
Following each plain reference chain back, the given value is validated by that same model now.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from steps.contract import StepParams
from steps.errors import EXIT_BAD_INPUT, BadInput, shown
from workflows.local.references import tasks_of

if TYPE_CHECKING:
    from workflows.local.warm_start import WarmStarter

# The last library the starter imports that the step modules import at their top (numpy before it).
STEP_MODULES_NEED = "pandas"
# What a pipeline's first step imports (ingest: pyarrow, pydantic-settings, boto3): the starter imports up to
# it during the check, then waits for that step rather than begin SciPy (1 s) or PyTorch (2 s) just before.
FIRST_STEP_NEEDS = "boto3"

INPUT = re.compile(r"\{\{\s*inputs\.parameters\.([\w-]+)\s*\}\}")
WORKFLOW = re.compile(r"\{\{\s*workflow\.parameters\.([\w-]+)\s*\}\}")


def check_parameters(doc: dict[str, Any], given: dict[str, str], starter: WarmStarter | None = None) -> None:
    """Refuse (BadInput, naming the parameter and the step) a given value a step's model refuses; with a
    warm starter, in a process forked from it once it has imported what the step modules import."""
    if not given:
        return
    if starter is None or not checked_through(starter, doc, given):
        check_here(doc, given)


def check_here(doc: dict[str, Any], given: dict[str, str]) -> None:
    """The check in this process: it imports the step modules, and with them numpy and pandas."""
    spec = doc.get("spec") or {}
    templates = {t.get("name"): t for t in spec.get("templates") or []}
    for template in templates.values():
        for task in tasks_of(template):  # a dag's tasks and a steps template's steps
            step = templates.get(task.get("template")) or {}
            module = step_module((step.get("container") or {}).get("command") or [])
            if module is None:
                continue
            values = given_flags(step, task, given)
            if values:
                validate(importlib.import_module(module), task["name"], values)


def step_module(command: list[str]) -> str | None:
    """``steps.<name>`` of a ``python -m steps.<name>`` command."""
    for option, module in zip(command, command[1:], strict=False):
        if option == "-m" and str(module).startswith("steps."):
            return str(module)
    return None


def given_flags(step: dict, task: dict, given: dict[str, str]) -> dict[str, tuple[str, str]]:
    """field -> (workflow parameter, given value) for each flag fed straight from a given parameter."""
    arguments = {
        p["name"]: str(p.get("value", "")) for p in (task.get("arguments") or {}).get("parameters") or []
    }
    args = [str(a) for a in (step.get("container") or {}).get("args") or []]
    found = {}
    for option, value in zip(args, args[1:], strict=False):
        reference = INPUT.fullmatch(value)
        source = WORKFLOW.fullmatch(arguments.get(reference.group(1), "")) if reference else None
        if option.startswith("--") and source and source.group(1) in given:
            found[option[2:].replace("-", "_")] = (source.group(1), given[source.group(1)])
    return found


def validate(module: ModuleType, task: str, values: dict[str, tuple[str, str]]) -> None:
    model = params_model(module)
    if model is None:
        return
    try:
        model.model_validate({field: value for field, (_, value) in values.items()})
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            if field in values and error["type"] != "missing":
                name, value = values[field]
                message = error["msg"].removeprefix("Value error, ")
                raise BadInput(
                    f"parameter {name!r}: {message} (got {shown(value)}; task {task!r} takes it as "
                    f"--{field.replace('_', '-')}); pass a valid -p {name}=VALUE"
                ) from None


def params_model(module: ModuleType) -> type[StepParams] | None:
    """The one parameters model a step module defines."""
    models = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, StepParams)
        and value is not StepParams
        and value.__module__ == module.__name__
    ]
    return models[0] if len(models) == 1 else None


# ---- through the warm starter ------------------------------------------------------------------


def checked_through(starter: WarmStarter, doc: dict[str, Any], given: dict[str, str]) -> bool:
    """The check in a process forked from ``starter`` (which imports numpy and pandas anyway: this process
    importing them too took 0.7 s of CPU from the run's start); raises its BadInput here. False when the
    starter could not run it, so the caller checks in its own process."""
    from workflows.local.warm_start import StarterGone

    with tempfile.TemporaryDirectory(prefix="mlops-parameter-check-") as folder:
        request, answer, log = (Path(folder, name) for name in ("request.json", "answer.txt", "check.log"))
        request.write_text(json.dumps({"doc": doc, "given": given}))
        command = [sys.executable, "-m", __name__, str(request)]
        try:
            code = starter.start(
                command, dict(os.environ), None, log, answer, STEP_MODULES_NEED, FIRST_STEP_NEEDS
            ).wait()
        except (OSError, StarterGone):
            return False
        if code == EXIT_BAD_INPUT:
            raise BadInput(answer.read_text().strip())
        return code == 0


def main(argv: list[str]) -> None:
    """``python -m workflows.local.parameter_check REQUEST.json``: exit 0, or 65 with the refusal on stdout."""
    request = json.loads(Path(argv[0]).read_text())
    try:
        check_here(request["doc"], request["given"])
    except BadInput as refused:
        print(refused)
        sys.exit(EXIT_BAD_INPUT)


if __name__ == "__main__":
    main(sys.argv[1:])
