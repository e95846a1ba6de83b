"""Lint: check compiled manifests offline, as ``argo lint`` would, one ``file: path: message`` a problem.

- Hera's models accept the document (types, required fields);
- no field is unknown (Hera's models silently drop them, so a typo would vanish on the cluster);
- the entrypoint, ``onExit`` and every task's template exist; ``depends``/``dependencies`` name
  tasks of the same DAG; the DAG has no cycle; a task passes exactly the inputs its template needs;
- ``{{tasks.X.outputs.parameters.Y}}`` names an upstream task X whose template declares output Y;
  ``{{workflow.parameters.P}}`` and ``{{inputs.parameters.P}}`` name declared parameters;
- no ``{{...}}`` is pasted into a shell script string.
"""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from workflows import yaml_io
from workflows.expressions import ExpressionError, names_in
from workflows.settings import image_pinned

REFERENCE = re.compile(r"{{\s*(=?)\s*([^}]*?)\s*}}")
WORKFLOW_VARIABLES = {
    "workflow.name", "workflow.namespace", "workflow.uid", "workflow.status", "workflow.failures",
    "workflow.creationTimestamp", "workflow.serviceAccountName", "workflow.duration", "workflow.mainEntrypoint",
}  # fmt: skip
TEMPLATE_VARIABLES = {"retries", "pod.name", "node.name", "inputs.parameters"}
SHELLS = {"sh", "bash", "/bin/sh", "/bin/bash", "zsh", "ash", "dash"}
KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")
EVENT_KINDS = ("EventSource", "Sensor")
# Hera's event models hold these as protobuf messages; the CRD takes free YAML there.
OPAQUE_MODELS = {"K8SResource"}
CORE_KINDS = (
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
)


@dataclass(frozen=True)
class Problem:
    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}"


def _model_types(annotation: Any) -> Iterator[Any]:
    """The model classes an annotation can hold, looking through Optional, Union, List, Dict."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _model_types(typing.get_args(annotation)[0])
    elif origin in (typing.Union, types.UnionType, list, dict, typing.List, typing.Dict):  # noqa: UP006
        for argument in typing.get_args(annotation):
            yield from _model_types(argument)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation


def unknown_fields(value: Any, annotation: Any, path: str) -> Iterator[str]:
    """Paths of keys that no model field (by its YAML name) accepts."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from unknown_fields(item, annotation, f"{path}[{index}]")
        return
    if not isinstance(value, dict):
        return
    models = list(_model_types(annotation))
    if not models or models[0].__name__ in OPAQUE_MODELS:
        return
    model = models[0]
    fields = {(info.alias or name): info.annotation for name, info in model.model_fields.items()}
    if not fields:  # a free-form object (labels, annotations)
        return
    values = _map_values(annotation)
    for key, item in value.items():
        if values is not None:
            yield from unknown_fields(item, values, f"{path}.{key}")
        elif key not in fields:
            yield f"{path}.{key}"
        else:
            yield from unknown_fields(item, fields[key], f"{path}.{key}")


def _map_values(annotation: Any) -> Any | None:
    """The value type of a ``dict[str, X]`` annotation (through Optional/Annotated); None if not a map."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _map_values(typing.get_args(annotation)[0])
    if origin is dict:
        return typing.get_args(annotation)[1]
    if origin in (typing.Union, types.UnionType):
        found = [_map_values(a) for a in typing.get_args(annotation)]
        return next((f for f in found if f is not None), None)
    return None


def api_form(value: Any, annotation: Any) -> Any:
    """An Argo Events object in its CRD (YAML) form, rewritten to the API form Hera's models take:
    a duration, a factor and an embedded resource are scalars or objects in YAML, messages in the API."""
    if isinstance(value, list):
        return [api_form(item, annotation) for item in value]
    models = list(_model_types(annotation))
    if not models:
        # int64 fields are strings in the API's JSON
        return (
            str(value)
            if isinstance(value, int) and not isinstance(value, bool) and str in typing.get_args(annotation)
            else value
        )
    name = models[0].__name__
    if name == "Int64OrString" and not isinstance(value, dict):
        return (
            {"type": "String", "strVal": str(value)} if isinstance(value, str) else {"int64Val": str(value)}
        )
    if name == "Amount" and not isinstance(value, dict):
        return {"value": _encoded(str(value))}
    if name == "K8SResource" and isinstance(value, dict):
        return {"value": _encoded(json.dumps(value))}
    if not isinstance(value, dict):
        return value
    values = _map_values(annotation)
    if values is not None:
        return {key: api_form(item, values) for key, item in value.items()}
    fields = {(info.alias or n): info.annotation for n, info in models[0].model_fields.items()}
    return {key: api_form(item, fields[key]) if key in fields else item for key, item in value.items()}


def _encoded(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def kubernetes_unknown_fields(value: Any, type_name: str, path: str) -> list[str]:
    """Unknown keys checked against the kubernetes client's models (their JSON field names)."""
    import kubernetes.client as k8s

    listed = re.fullmatch(r"(?:List|list)\[(.+)\]", type_name)
    if listed:
        return [
            p
            for i, item in enumerate(value or [])
            for p in kubernetes_unknown_fields(item, listed.group(1), f"{path}[{i}]")
        ]
    model = getattr(k8s, type_name, None)
    if not isinstance(value, dict) or model is None or not hasattr(model, "attribute_map"):
        return []
    by_json = {json_name: python for python, json_name in model.attribute_map.items()}
    found = []
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key not in by_json:
            found.append(where)
        else:
            found.extend(kubernetes_unknown_fields(item, model.openapi_types[by_json[key]], where))
    return found


def model_for(kind: str) -> type[BaseModel]:
    import hera.workflows.models as m

    return getattr(m, kind)


def _references(value: Any) -> Iterator[tuple[str, bool]]:
    """Every ``{{...}}`` inside a value: (the reference, whether it is an ``{{=expression}}``)."""
    if isinstance(value, str):
        for match in REFERENCE.finditer(value):
            yield match.group(2), bool(match.group(1))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def _names(parameters: list[dict[str, Any]] | None) -> set[str]:
    return {p["name"] for p in parameters or [] if isinstance(p, dict) and "name" in p}


def task_dependencies(task: dict[str, Any]) -> set[str]:
    """The task names a task depends on, from ``dependencies`` or the ``depends`` expression."""
    found = set(task.get("dependencies") or [])
    if task.get("depends"):
        found |= {name.split(".")[0] for name in names_in(task["depends"])}
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle in a task -> dependencies graph, if any."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt in graph and not state.get(nxt):
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if not state.get(node):
            found = visit(node)
            if found:
                return found
    return None


def ancestors(graph: dict[str, set[str]], task: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph.get(task, ()))
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(graph.get(current, ()))
    return seen


class Linter:
    """Lints one manifest document."""

    def __init__(self, file: str, doc: dict[str, Any]) -> None:
        self.file, self.doc = file, doc
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, path, message))

    def run(self) -> list[Problem]:
        from workflows.crd_fields import FIELDS, missing_keys, unknown_keys

        kind = self.doc.get("kind")
        if kind in FIELDS:
            for path in unknown_keys(self.doc, FIELDS[kind], ""):
                self.add(path, f"unknown field '{path.rsplit('.', 1)[-1]}' for {kind}")
            for path in missing_keys(self.doc, kind):
                self.add(path, f"required by {kind}")
            return self.problems
        if kind in CORE_KINDS:
            for path in kubernetes_unknown_fields(self.doc, f"V1{kind}", ""):
                self.add(path, f"unknown field '{path.rsplit('.', 1)[-1]}' for {kind}")
            return self.problems
        if kind in EVENT_KINDS:
            self.check_events(kind)
            return self.problems
        if kind not in KINDS:
            known = ", ".join((*KINDS, *EVENT_KINDS, *FIELDS, *CORE_KINDS))
            self.add("kind", f"unknown kind {kind!r} (lint knows {known})")
            return self.problems
        model = model_for(kind)
        try:
            model.model_validate(self.doc)
        except ValidationError as exc:
            for error in exc.errors():
                self.add(".".join(str(p) for p in error["loc"]), error["msg"])
        for path in unknown_fields(self.doc, model, kind):
            self.add(path.split(".", 1)[1], f"unknown field '{path.rsplit('.', 1)[-1]}'")
        spec = self.doc.get("spec") or {}
        if kind == "CronWorkflow":
            spec = spec.get("workflowSpec") or {}
            prefix = "spec.workflowSpec"
        else:
            prefix = "spec"
        self.check_spec(spec, prefix)
        return self.problems

    def check_events(self, kind: str) -> None:
        """Argo Events objects against Hera's event models; a Sensor's Workflows as Workflows."""
        import hera.events.models as events

        model = getattr(events, kind)
        body = {k: v for k, v in self.doc.items() if k not in ("apiVersion", "kind")}  # not in Hera's models
        if self.doc.get("apiVersion") != "argoproj.io/v1alpha1":
            self.add("apiVersion", f"{kind} is argoproj.io/v1alpha1")
        try:
            model.model_validate(api_form(body, model))
        except ValidationError as exc:
            for error in exc.errors():
                self.add(".".join(str(p) for p in error["loc"]), error["msg"])
        for path in unknown_fields(body, model, kind):
            self.add(path.split(".", 1)[1], f"unknown field '{path.rsplit('.', 1)[-1]}'")
        if kind != "Sensor":
            return
        dependencies = {d.get("name") for d in (self.doc.get("spec") or {}).get("dependencies") or []}
        for index, trigger in enumerate((self.doc.get("spec") or {}).get("triggers") or []):
            path = f"spec.triggers[{index}].template.argoWorkflow"
            workflow = (trigger.get("template") or {}).get("argoWorkflow") or {}
            for number, parameter in enumerate(workflow.get("parameters") or []):
                source = (parameter.get("src") or {}).get("dependencyName")
                if source not in dependencies:
                    self.add(f"{path}.parameters[{number}].src", f"dependency '{source}' does not exist")
            resource = (workflow.get("source") or {}).get("resource")
            if isinstance(resource, dict):
                for problem in Linter(self.file, resource).run():
                    self.add(f"{path}.source.resource.{problem.path}", problem.message)

    def check_spec(self, spec: dict[str, Any], prefix: str) -> None:
        templates = {t.get("name"): t for t in spec.get("templates") or [] if isinstance(t, dict)}
        names = [t.get("name") for t in spec.get("templates") or [] if isinstance(t, dict)]
        for name in sorted({n for n in names if names.count(n) > 1}):
            self.add(f"{prefix}.templates", f"more than one template is named '{name}'")
        if "workflowTemplateRef" in spec:
            return
        for key in ("entrypoint", "onExit"):
            if spec.get(key) and spec[key] not in templates:
                self.add(f"{prefix}.{key}", f"template '{spec[key]}' does not exist")
        workflow_parameters = _names((spec.get("arguments") or {}).get("parameters"))
        self.check_refs(spec.get("synchronization"), f"{prefix}.synchronization", workflow_parameters, set())
        for index, template in enumerate(spec.get("templates") or []):
            path = f"{prefix}.templates[{index}]"
            inputs = _names((template.get("inputs") or {}).get("parameters"))
            outputs = _names((template.get("outputs") or {}).get("parameters"))
            for key, value in template.items():
                if key == "metrics":  # metrics are computed after the step: its outputs and status are known
                    self.check_refs(value, f"{path}.{key}", workflow_parameters, inputs, own_outputs=outputs)
                elif key != "dag":
                    self.check_refs(value, f"{path}.{key}", workflow_parameters, inputs)
            self.check_shell(template, path)
            image = (template.get("container") or {}).get("image")
            if image and not image_pinned(image):
                self.add(
                    f"{path}.container.image",
                    f"{image!r} is not pinned (a tag other than latest, or a digest)",
                )
            if "dag" in template:
                self.check_dag(template["dag"], f"{path}.dag", templates, workflow_parameters, inputs)

    def check_refs(
        self, value: Any, path: str, workflow_parameters: set[str], inputs: set[str], tasks: dict | None = None,
        own_outputs: set[str] | None = None,
    ) -> None:  # fmt: skip
        for reference, is_expression in _references(value):
            names = self._expression_names(reference, path) if is_expression else [reference]
            for name in names:
                if own_outputs is not None and (
                    name in ("status", "duration", "exitCode")
                    or (name.startswith("outputs.parameters.") and name.split(".", 2)[2] in own_outputs)
                ):
                    continue
                self.check_reference(name, path, workflow_parameters, inputs, tasks)

    def _expression_names(self, expression: str, path: str) -> list[str]:
        try:
            return names_in(expression)
        except ExpressionError as exc:
            self.add(path, str(exc))
            return []

    def check_reference(
        self, name: str, path: str, workflow_parameters: set[str], inputs: set[str], tasks: dict | None
    ) -> None:
        parts = name.split(".")
        if name in WORKFLOW_VARIABLES or name in TEMPLATE_VARIABLES:
            return
        if parts[:2] == ["workflow", "parameters"] and len(parts) == 3:
            if parts[2] not in workflow_parameters:
                self.add(path, f"{{{{{name}}}}}: workflow parameter '{parts[2]}' is not declared")
        elif parts[:2] == ["inputs", "parameters"] and len(parts) == 3:
            if parts[2] not in inputs:
                self.add(
                    path, f"{{{{{name}}}}}: input parameter '{parts[2]}' is not declared by this template"
                )
        elif (
            parts[0] == "tasks"
            and tasks is not None
            and len(parts) == 5
            and parts[2:4] == ["outputs", "parameters"]
        ):
            self.check_task_output(parts[1], parts[4], path, tasks)
        else:
            self.add(path, f"{{{{{name}}}}}: unknown variable")

    def check_task_output(self, task: str, output: str, path: str, tasks: dict) -> None:
        if task not in tasks["templates_of"]:
            self.add(path, f"{{{{tasks.{task}...}}}}: there is no task '{task}'")
            return
        if task not in tasks["upstream"]:
            self.add(
                path,
                f"{{{{tasks.{task}...}}}}: task '{task}' is not upstream of this task (add it to depends)",
            )
        declared = tasks["outputs_of"].get(task, set())
        if output not in declared:
            self.add(
                path,
                f"{{{{tasks.{task}.outputs.parameters.{output}}}}}: template '{tasks['templates_of'][task]}' declares no output '{output}'",
            )

    def check_shell(self, template: dict[str, Any], path: str) -> None:
        container = template.get("container") or {}
        command = [str(part) for part in container.get("command") or []]
        args = [str(part) for part in container.get("args") or []]
        words = command + args
        shell_position = next((i for i, word in enumerate(words) if Path(word).name in SHELLS), None)
        if shell_position is not None and "-c" in words[shell_position + 1 : shell_position + 3]:
            script = " ".join(words[shell_position + 2 :])
            if "{{" in script:
                self.add(
                    f"{path}.container",
                    "a {{...}} parameter is pasted into a shell script; pass it as an argument",
                )
        if "script" in template and "{{" in str((template["script"] or {}).get("source", "")):
            self.add(
                f"{path}.script.source",
                "a {{...}} parameter is pasted into a script source; pass it as an argument",
            )

    def check_dag(
        self, dag: dict[str, Any], path: str, templates: dict, workflow_parameters: set[str], inputs: set[str]
    ) -> None:
        tasks = {t.get("name"): t for t in dag.get("tasks") or []}
        graph = {name: task_dependencies(task) for name, task in tasks.items()}
        cycle = find_cycle(graph)
        if cycle:
            self.add(f"{path}.tasks", "the DAG has a cycle: " + " -> ".join(cycle))
        templates_of = {name: task.get("template") for name, task in tasks.items()}
        outputs_of = {
            name: _names(((templates.get(t) or {}).get("outputs") or {}).get("parameters"))
            for name, t in templates_of.items()
        }
        for index, (name, task) in enumerate(tasks.items()):
            task_path = f"{path}.tasks[{index}]"
            for dependency in sorted(graph[name]):
                if dependency not in tasks:
                    self.add(
                        task_path, f"task '{name}' depends on '{dependency}', which is not a task of this DAG"
                    )
            template = templates.get(task.get("template"))
            if template is None:
                self.add(f"{task_path}.template", f"template '{task.get('template')}' does not exist")
            else:
                self.check_arguments(task, template, task_path)
            context = {
                "templates_of": templates_of,
                "outputs_of": outputs_of,
                "upstream": ancestors(graph, name) if not cycle else set(tasks),
            }
            for key in ("arguments", "when"):
                self.check_refs(task.get(key), f"{task_path}.{key}", workflow_parameters, inputs, context)

    def check_arguments(self, task: dict[str, Any], template: dict[str, Any], path: str) -> None:
        given = _names((task.get("arguments") or {}).get("parameters"))
        declared = (template.get("inputs") or {}).get("parameters") or []
        needed = {p["name"] for p in declared if "value" not in p and "default" not in p}
        for name in sorted(needed - given):
            self.add(f"{path}.arguments", f"input '{name}' of template '{template['name']}' is not given")
        for name in sorted(given - _names(declared)):
            self.add(f"{path}.arguments", f"template '{template['name']}' has no input '{name}'")


def lint_documents(file: str, text: str) -> list[Problem]:
    try:
        documents = [d for d in yaml_io.load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        return [Problem(file, "-", f"not valid YAML: {str(exc).splitlines()[0]}")]
    problems = []
    for document in documents:
        if not isinstance(document, dict):
            problems.append(Problem(file, "-", "a manifest must be a mapping"))
        else:
            problems.extend(Linter(file, document).run())
    return problems


def lint_paths(paths: list[Path]) -> list[Problem]:
    """Lint every YAML file in ``paths`` (files or folders)."""
    files = sorted(p for path in paths for p in ([path] if path.is_file() else path.rglob("*.yaml")))
    problems = []
    for file in files:
        problems.extend(lint_documents(str(file), file.read_text()))
    return problems
