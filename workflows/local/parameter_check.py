"""Workflow parameters checked against the steps that take them, before the first task starts.

A value given with ``-p`` travels workflow parameter -> task argument -> template input -> a step's
``--flag``; the step's pydantic model would refuse a bad one only when that step runs, minutes in.
Following each plain reference chain back, the given value is validated by that same model now.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from steps.contract import StepParams
from steps.errors import BadInput, shown
from workflows.local.references import tasks_of

INPUT = re.compile(r"\{\{\s*inputs\.parameters\.([\w-]+)\s*\}\}")
WORKFLOW = re.compile(r"\{\{\s*workflow\.parameters\.([\w-]+)\s*\}\}")


def check_parameters(doc: dict[str, Any], given: dict[str, str]) -> None:
    """Refuse (BadInput, naming the parameter and the step) a given value a step's model refuses."""
    if not given:
        return
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
