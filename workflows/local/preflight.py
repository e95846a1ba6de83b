"""What the local executor implements, checked before anything starts: any other field is refused by name.

``SUPPORTED`` lists the fields the executor honours, by where they appear; a field marked ``~`` is
accepted but only meaningful on a cluster (image, resources, nodeSelector, ...). A resource template
is one thing only here: a Workflow created from a WorkflowTemplate, run as a child, whose success and
failure conditions read ``status.phase``.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from steps.errors import BadInput
from workflows.local import config_sources

# Fields the executor implements, by where they appear; "~" marks fields accepted but only meaningful on a cluster.
SUPPORTED = {
    "document": {"apiVersion", "kind", "metadata", "spec"},
    "spec": {"entrypoint", "onExit", "templates", "arguments", "activeDeadlineSeconds", "parallelism", "retryStrategy",
             "hooks",
             "synchronization", "~serviceAccountName", "~podGC", "~ttlStrategy", "~securityContext",
             "~nodeSelector", "~tolerations", "~podMetadata", "~workflowMetadata", "volumes", "volumeClaimTemplates",
             "~artifactRepositoryRef"},
    "template": {"name", "inputs", "outputs", "container", "script", "dag", "steps", "resource", "retryStrategy",
                 "activeDeadlineSeconds", "parallelism", "suspend", "volumes", "memoize",
                 "~podSpecPatch", "~nodeSelector", "~tolerations", "~metadata", "~securityContext",
                 "~serviceAccountName", "~priorityClassName", "~metrics"},
    "container": {"command", "args", "env", "~envFrom", "~image", "~resources", "~imagePullPolicy",
                  "~securityContext", "volumeMounts", "workingDir", "name"},
    "script": {"command", "args", "env", "~envFrom", "~image", "~resources", "~imagePullPolicy",
               "~securityContext", "volumeMounts", "workingDir", "name", "source"},
    "dag": {"tasks", "failFast"},
    "task": {"name", "template", "arguments", "depends", "dependencies", "when", "continueOn",
             "withItems", "withParam", "withSequence", "hooks", "onExit"},
    "step": {"name", "template", "arguments", "when", "continueOn", "withItems", "withParam", "withSequence",
             "hooks", "onExit"},
    "hook": {"template", "arguments", "expression"},  # a lifecycle hook (workflows.local.hooks)
    "withSequence": {"count", "start", "end", "format"},
    "inputs": {"parameters", "artifacts"},
    "outputs": {"parameters", "artifacts"},
    "arguments": {"parameters", "artifacts"},
    "input artifact": {"name", "path", "from", "raw", "s3", "optional", "mode"},  # workflows.local.artifacts
    "output artifact": {"name", "path", "optional", "archive", "globalName", "s3"},
    "argument artifact": {"name", "from", "raw", "s3", "optional"},
    "archive": {"none", "tar"},
    "raw": {"data"},
    "s3": {"key", "~bucket", "~endpoint", "~region", "~insecure", "~accessKeySecret", "~secretKeySecret",
           "~roleARN", "~useSDKCreds", "~createBucketIfNotPresent", "~encryptionOptions", "~caSecret",
           "~sessionTokenSecret"},  # a key of the local artifact repository, wherever the bucket is
    "volume": {"name", "emptyDir", "persistentVolumeClaim", "configMap", "secret"},  # workflows.local.volumes
    "configMap volume": {"name", "items", "optional", "defaultMode"},  # workflows.local.config_sources
    "secret volume": {"secretName", "items", "optional", "defaultMode"},
    "volume item": {"key", "path", "mode"},
    "memoize": {"key", "maxAge", "cache"},  # workflows.local.memoize
    "volumeMount": {"name", "mountPath", "subPath", "readOnly", "~mountPropagation", "~recursiveReadOnly"},
    "input parameter": {"name", "value", "default", "~description"},
    "output parameter": {"name", "valueFrom", "globalName", "~description"},
    "suspend": {"duration"},
    "valueFrom": {"path", "default", "jsonPath", "parameter"},
    "argument": {"name", "value"},
    "workflow argument": {"name", "value", "default", "enum", "~description"},
    "retryStrategy": {"limit", "retryPolicy", "backoff", "expression"},
    "backoff": {"duration", "factor", "maxDuration", "cap"},
    "env variable": {"name", "value", "valueFrom"},
    "env valueFrom": {"configMapKeyRef", "secretKeyRef"},  # read from MLOPS_LOCAL_CONFIG_DIR (config_sources)
    "configMapKeyRef": {"name", "key", "optional"},
    "secretKeyRef": {"name", "key", "optional"},
    "synchronization": {"mutexes"},
    "mutex": {"name", "~namespace", "~database"},  # one lock folder here, whatever the namespace or store
    "resource": {"action", "manifest", "successCondition", "failureCondition", "~setOwnerReference"},
}  # fmt: skip
CONDITION = re.compile(r"^\s*status\.phase\s*(==|=|!=|in|notin)\s*\(?([\w ,]+?)\)?\s*$")


class Unsupported(BadInput):
    """The manifest uses something the local executor cannot run faithfully."""


def _allowed(where: str) -> set[str]:
    return {key.lstrip("~") for key in SUPPORTED[where]}


def check_supported(doc: dict[str, Any]) -> None:
    """Refuse, naming it, the first manifest feature the executor does not implement."""

    def refuse(path: str, key: str, what: str) -> None:
        raise Unsupported(f"{path}.{key}: the local executor does not support {what} '{key}'")

    def only(value: dict, where: str, path: str) -> None:
        for key in value:
            if key not in _allowed(where):
                refuse(path, key, f"{where} field")

    if doc.get("kind") not in ("Workflow", "WorkflowTemplate"):
        raise Unsupported(
            f"kind: the local executor runs Workflow and WorkflowTemplate, not {doc.get('kind')!r}"
        )
    only(doc, "document", "")
    spec = doc.get("spec") or {}
    only(spec, "spec", "spec")
    parameters(spec.get("arguments"), "arguments", "workflow argument", "spec.arguments", only)
    check_hooks(spec, "spec", only)
    if "retryStrategy" in spec:  # the default of every template without its own (operator.go retryStrategy())
        only(spec["retryStrategy"] or {}, "retryStrategy", "spec.retryStrategy")
        only((spec["retryStrategy"] or {}).get("backoff") or {}, "backoff", "spec.retryStrategy.backoff")
    if (spec.get("synchronization") or {}) and set(spec["synchronization"]) - {"mutexes"}:
        refuse("spec.synchronization", "semaphores", "synchronization kind")
    for number, mutex in enumerate((spec.get("synchronization") or {}).get("mutexes") or []):
        only(mutex, "mutex", f"spec.synchronization.mutexes[{number}]")
    for index, template in enumerate(spec.get("templates") or []):
        path = f"spec.templates[{index}]"
        only(template, "template", path)
        parameters(template.get("inputs"), "inputs", "input parameter", f"{path}.inputs", only)
        parameters(template.get("outputs"), "outputs", "output parameter", f"{path}.outputs", only)
        for number, output in enumerate((template.get("outputs") or {}).get("parameters") or []):
            only(output.get("valueFrom") or {}, "valueFrom", f"{path}.outputs.parameters[{number}].valueFrom")
        if not any(
            kind in template for kind in ("container", "script", "dag", "steps", "resource", "suspend")
        ):
            raise Unsupported(
                f"{path}: template '{template.get('name')}' is not a container, script, dag, steps, resource or "
                "suspend template"
            )
        if "suspend" in template:
            only(template["suspend"] or {}, "suspend", f"{path}.suspend")
            check_suspend(template, path)
        check_value_from(template, path)
        for group_number, group in enumerate(template.get("steps") or []):
            if not isinstance(group, list):
                raise Unsupported(f"{path}.steps[{group_number}]: a step group is a list of steps")
            for number, step in enumerate(group):
                where = f"{path}.steps[{group_number}][{number}]"
                only(step, "step", where)
                if isinstance(step.get("withSequence"), dict):
                    only(step["withSequence"], "withSequence", f"{where}.withSequence")
                parameters(step.get("arguments"), "arguments", "argument", f"{where}.arguments", only)
                check_hooks(step, where, only)
        if "resource" in template:
            only(template["resource"], "resource", f"{path}.resource")
            check_child_workflow(template["resource"], f"{path}.resource")
        for kind in ("container", "script"):
            if kind in template:
                only(template[kind], kind, f"{path}.{kind}")
                for number, variable in enumerate(template[kind].get("env") or []):  # valueFrom: check_files
                    only(variable, "env variable", f"{path}.{kind}.env[{number}]")
        if "retryStrategy" in template:
            only(template["retryStrategy"], "retryStrategy", f"{path}.retryStrategy")
            only(template["retryStrategy"].get("backoff") or {}, "backoff", f"{path}.retryStrategy.backoff")
        if "dag" in template:
            only(template["dag"], "dag", f"{path}.dag")
            for number, task in enumerate(template["dag"].get("tasks") or []):
                only(task, "task", f"{path}.dag.tasks[{number}]")
                check_hooks(task, f"{path}.dag.tasks[{number}]", only)
                if isinstance(task.get("withSequence"), dict):
                    only(task["withSequence"], "withSequence", f"{path}.dag.tasks[{number}].withSequence")
                parameters(
                    task.get("arguments"),
                    "arguments",
                    "argument",
                    f"{path}.dag.tasks[{number}].arguments",
                    only,
                )
    check_what_runs(spec)
    check_files(spec, only)


def check_files(spec: dict[str, Any], only) -> None:
    """Artifacts and volumes (workflows.local.artifacts, volumes), memoize on container and script templates, and a
    filesystem of its own for each template that needs one (workflows.local.sandbox): where none can be made, such
    a workflow is refused by name."""
    from workflows.local import artifacts, sandbox, volumes  # they import this module

    artifacts.check(spec, only)
    volumes.check(spec, only)
    config_sources.check_env(spec, only)
    for index, template in enumerate(spec.get("templates") or []):
        if "memoize" in template:
            only(template["memoize"] or {}, "memoize", f"spec.templates[{index}].memoize")
            if kind_of(template) not in ("container", "script"):
                raise Unsupported(
                    f"spec.templates[{index}].memoize: memoize on a {kind_of(template)} template is not "
                    "implemented by the local executor"
                )
        why = sandbox.reason(template)
        if why and sandbox.available():
            raise Unsupported(
                f"spec.templates[{index}] '{template.get('name')}': {why} needs a filesystem of its own, and "
                f"{sandbox.available()}"
            )


def parameters(holder: dict | None, where: str, kind: str, path: str, only) -> None:
    """The fields of an ``inputs``/``outputs``/``arguments`` block and of each of its parameters
    (its artifacts are checked by ``check_files``)."""
    if not holder:
        return
    only(holder, where, path)
    for number, parameter in enumerate(holder.get("parameters") or []):
        only(parameter, kind, f"{path}.parameters[{number}]")


def check_what_runs(spec: dict[str, Any]) -> None:
    """Every template a run would start is one the executor implements: a container, script, resource or suspend
    entrypoint, or a dag or steps entrypoint whose tasks and steps are those or nested dag or steps templates
    (whose tasks and steps are checked the same way), and an exit handler of any of these kinds."""
    templates = {template.get("name"): template for template in spec.get("templates") or []}
    entry = templates.get(spec.get("entrypoint"))
    if entry is None:
        raise Unsupported(f"spec.entrypoint: template {spec.get('entrypoint')!r} does not exist")
    used: list[tuple[Any, str]] = []
    if "dag" not in entry and "steps" not in entry:  # one pod node, the workflow's (entry_pod)
        used.append((entry["name"], "spec.entrypoint"))
    seen: set[str] = set()

    def visit(template: dict[str, Any], nested: bool) -> None:
        if template["name"] in seen:
            return
        seen.add(template["name"])
        check_composite_retry(spec, template)
        if nested and "activeDeadlineSeconds" in template:
            raise Unsupported(
                f"template '{template['name']}': activeDeadlineSeconds on a nested {kind_of(template)} template is "
                "not implemented by the local executor"
            )
        for task in (template.get("dag") or {}).get("tasks") or []:
            used.append((task.get("template"), f"task '{task.get('name')}'"))
        for group in template.get("steps") or []:
            used.extend((step.get("template"), f"step '{step.get('name')}'") for step in group)

    if "dag" in entry or "steps" in entry:
        visit(entry, False)
    if spec.get("onExit"):
        used.append((spec["onExit"], "spec.onExit"))
    used.extend(hook_templates(spec))
    while used:
        name, user = used.pop(0)
        template = templates.get(name)
        if template is None:
            raise Unsupported(f"{user}: template {name!r} does not exist")
        if "dag" in template or "steps" in template:
            # spec.hooks.exit is the workflow's exit handler (GetExitHook), not a lifecycle hook
            if ".hooks." in user and user != "spec.hooks.exit":
                raise Unsupported(
                    f"template '{name}': a {kind_of(template)} template used as a lifecycle hook is not "
                    "implemented by the local executor"
                )
            visit(template, True)
            continue
        kind = "script" if "script" in template else "container"
        if kind in template and not (template[kind].get("command") or []):
            raise Unsupported(
                f"template '{name}': a {kind} without a command is not implemented by the local executor "
                "(the image's entrypoint is not known on this machine)"
            )


def check_composite_retry(spec: dict[str, Any], template: dict[str, Any]) -> None:
    """Argo retries a dag or steps template too, its own retryStrategy or the workflow's (operator.go
    executeTemplate, retryStrategy()): each retry runs the whole template again (workflows.local.composite_retry).
    Refused: a strategy without a ``limit`` (processNodeRetries then retries a failing template without end) and
    a retried dag or steps exit handler."""
    strategy = template["retryStrategy"] if "retryStrategy" in template else spec.get("retryStrategy")
    if strategy is None:
        return
    kind, name = kind_of(template), template["name"]
    where = f"template '{name}'" if "retryStrategy" in template else "spec.retryStrategy"
    if str((strategy or {}).get("limit", "")).strip() == "":  # {} too: a Retry node all the same
        raise Unsupported(
            f"{where}: a retryStrategy without a limit retries the {kind} template '{name}' without end in Argo: "
            "give it a limit"
        )
    if name == (spec.get("onExit") or ((spec.get("hooks") or {}).get("exit") or {}).get("template")):
        raise Unsupported(
            f"{where}: a retryStrategy on the {kind} exit handler '{name}' is not implemented by the local executor"
        )


def check_suspend(template: dict[str, Any], path: str) -> None:
    """A suspend template runs here only with a ``duration`` (operator.go executeSuspend); without one it waits
    for ``argo resume``, and its outputs are what a resume supplies (``valueFrom.supplied``)."""
    from workflows.local.suspend import duration_of  # suspend.py imports this module

    duration = str((template["suspend"] or {}).get("duration") or "").strip()
    if not duration:
        raise Unsupported(
            f"{path}.suspend: template '{template.get('name')}': a suspend without a duration waits for "
            "`argo resume`, which the local executor does not implement: give it a duration"
        )
    for key in ("outputs", "retryStrategy", "activeDeadlineSeconds"):
        if key in template:
            raise Unsupported(
                f"{path}.{key}: {key} on a suspend template is not implemented by the local executor"
            )
    if "{{" not in duration:
        try:
            duration_of(duration)
        except ValueError as exc:
            raise Unsupported(
                f"{path}.suspend.duration: {exc}: use seconds or Go's duration text (20s, 1m)"
            ) from None


LOOPS = ("withItems", "withParam", "withSequence")


def check_hooks(owner: dict[str, Any], path: str, only) -> None:
    """The lifecycle hooks of the workflow, a task or a step (docs/lifecyclehook.md): each names a template; a hook
    other than ``exit`` runs when its ``expression`` holds, so it needs one (hooks.go: "Expression required")."""
    for name, hook in (owner.get("hooks") or {}).items():
        where = f"{path}.hooks.{name}"
        only(hook or {}, "hook", where)
        parameters((hook or {}).get("arguments"), "arguments", "argument", f"{where}.arguments", only)
        if not (hook or {}).get("template"):
            raise Unsupported(f"{where}.template: a hook names the template it runs")
        if name != "exit" and not str(hook.get("expression") or "").strip():
            raise Unsupported(f"{where}.expression: a hook other than 'exit' needs an expression")
    held = next((key for key in ("hooks", "onExit") if owner.get(key)), None)
    if path != "spec" and held and any(owner.get(key) not in (None, "", []) for key in LOOPS):
        raise Unsupported(f"{path}.{held}: hooks on a looped task or step are not implemented locally")


def hook_templates(spec: dict[str, Any]) -> list[tuple[Any, str]]:
    """The templates the hooks run, each with who uses it (``spec.hooks.x``, ``task 'a'.hooks.x``)."""
    owners = [("spec", spec)]
    for template in spec.get("templates") or []:
        tasks = (template.get("dag") or {}).get("tasks") or []
        owners += [(f"task '{task.get('name')}'", task) for task in tasks]
        steps = [step for group in template.get("steps") or [] for step in group]
        owners += [(f"step '{step.get('name')}'", step) for step in steps]
    used = []
    for owner, holder in owners:
        held = dict(holder.get("hooks") or {})
        if owner != "spec" and holder.get("onExit"):  # a task's or step's onExit is its exit hook
            held["exit"] = {"template": holder["onExit"]}
        used += [(hook.get("template"), f"{owner}.hooks.{name}") for name, hook in held.items()]
    return used


def check_value_from(template: dict[str, Any], path: str) -> None:
    """``valueFrom.parameter`` is a dag or steps template's output (read from its scope); ``path`` a container's."""
    composite = "dag" in template or "steps" in template
    for number, output in enumerate((template.get("outputs") or {}).get("parameters") or []):
        source = output.get("valueFrom") or {}
        wrong = next(
            (key for key in source if key in (("path", "jsonPath") if composite else ("parameter",))), None
        )
        if wrong:
            raise Unsupported(
                f"{path}.outputs.parameters[{number}].valueFrom.{wrong}: the local executor does not support "
                f"valueFrom '{wrong}' on a {kind_of(template)} template"
            )
        kind = kind_of(template)
        if kind in ("container", "script") and not source.get("path"):  # validate.go validateOutputs
            raise BadInput(
                f"{path}.outputs.parameters[{number}].valueFrom.path must be specified for {kind} templates"
            )


def kind_of(template: dict[str, Any]) -> str:
    return next(
        (kind for kind in ("container", "script", "resource", "dag", "steps", "suspend") if kind in template),
        "unknown",
    )


def check_child_workflow(resource: dict[str, Any], path: str) -> None:
    """The one resource the executor creates: a Workflow from a WorkflowTemplate, run as a child."""
    if resource.get("action") != "create":
        raise Unsupported(
            f"{path}.action: the local executor only runs action 'create' (got {resource.get('action')!r})"
        )
    try:
        manifest = yaml.safe_load(resource.get("manifest") or "")
    except yaml.YAMLError:
        raise Unsupported(f"{path}.manifest: not valid YAML") from None
    if (
        not isinstance(manifest, dict)
        or manifest.get("kind") != "Workflow"
        or "workflowTemplateRef" not in (manifest.get("spec") or {})
    ):
        raise Unsupported(
            f"{path}.manifest: the local executor creates only Workflows that use a workflowTemplateRef"
        )
    for key in ("successCondition", "failureCondition"):
        if key in resource and not CONDITION.match(resource[key]):
            raise Unsupported(
                f"{path}.{key}: only conditions on status.phase are supported (got {resource[key]!r})"
            )


def condition_text(condition: str) -> str:
    """The condition as Argo's messages print it: a Kubernetes label requirement, values sorted."""
    operator, values = CONDITION.match(condition).groups()
    listed = sorted(value.strip() for value in values.split(","))
    if operator in ("in", "notin"):
        return f"status.phase {operator} ({','.join(listed)})"
    return f"status.phase{operator}{','.join(listed)}"


def condition_holds(condition: str, phase: str) -> bool:
    operator, values = CONDITION.match(condition).groups()
    listed = {value.strip() for value in values.split(",")}
    return phase in listed if operator in ("==", "=", "in") else phase not in listed


def check_enums(spec: dict[str, Any], values: dict[str, Any]) -> None:
    """validate.go: a workflow argument with an ``enum`` takes one of its values (-p included)."""
    for parameter in (spec.get("arguments") or {}).get("parameters") or []:
        allowed = [str(v) for v in parameter.get("enum") or []]
        value = values.get(parameter["name"])
        if allowed and value is not None and str(value) not in allowed:
            raise BadInput(
                f"parameter {parameter['name']!r}: {value!r} is not one of its enum values ({', '.join(allowed)})"
            )
