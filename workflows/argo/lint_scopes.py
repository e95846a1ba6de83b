"""What a step, a task and a dag or steps template's outputs may reference, as Argo scopes them in
``workflow/validate/validate.go`` (v4): ``addItemsToScope`` gives a looping step or task ``{{item}}``,
``{{item.KEY}}`` or ``{{item.[N]}}``; ``addOutputsToScope`` gives ``{{steps.X.*}}`` and ``{{tasks.X.*}}``;
``validateSteps`` and ``validateDAG`` decide which X a unit sees; ``validateOutputs`` checks a template's
outputs against the scope its steps or tasks left.

Stricter than validate.go where it passes what the controller cannot resolve when the workflow runs: a step
reads only steps of earlier groups (validate.go adds a step's outputs before the next step of the same group is
checked), ``{{item}}`` only in the step that loops (validate.go keeps it in the template's scope for the steps
after), and a task only upstream tasks (as ``validateDAGTaskArgumentDependency`` asks of arguments).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NODE_FIELDS = ("id", "startedAt", "finishedAt", "hostNodeName")  # addOutputsToScope: every node has these
RESULT_TYPES = (
    "container",
    "script",
    "data",
    "http",
    "plugin",
)  # Template.HasOutput (and a containerSet's main)
NOUNS = {"steps": "step", "tasks": "task"}


def _names(items: Any) -> list[str]:
    return [str(i["name"]) for i in items or [] if isinstance(i, dict) and "name" in i]


def loop_items(unit: dict[str, Any]) -> tuple[frozenset[str], bool]:
    """addItemsToScope: the ``item`` names a unit's loop defines, and whether any ``item.KEY`` goes (withParam)."""
    items = unit.get("withItems")
    if isinstance(items, list) and items:
        names: set[str] = set()
        for item in items:
            if isinstance(item, dict):
                names |= {f"item.{key}" for key in item}
            elif isinstance(item, list):
                names |= {f"item.[{index}]" for index in range(len(item))}
            else:
                names.add("item")
        return frozenset(names), False
    if unit.get("withParam"):
        return frozenset({"item"}), True
    return (frozenset({"item"}) if unit.get("withSequence") is not None else frozenset()), False


def aggregates(unit: dict[str, Any]) -> bool:
    """validateSteps/validateDAG: a unit over withItems or withParam aggregates its outputs."""
    return bool(unit.get("withItems")) or bool(unit.get("withParam"))


def node_variables(template: dict[str, Any] | None, aggregate: bool) -> set[str] | None:
    """addOutputsToScope: what may follow ``steps.X.``/``tasks.X.`` (None: a templateRef, unknown offline)."""
    if template is None:
        return None
    names = set(NODE_FIELDS)
    if template.get("daemon"):
        names.add("ip")
    main = any(c.get("name") == "main" for c in (template.get("containerSet") or {}).get("containers") or [])
    if main or any(template.get(kind) is not None for kind in RESULT_TYPES):
        names |= {"outputs.result", "exitCode"}
    outputs = template.get("outputs") or {}
    names |= {f"outputs.parameters.{name}" for name in _names(outputs.get("parameters"))}
    names |= {f"outputs.artifacts.{name}" for name in _names(outputs.get("artifacts"))}
    if aggregate:  # a script's or containerSet's results aggregate too; every loop's parameters do
        names.add("outputs.parameters")
        if template.get("script") is not None or template.get("containerSet") is not None:
            names |= {"outputs.result", "exitCode"}
    return names


def template_of(unit: dict[str, Any], templates: dict[str, Any]) -> dict[str, Any] | None:
    if isinstance(unit.get("inline"), dict):
        return unit["inline"]
    return templates.get(unit.get("template")) if unit.get("template") else None


def has_exit_hook(unit: dict[str, Any]) -> bool:
    """WorkflowStep/DAGTask.HasExitHook: its own outputs are in scope, for the hook that runs after it."""
    return bool(unit.get("onExit")) or "exit" in (unit.get("hooks") or {})


@dataclass(frozen=True)
class Scope:
    """The ``{{steps.X.*}}``/``{{tasks.X.*}}`` and ``{{item...}}`` one unit (or a template's outputs) may read."""

    kind: str  # "steps" or "tasks"
    templates: dict[str, str | None]  # each unit of the template -> the template it runs
    readable: dict[str, set[str] | None]  # unit -> what may follow `kind.unit.` here (None: anything)
    unreadable: str = ""  # why the template's other units cannot be read from here
    items: frozenset[str] = field(default_factory=frozenset)
    any_item: bool = False
    where: str = "step"  # what reads: a step, a task, the template's outputs

    def owns(self, name: str) -> bool:
        return name.split(".")[0] in ("item", self.kind)

    def problem(self, name: str) -> str | None:
        """Why ``{{name}}`` cannot be resolved here, or None when it can."""
        parts = name.split(".")
        if parts[0] == "item":
            if name in self.items or self.any_item:
                return None
            if not self.items:
                return f"{{{{{name}}}}}: this {self.where} has no withItems, withParam or withSequence to give an item"
            given = ", ".join("{{" + item + "}}" for item in sorted(self.items))
            return f"{{{{{name}}}}}: withItems gives {given}"
        noun, unit, rest = NOUNS[self.kind], parts[1] if len(parts) > 1 else "", ".".join(parts[2:])
        if unit not in self.templates:
            return f"{{{{{self.kind}.{unit}...}}}}: there is no {noun} '{unit}'"
        if unit not in self.readable:
            return f"{{{{{self.kind}.{unit}...}}}}: {noun} '{unit}' {self.unreadable}"
        allowed = self.readable[unit]
        if allowed is None or rest in allowed:
            return None
        template = self.templates[unit]
        if parts[2:4] == ["outputs", "parameters"] and len(parts) == 5:
            return f"{{{{{name}}}}}: template '{template}' declares no output '{parts[4]}'"
        return f"{{{{{name}}}}}: {noun} '{unit}' (template '{template}') gives no '{rest}' here"


def _template_names(units: list[dict[str, Any]]) -> dict[str, str | None]:
    return {str(u.get("name")): u.get("template") or ("inline" if u.get("inline") else None) for u in units}


def _own(unit: dict[str, Any], variables: set[str] | None) -> set[str] | None:
    """A unit reads its own status; its outputs too when it has an exit hook (validateSteps, validateDAG)."""
    if not has_exit_hook(unit):
        return {"status"}
    return None if variables is None else variables | {"status"}


def step_scopes(
    groups: list[list[dict[str, Any]]], templates: dict[str, Any]
) -> tuple[list[list[Scope]], Scope]:
    """validateSteps: each step's scope, then the template outputs' (every step, its status included)."""
    units = [step for group in groups for step in group]
    names = _template_names(units)
    variables = {str(s.get("name")): node_variables(template_of(s, templates), aggregates(s)) for s in units}
    seen = {name: None if v is None else v | {"status"} for name, v in variables.items()}
    scopes, earlier = [], {}
    for group in groups:
        row = []
        for step in group:
            name = str(step.get("name"))
            items, any_item = loop_items(step)
            readable = {**earlier, name: _own(step, variables[name])}
            why = "does not run before this step: a step reads only steps of earlier groups"
            row.append(Scope("steps", names, readable, why, items, any_item))
        scopes.append(row)
        earlier.update({str(step.get("name")): seen[str(step.get("name"))] for step in group})
    return scopes, Scope("steps", names, seen, where="template's outputs")


def task_scopes(
    tasks: dict[str, dict[str, Any]], upstream: dict[str, set[str]], templates: dict[str, Any]
) -> tuple[dict[str, Scope], Scope]:
    """validateDAG: each task's scope (its upstream tasks, their status too), then the template outputs'
    (every task; a status only where the task has hooks)."""
    names = _template_names(list(tasks.values()))
    variables = {name: node_variables(template_of(t, templates), aggregates(t)) for name, t in tasks.items()}
    scopes = {}
    for name, task in tasks.items():
        readable = {
            a: None if variables[a] is None else variables[a] | {"status"}
            for a in upstream[name]
            if a in tasks
        }
        readable[name] = _own(task, variables[name]) if task.get("hooks") or task.get("onExit") else set()
        items, any_item = loop_items(task)
        why = "is not upstream of this task (add it to depends)"
        scopes[name] = Scope("tasks", names, readable, why, items, any_item, where="task")
    outputs = {
        name: None if v is None else v | ({"status"} if tasks[name].get("hooks") else set())
        for name, v in variables.items()
    }
    return scopes, Scope("tasks", names, outputs, where="template's outputs")
