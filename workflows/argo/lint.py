"""Lint: check manifests offline, as Argo would, one ``file: path: message`` a problem.

What Argo rejects, learned from ``workflow/validate/validate.go`` (v4, what ``argo lint`` and the Argo
Server run; function names below), the CRDs' CEL rules (argo-workflows#15028) and the Kubernetes
API server:

- fields: Hera's models accept the document, and no field is unknown (Hera drops them silently);
  Argo Events against Hera's event models, core kinds against the kubernetes client's, others
  against ``crd_fields`` (``workflows.argo.lint_fields``);
- names: ``metadata.name`` a DNS-1123 subdomain (apimachinery ``NameIsDNSSubdomain``), at most 63
  characters, 52 for a CronWorkflow (``maxCharsInObjectName``, ``maxCharsInCronWorkflowName``);
  template and task names given, ``[a-zA-Z0-9][-a-zA-Z0-9]*``, at most 128, unique; parameter and
  artifact names ``[-a-zA-Z0-9_]+``, unique (``validateWorkflowFieldNames``);
- spec (``Workflow``): no ``templates`` beside a ``workflowTemplateRef``; an ``entrypoint`` for a
  Workflow or CronWorkflow; ``entrypoint`` and ``onExit`` name templates (``validateTemplateHolder``);
  a value for each argument of a Workflow or CronWorkflow, ``valueFrom`` only default, configMapKeyRef,
  event or supplied, a value in its ``enum`` (``validateArguments``); hooks but exit have an
  expression (``validateHooks``); ``podGC.strategy`` one of Argo's (``PodGCStrategy.IsValid``);
- templates: exactly one type (``validateTemplateType``); ``retryPolicy`` Always, OnError, OnFailure or
  OnTransientError; no ``timeout`` on steps/dag, none a bare number; ``activeDeadlineSeconds`` only on
  a leaf (``validateNonLeaf``), an integer >= 0 or a variable, no ``parallelism`` on a leaf, an image,
  no mount path twice, a resource ``action`` Argo knows and one valid YAML ``manifest``
  (``validateLeaf``); each output parameter has a value or one ``valueFrom`` of the kind its template
  needs, a valid ``globalName`` (``validateOutputs``, ``validateOutputParameter``); metric names and
  label keys ``[a-zA-Z_][a-zA-Z0-9_]*``, a help, a value (``workflow/metrics``);
- DAGs (``validateDAG``, ``workflows.argo.lint_dag``): a task at least; ``depends`` and ``dependencies`` not
  both in one DAG, no ``continueOn`` beside ``depends``, no name starting with a digit then; one of
  template, templateRef, inline (CEL); a task's template exists, its dependencies are tasks, no
  cycle (``verifyNoCycles``); ``.AnySucceeded``/``.AllFailed`` only on a task with items; one of
  withItems, withParam, withSequence, a sequence's count or end; task arguments have values;
  targets are tasks (``validateDAGTargets``);
- CronWorkflow (``CronWorkflow``, ``workflows.argo.lint_cron``): a schedule at least, each parsed as robfig/cron's
  ``ParseStandard`` parses it; a ``timezone`` ``time.LoadLocation`` knows; ``concurrencyPolicy`` Allow,
  Forbid or Replace; ``startingDeadlineSeconds`` >= 0; its ``workflowSpec`` as a submitted Workflow's;
- variables (``resolveAllVariables``, ``validateDAGTaskArgumentDependency``): ``{{workflow.parameters.P}}``
  and ``{{inputs.parameters.P}}`` declared, ``{{tasks.X.outputs.parameters.Y}}`` from an upstream
  task X whose template declares Y, in ``{{=...}}`` expressions too (stricter: any other name is refused);
  ``{{item...}}``, ``{{steps.X.*}}`` and ``{{tasks.X.*}}`` in the scope validate.go gives each step, task and
  dag or steps template's outputs (``workflows.argo.lint_scopes``);
- this project's own: a task passes exactly the inputs its template needs, images are pinned, no
  ``{{...}}`` is pasted into a shell script, a Sensor's parameters name its dependencies and its
  Workflow passes these rules.

Not checked (nothing compiled uses them): inline templates, artifact locations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from steps.images import image_pinned
from workflows.argo import yaml_io
from workflows.argo.expressions import ExpressionError, names_in
from workflows.argo.lint_cron import cron_problems
from workflows.argo.lint_dag import ancestors, dag_problems, find_cycle, task_dependencies
from workflows.argo.lint_events import KINDS as EVENT_KINDS
from workflows.argo.lint_events import WORKFLOW_KINDS as KINDS
from workflows.argo.lint_events import EventChecks, started_workflow
from workflows.argo.lint_fields import kubernetes_unknown_fields, model_for, unknown_fields
from workflows.argo.lint_labels import label_problems
from workflows.argo.lint_scopes import Scope, step_scopes, task_scopes
from workflows.argo.lint_templates import field_names, object_name, spec_problems, template_problems

__all__ = ["REFERENCE", "Problem", "lint_documents", "lint_paths", "lint_texts", "task_dependencies"]

REFERENCE = re.compile(r"{{\s*(=?)\s*([^}]*?)\s*}}")
WORKFLOW_VARIABLES = {
    "workflow.name", "workflow.namespace", "workflow.uid", "workflow.status", "workflow.failures",
    "workflow.creationTimestamp", "workflow.serviceAccountName", "workflow.duration", "workflow.mainEntrypoint",
}  # fmt: skip
TEMPLATE_VARIABLES = {"retries", "pod.name", "node.name", "inputs.parameters", "steps.name", "tasks.name"}
SHELLS = {"sh", "bash", "/bin/sh", "/bin/bash", "zsh", "ash", "dash"}
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


class Linter:
    """Lints one manifest document."""

    def __init__(self, file: str, doc: dict[str, Any], events: EventChecks | None = None) -> None:
        self.file, self.doc = file, doc
        self.events = events or EventChecks([])  # the event objects' model problems, maybe found ahead
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, path, message))

    def extend(self, found: Iterator[tuple[str, str]]) -> None:
        for path, message in found:
            self.add(path, message)

    def run(self) -> list[Problem]:
        from workflows.argo.crd_fields import FIELDS, missing_keys, unknown_keys

        kind = self.doc.get("kind")
        kind = kind if isinstance(kind, str) else repr(kind)
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
            self.extend(object_name(self.doc, kind))
            self.check_events(kind)
            return self.problems
        if kind not in KINDS:
            known = ", ".join((*KINDS, *EVENT_KINDS, *FIELDS, *CORE_KINDS))
            self.add("kind", f"unknown kind {kind!r} (lint knows {known})")
            return self.problems
        model = model_for(kind)
        typed = True
        try:
            model.model_validate(self.doc)
        except ValidationError as exc:
            typed = False
            for error in exc.errors():
                self.add(".".join(str(p) for p in error["loc"]), error["msg"])
        for path in unknown_fields(self.doc, model, kind):
            self.add(path.split(".", 1)[1], f"unknown field '{path.rsplit('.', 1)[-1]}'")
        try:
            self.check_argo(kind)
        except (AttributeError, TypeError, KeyError):
            if typed:  # a document of the right shape must never crash the rules
                raise
        return self.problems

    def check_argo(self, kind: str) -> None:
        """Argo's rules; they read the document as its model shapes it (a wrong shape is reported above)."""
        self.extend(object_name(self.doc, kind))
        spec = self.doc.get("spec") or {}
        if kind == "CronWorkflow":
            self.extend(cron_problems(self.doc))
            spec = spec.get("workflowSpec") or {}
            prefix = "spec.workflowSpec"
        else:
            prefix = "spec"
        self.check_spec(spec, prefix, kind)
        self.extend(label_problems(self.doc, spec, prefix))  # cost allocation by pod label

    def check_events(self, kind: str) -> None:
        """Argo Events objects against Hera's event models; a Sensor's Workflows as Workflows."""
        if self.doc.get("apiVersion") != "argoproj.io/v1alpha1":
            self.add("apiVersion", f"{kind} is argoproj.io/v1alpha1")
        found = self.events.problems(self.doc)
        for path, message in found:
            self.add(path, message)
        if kind == "Sensor":
            try:
                self.check_sensor()
            except (AttributeError, TypeError, KeyError):
                if not found:  # a Sensor of the right shape must never crash the rules
                    raise

    def check_sensor(self) -> None:
        """A trigger's parameters read declared dependencies; the Workflow it holds passes lint."""
        dependencies = {d.get("name") for d in (self.doc.get("spec") or {}).get("dependencies") or []}
        for index, trigger in enumerate((self.doc.get("spec") or {}).get("triggers") or []):
            path = f"spec.triggers[{index}].template.argoWorkflow"
            workflow = (trigger.get("template") or {}).get("argoWorkflow") or {}
            for number, parameter in enumerate(workflow.get("parameters") or []):
                source = (parameter.get("src") or {}).get("dependencyName")
                if source not in dependencies:
                    self.add(f"{path}.parameters[{number}].src", f"dependency '{source}' does not exist")
            resource = started_workflow(trigger)
            if resource is not None:
                for problem in Linter(self.file, resource, self.events).run():
                    self.add(f"{path}.source.resource.{problem.path}", problem.message)

    def check_spec(self, spec: dict[str, Any], prefix: str, kind: str) -> None:
        templates = {t.get("name"): t for t in spec.get("templates") or [] if isinstance(t, dict)}
        names = [t.get("name") for t in spec.get("templates") or [] if isinstance(t, dict)]
        self.extend(field_names(spec.get("templates"), f"{prefix}.templates", unique=False))
        for name in sorted({n for n in names if names.count(n) > 1}):
            self.add(f"{prefix}.templates", f"more than one template is named '{name}'")
        self.extend(spec_problems(spec, prefix, kind))
        if "workflowTemplateRef" in spec:
            return
        for key in ("entrypoint", "onExit"):
            if spec.get(key) and spec[key] not in templates:
                self.add(f"{prefix}.{key}", f"template '{spec[key]}' does not exist")
        workflow_parameters = _names((spec.get("arguments") or {}).get("parameters"))
        self.check_refs(spec.get("synchronization"), f"{prefix}.synchronization", workflow_parameters, set())
        for index, template in enumerate(spec.get("templates") or []):
            if not isinstance(template, dict):
                continue
            path = f"{prefix}.templates[{index}]"
            self.extend(template_problems(template, path, spec))
            inputs = _names((template.get("inputs") or {}).get("parameters"))
            outputs = _names((template.get("outputs") or {}).get("parameters"))
            for key, value in template.items():
                if key == "metrics":  # metrics are computed after the step: its outputs and status are known
                    self.check_refs(value, f"{path}.{key}", workflow_parameters, inputs, own_outputs=outputs)
                elif key not in ("dag", "steps") and not (
                    key == "outputs" and ("dag" in template or "steps" in template)
                ):
                    self.check_refs(value, f"{path}.{key}", workflow_parameters, inputs)
            self.check_shell(template, path)
            image = (template.get("container") or {}).get("image")
            if image and not image_pinned(image):
                self.add(
                    f"{path}.container.image",
                    f"{image!r} is not pinned (a tag other than latest, or a digest)",
                )
            scope = None  # what a dag or steps template's outputs may read of its tasks or steps
            if isinstance(template.get("dag"), dict):
                self.extend(dag_problems(template["dag"], f"{path}.dag"))
                scope = self.check_dag(template["dag"], f"{path}.dag", templates, workflow_parameters, inputs)
            elif isinstance(template.get("steps"), list):
                scope = self.check_steps(
                    template["steps"], f"{path}.steps", templates, workflow_parameters, inputs
                )
            if scope is not None:
                self.check_refs(
                    template.get("outputs"), f"{path}.outputs", workflow_parameters, inputs, scope
                )

    def check_refs(
        self, value: Any, path: str, workflow_parameters: set[str], inputs: set[str],
        scope: Scope | None = None, own_outputs: set[str] | None = None,
    ) -> None:  # fmt: skip
        for reference, is_expression in _references(value):
            names = self._expression_names(reference, path) if is_expression else [reference]
            for name in names:
                if own_outputs is not None and (
                    name in ("status", "duration", "exitCode")
                    or (name.startswith("outputs.parameters.") and name.split(".", 2)[2] in own_outputs)
                ):
                    continue
                self.check_reference(name, path, workflow_parameters, inputs, scope)

    def _expression_names(self, expression: str, path: str) -> list[str]:
        try:
            return names_in(expression)
        except ExpressionError as exc:
            self.add(path, str(exc))
            return []

    def check_reference(
        self, name: str, path: str, workflow_parameters: set[str], inputs: set[str], scope: Scope | None
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
        elif scope is not None and scope.owns(name):  # steps, tasks and items: workflows.argo.lint_scopes
            if (problem := scope.problem(name)) is not None:
                self.add(path, problem)
        else:
            self.add(path, f"{{{{{name}}}}}: unknown variable")

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

    def check_steps(
        self, groups: list[Any], path: str, templates: dict, workflow_parameters: set[str], inputs: set[str]
    ) -> Scope:
        rows = [
            [s for s in group if isinstance(s, dict)] if isinstance(group, list) else [] for group in groups
        ]
        scopes, outputs = step_scopes(rows, templates)
        for number, (row, row_scopes) in enumerate(zip(rows, scopes, strict=True)):
            for index, (step, scope) in enumerate(zip(row, row_scopes, strict=True)):
                for key, value in step.items():  # validateSteps resolves the whole step; inline: not checked
                    if key != "inline":
                        self.check_refs(
                            value, f"{path}[{number}][{index}].{key}", workflow_parameters, inputs, scope
                        )
        return outputs

    def check_dag(
        self, dag: dict[str, Any], path: str, templates: dict, workflow_parameters: set[str], inputs: set[str]
    ) -> Scope:
        tasks = {t.get("name"): t for t in dag.get("tasks") or [] if isinstance(t, dict)}
        graph = {name: task_dependencies(task) for name, task in tasks.items()}
        cycle = find_cycle(graph)
        if cycle:
            self.add(f"{path}.tasks", "the DAG has a cycle: " + " -> ".join(cycle))
        upstream = {name: ancestors(graph, name) if not cycle else set(tasks) for name in tasks}
        scopes, outputs = task_scopes(tasks, upstream, templates)
        for index, (name, task) in enumerate(tasks.items()):
            task_path = f"{path}.tasks[{index}]"
            for dependency in sorted(graph[name]):
                if dependency not in tasks:
                    self.add(
                        task_path, f"task '{name}' depends on '{dependency}', which is not a task of this DAG"
                    )
            template = templates.get(task.get("template"))
            if template is not None:
                self.check_arguments(task, template, task_path)
            elif task.get("template"):  # without one, a templateRef names another object's
                self.add(f"{task_path}.template", f"template '{task.get('template')}' does not exist")
            for key, value in task.items():  # validateDAG resolves the whole task; inline: not checked
                if key != "inline":
                    self.check_refs(value, f"{task_path}.{key}", workflow_parameters, inputs, scopes[name])
        return outputs

    def check_arguments(self, task: dict[str, Any], template: dict[str, Any], path: str) -> None:
        given = _names((task.get("arguments") or {}).get("parameters"))
        declared = (template.get("inputs") or {}).get("parameters") or []
        needed = {p["name"] for p in declared if "value" not in p and "default" not in p}
        for name in sorted(needed - given):
            self.add(f"{path}.arguments", f"input '{name}' of template '{template['name']}' is not given")
        for name in sorted(given - _names(declared)):
            self.add(f"{path}.arguments", f"template '{template['name']}' has no input '{name}'")


def lint_documents(file: str, text: str) -> list[Problem]:
    return lint_texts([(file, text)])


def lint_paths(paths: list[Path]) -> list[Problem]:
    """Lint every YAML file in ``paths`` (files or folders)."""
    files = sorted(p for path in paths for p in ([path] if path.is_file() else path.rglob("*.yaml")))
    return lint_texts([(str(file), file.read_text()) for file in files])


def lint_texts(texts: list[tuple[str, str]]) -> list[Problem]:
    """Lint (file, YAML text) pairs: all are read first, so the event objects can be checked beside."""
    read: list[tuple[str, list[Any] | Problem]] = []
    for file, text in texts:
        try:
            read.append((file, [d for d in yaml_io.load_all(text) if d is not None]))
        except yaml.YAMLError as exc:
            read.append((file, Problem(file, "-", f"not valid YAML: {str(exc).splitlines()[0]}")))
    events = EventChecks([d for _, documents in read if isinstance(documents, list) for d in documents])
    problems: list[Problem] = []
    try:
        for file, documents in read:
            if isinstance(documents, Problem):
                problems.append(documents)
                continue
            for document in documents:
                if not isinstance(document, dict):
                    problems.append(Problem(file, "-", "a manifest must be a mapping"))
                else:
                    problems.extend(Linter(file, document, events).run())
    finally:
        events.close()
    return problems
