"""Argo's references, resolved before a local run: what the controller would execute, as one document.

``resolve(doc, library)`` returns the Workflow the way Argo's controller builds the one it runs
(workflow/controller/operator.go ``setExecWorkflow``), from the WorkflowTemplates loaded beside it:

- ``spec.workflowTemplateRef``: the WorkflowTemplate's spec joined under the Workflow's, as
  workflow/util/merge.go ``JoinWorkflowSpec`` does (a Kubernetes strategic merge, the Workflow's
  fields winning; lists with a merge key such as ``templates`` and ``arguments.parameters`` merged
  by name; an argument with a value then taken whole from the Workflow, else from the template);
- ``templateRef: {name, template}`` in a dag task: the template copied into the Workflow's
  ``templates`` under a new name, the task pointed at it; inside the copy, ``template:`` names keep
  meaning the referenced WorkflowTemplate's own templates, as workflow/templateresolution/ switches
  context to it; ``clusterScope: true`` looks among ClusterWorkflowTemplates, as Argo does;
- ``spec.templateDefaults``: merged into every template, the template's own fields winning
  (docs/template-defaults.md; strategic merge; operator.go applies them with
  ``mergedTemplateDefaultsInto`` to every template it executes, templateRef'd ones included). A
  default of another kind (``container`` under a dag) is not added: a template keeps its one type
  (our reading, not checked against Argo's source). The field is then removed: resolution consumed it.

Everything is checked before anything runs: an unknown WorkflowTemplate or template is one line.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from steps.errors import BadInput

LIBRARY_KINDS = ("WorkflowTemplate", "ClusterWorkflowTemplate")
# Lists that Argo's and Kubernetes' types tag patchStrategy:"merge", by their patchMergeKey.
MERGE_KEYS = {
    "templates": "name",
    "parameters": "name",
    "artifacts": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
}
TEMPLATE_TYPES = ("container", "script", "dag", "steps", "resource", "suspend", "containerSet", "data", "http",
                  "plugin")  # fmt: skip


class UnknownReference(BadInput):
    """A reference names a WorkflowTemplate, or a template in one, that is not loaded."""


def library_of(documents: Iterable[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The WorkflowTemplates and ClusterWorkflowTemplates among ``documents``, by (kind, name)."""
    return {
        (doc["kind"], (doc.get("metadata") or {}).get("name", "")): doc
        for doc in documents
        if isinstance(doc, dict) and doc.get("kind") in LIBRARY_KINDS
    }


def strategic_merge(original: Any, patch: Any, field: str = "") -> Any:
    """``patch`` over ``original`` as Kubernetes' strategic merge patch does, for the lists Argo tags."""
    if isinstance(original, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(original)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)  # a null in a strategic merge patch deletes the field
            else:
                merged[key] = (
                    strategic_merge(original[key], value, key) if key in original else copy.deepcopy(value)
                )
        return merged
    key = MERGE_KEYS.get(field)
    if key and isinstance(original, list) and isinstance(patch, list):
        merged = [copy.deepcopy(item) for item in original]
        for item in patch:
            at = next(
                (i for i, old in enumerate(merged) if isinstance(old, dict) and isinstance(item, dict)
                 and key in item and old.get(key) == item[key]),
                None,
            )  # fmt: skip
            if at is None:
                merged.append(copy.deepcopy(item))
            else:
                merged[at] = strategic_merge(merged[at], item)
        return merged
    return copy.deepcopy(patch)


def has_value(parameter: dict[str, Any]) -> bool:
    """As wfv1.Parameter.HasValue: a value, a default or a valueFrom."""
    return any(parameter.get(key) is not None for key in ("value", "default", "valueFrom"))


def join_spec(workflow_spec: dict[str, Any], template_spec: dict[str, Any]) -> dict[str, Any]:
    """A Workflow's spec joined with its WorkflowTemplate's (merge.go ``JoinWorkflowSpec``)."""
    joined = strategic_merge(template_spec, workflow_spec)
    by_priority = [
        {p["name"]: p for p in (spec.get("arguments") or {}).get("parameters") or [] if has_value(p)}
        for spec in (workflow_spec, template_spec)
    ]
    parameters = (joined.get("arguments") or {}).get("parameters") or []
    for index, parameter in enumerate(parameters):
        if has_value(parameter):  # the whole parameter from the Workflow, else the template: never mixed
            chosen = next(
                (given[parameter["name"]] for given in by_priority if parameter["name"] in given), None
            )
            if chosen is not None:
                parameters[index] = copy.deepcopy(chosen)
    joined.pop("workflowTemplateRef", None)
    return joined


def find_source(
    library: dict[tuple[str, str], dict[str, Any]], reference: dict[str, Any], where: str
) -> dict[str, Any]:
    """The WorkflowTemplate (or, with clusterScope, ClusterWorkflowTemplate) a reference names."""
    kind = "ClusterWorkflowTemplate" if reference.get("clusterScope") else "WorkflowTemplate"
    name = reference.get("name")
    if (kind, name) not in library:
        loaded = ", ".join(sorted(n for k, n in library if k == kind)) or "none"
        raise UnknownReference(
            f"{where}: {kind} {name!r} is not loaded (loaded {kind}s: {loaded}); "
            "pass the file that defines it with --with FILE"
        )
    return library[(kind, name)]


def inline_template_refs(spec: dict[str, Any], library: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Every dag task's ``templateRef`` replaced by a ``template`` naming a copy in ``spec.templates``."""
    templates = spec.setdefault("templates", [])
    taken = {template.get("name") for template in templates}
    copied: dict[tuple[str, str, str], str] = {}

    def bring(reference: dict[str, Any], where: str) -> str:
        source = find_source(library, reference, where)
        kind, wanted = source["kind"], reference.get("template")
        key = (kind, source["metadata"]["name"], wanted)
        if key in copied:
            return copied[key]
        found = next(
            (t for t in (source.get("spec") or {}).get("templates") or [] if t.get("name") == wanted), None
        )
        if found is None:
            names = ", ".join(t.get("name", "?") for t in (source.get("spec") or {}).get("templates") or [])
            raise UnknownReference(
                f"{where}: {kind} {key[1]!r} has no template {wanted!r} (it has: {names or 'none'})"
            )
        name, number = f"{key[1]}-{wanted}", 2
        while name in taken:  # a Workflow may already hold a template of that name
            name, number = f"{key[1]}-{wanted}-{number}", number + 1
        taken.add(name)
        copied[key] = name
        clone = copy.deepcopy(found)
        clone["name"] = name
        scope = (
            {"name": key[1], "clusterScope": True} if kind == "ClusterWorkflowTemplate" else {"name": key[1]}
        )
        for task in tasks_of(clone):
            if "template" in task:  # the copy's own template names mean its WorkflowTemplate's templates
                task["templateRef"] = {**scope, "template": task.pop("template")}
        templates.append(clone)
        return name

    index = 0
    while index < len(templates):  # copies are appended, and their own references resolved in turn
        for number, task in enumerate(tasks_of(templates[index])):
            if task.get("templateRef") is not None:
                where = f"task {task.get('name')!r} (spec.templates[{index}], task {number})"
                task["template"] = bring(task.pop("templateRef"), f"{where}.templateRef")
        index += 1


def tasks_of(template: dict[str, Any]) -> list[dict[str, Any]]:
    """A template's dag tasks and steps, each a dict that may name a template."""
    tasks = list((template.get("dag") or {}).get("tasks") or [])
    for group in template.get("steps") or []:
        tasks += [step for step in group or [] if isinstance(step, dict)]
    return tasks


def apply_template_defaults(spec: dict[str, Any]) -> None:
    """``spec.templateDefaults`` under every template, each template's own fields and type winning."""
    defaults = spec.pop("templateDefaults", None)
    if not defaults:
        return
    for index, template in enumerate(spec.get("templates") or []):
        merged = strategic_merge(defaults, template)
        own = [kind for kind in TEMPLATE_TYPES if kind in template]
        if own:  # a template has one type: a default of another type does not give it a second
            for kind in TEMPLATE_TYPES:
                if kind not in own:
                    merged.pop(kind, None)
        spec["templates"][index] = merged


def resolve(doc: dict[str, Any], documents: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """The Workflow (or WorkflowTemplate) as Argo's controller would execute it, its references to
    ``documents``' WorkflowTemplates resolved; the given document is not changed."""
    library = library_of(documents)
    resolved = copy.deepcopy(doc)
    spec = resolved.setdefault("spec", {}) or {}
    reference = spec.get("workflowTemplateRef")
    if reference is not None:
        source = find_source(library, reference, "spec.workflowTemplateRef")
        spec = join_spec(spec, copy.deepcopy(source.get("spec") or {}))
    inline_template_refs(spec, library)
    apply_template_defaults(spec)
    resolved["spec"] = spec
    return resolved
