"""Argo's rules for names, a workflow spec and its templates, as ``workflow/validate/validate.go`` (v4)
checks them, each message worded as Argo words it; plus the Kubernetes API server's name rule.

Each function yields ``(path, message)`` pairs; ``workflows.argo.lint`` turns them into problems.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

from workflows.argo import yaml_io

Found = Iterator[tuple[str, str]]

FIELD_NAME = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*")  # workflowFieldNameFmt
FIELD_NAME_RULE = (
    "name must consist of alpha-numeric characters or '-', and must start with an alpha-numeric character"
    " (e.g. My-name1-2, 123-NAME)"
)
PARAMETER_NAME = re.compile(r"[-a-zA-Z0-9_]+")  # paramOrArtifactNameRegex
PARAMETER_NAME_RULE = (
    "Parameter/Artifact name must consist of alpha-numeric characters, '_' or '-' e.g. my_param_1, MY-PARAM-1"
)
ARGO_VARIABLE = re.compile(r"{{[-a-zA-Z0-9]+(\.[-a-zA-Z0-9_]+)*}}")  # paramRegex, isParameter
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
NAME_LIMITS = {"Workflow": 63, "WorkflowTemplate": 63, "ClusterWorkflowTemplate": 63}  # maxCharsInObjectName
TEMPLATE_TYPES = ("container", "containerSet", "steps", "script", "resource", "dag", "suspend", "data", "http", "plugin")  # fmt: skip
RETRY_POLICIES = ("Always", "OnError", "OnFailure", "OnTransientError")
POD_GC_STRATEGIES = ("OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess")
RESOURCE_ACTIONS = ("get", "create", "apply", "delete", "replace", "patch")
METRIC_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")  # Prometheus' legacy name rule, without ':'
PLACEHOLDER = re.compile(r"{{.*?}}", re.DOTALL)


def mapping(value: Any) -> dict[str, Any]:
    """The value if it is a mapping, else an empty one (Hera's models report the wrong type)."""
    return value if isinstance(value, dict) else {}


def dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def indexed(value: Any) -> list[tuple[int, dict[str, Any]]]:
    """The mappings of a list with their places in it (Hera's models report anything else)."""
    return (
        [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]
        if isinstance(value, list)
        else []
    )


def field_names(items: Any, path: str, parameters: bool = False, unique: bool = True) -> Found:
    """validateWorkflowFieldNames: each item has a name, a valid one, and no other item has it."""
    seen: set[str] = set()
    for index, item in indexed(items):
        name = item.get("name")
        where = f"{path}[{index}].name"
        if not name:
            yield where, "name is required"
            continue
        name = str(name)
        errors = []
        if parameters and not PARAMETER_NAME.fullmatch(name):
            errors.append(PARAMETER_NAME_RULE)
        if not parameters and len(name) > 128:
            errors.append("must be no more than 128 characters")
        if not parameters and not FIELD_NAME.fullmatch(name):
            errors.append(FIELD_NAME_RULE)
        if errors:
            yield where, f"'{name}' is invalid: {';'.join(errors)}"
        elif unique and name in seen:
            yield where, f"'{name}' is not unique"
        seen.add(name)


def object_name(document: dict[str, Any], kind: str) -> Found:
    """The API server's rule for a custom resource's name (a DNS subdomain), and Argo's length limits."""
    metadata = mapping(document.get("metadata"))
    for key in ("name", "generateName"):
        name = metadata.get(key)
        if not isinstance(name, str) or not name:
            continue
        # a generateName is a prefix: a trailing '-' is fine (apimachinery's maskTrailingDash)
        checked = name[:-1] + "a" if key == "generateName" and name.endswith("-") and len(name) > 1 else name
        if len(checked) > 253 or not DNS_SUBDOMAIN.fullmatch(checked):
            yield (
                f"metadata.{key}",
                f"'{name}' is not a lowercase RFC 1123 subdomain (lower case alphanumerics, '-' or '.', "
                "starting and ending with an alphanumeric, at most 253 characters)",
            )
    name = metadata.get("name")
    limit = NAME_LIMITS.get(kind)
    if limit and isinstance(name, str) and len(name) > limit:
        yield (
            "metadata.name",
            f'name "{name}" must not be more than {limit} characters long (currently {len(name)})',
        )


def argument_values(arguments: Any, path: str, allow_empty: bool) -> Found:
    """validateArguments: names, and each parameter has a value or a valueFrom Argo can fill in."""
    arguments = arguments if isinstance(arguments, dict) else {}
    yield from field_names(arguments.get("parameters"), f"{path}.parameters", parameters=True)
    yield from field_names(arguments.get("artifacts"), f"{path}.artifacts", parameters=True)
    for index, parameter in indexed(arguments.get("parameters")):
        where, name = f"{path}.parameters[{index}]", parameter.get("name")
        value_from = parameter.get("valueFrom")
        if value_from is None and parameter.get("value") is None and not allow_empty:
            yield where, f"'{name}': value or valueFrom is required"
        if isinstance(value_from, dict) and (
            not any(value_from.get(key) is not None for key in ("configMapKeyRef", "supplied"))
            and not value_from.get("event")
            or any(value_from.get(key) for key in ("path", "jsonPath", "parameter", "expression"))
        ):
            yield f"{where}.valueFrom", "valueFrom only allows: default, configMapKeyRef and supplied"
        enum = parameter.get("enum")
        if enum is None:
            continue
        if not enum:
            yield f"{where}.enum", "enum should contain at least one value"
        elif parameter.get("value") is None:
            if allow_empty:
                return  # Argo stops checking the arguments here (validateArgumentsValues returns nil)
            yield f"{where}.value", "value is required"
        elif parameter["value"] not in enum:
            yield f"{where}.value", f"value should be present in the enum list ({', '.join(map(str, enum))})"


def hooks(value: Any, path: str) -> Found:
    """validateHooks: every hook but ``exit`` needs an expression."""
    for name, hook in mapping(value).items():
        if name != "exit" and not mapping(hook).get("expression"):
            yield f"{path}.{name}", "Expression required"


def spec_problems(spec: dict[str, Any], prefix: str, kind: str) -> Found:
    """The workflow-level rules of validate.Workflow; a Workflow or CronWorkflow runs as submitted."""
    submitted = kind in ("Workflow", "CronWorkflow")
    if spec.get("workflowTemplateRef") is not None and spec.get("templates"):
        yield (
            f"{prefix}.templates",
            "Templates is invalid field in spec if workflow referred WorkflowTemplate reference",
        )
    if submitted and spec.get("workflowTemplateRef") is None and not spec.get("entrypoint"):
        yield f"{prefix}.entrypoint", "spec.entrypoint is required"
    yield from argument_values(spec.get("arguments"), f"{prefix}.arguments", allow_empty=not submitted)
    yield from hooks(spec.get("hooks"), f"{prefix}.hooks")
    strategy = mapping(spec.get("podGC")).get("strategy")
    if strategy and strategy not in POD_GC_STRATEGIES:
        yield f"{prefix}.podGC.strategy", f"podGC.strategy unknown strategy '{strategy}'"


def template_problems(template: dict[str, Any], path: str, spec: dict[str, Any]) -> Found:
    """validateTemplateHolder, validateTemplate, validateLeaf/validateNonLeaf and validateOutputs."""
    types = [key for key in TEMPLATE_TYPES if template.get(key) is not None]
    if len(types) != 1:
        which = "template type unspecified" if not types else "multiple template types specified"
        yield (
            path,
            f"{which}. choose one of: container, containerSet, steps, script, resource, dag, suspend, data, http, plugin",
        )
    kind = types[0] if len(types) == 1 else None
    inputs, outputs = mapping(template.get("inputs")), mapping(template.get("outputs"))
    for part, where in ((inputs, "inputs"), (outputs, "outputs")):
        for key in ("parameters", "artifacts"):
            yield from field_names(part.get(key), f"{path}.{where}.{key}", parameters=True)
    policy = mapping(template.get("retryStrategy")).get("retryPolicy")
    if policy and policy not in RETRY_POLICIES:
        yield f"{path}.retryStrategy.retryPolicy", f"{policy} is not a valid RetryPolicy"
    timeout = template.get("timeout")
    if timeout and kind in ("steps", "dag"):
        yield f"{path}.timeout", f"{kind} template doesn't support timeout field"
    elif isinstance(timeout, int) or (isinstance(timeout, str) and re.fullmatch(r"[+-]?[0-9]+", timeout)):
        yield f"{path}.timeout", "has invalid duration format in timeout (a number needs a unit, e.g. 30s)"
    deadline = template.get("activeDeadlineSeconds")
    if kind in ("steps", "dag"):
        if deadline is not None:
            yield f"{path}.activeDeadlineSeconds", "activeDeadlineSeconds is only valid for leaf templates"
    else:
        yield from leaf_problems(template, path, spec)
    yield from output_problems(outputs, path, kind)
    yield from metric_problems(template.get("metrics"), f"{path}.metrics.prometheus")


def leaf_problems(template: dict[str, Any], path: str, spec: dict[str, Any]) -> Found:
    defaults = mapping(spec.get("templateDefaults"))
    for key in ("container", "script"):
        body = template.get(key)
        if isinstance(body, dict) and not body.get("image") and not mapping(defaults.get(key)).get("image"):
            yield f"{path}.{key}.image", f"{key}.image may not be empty"
    mounted: dict[str, str] = {}
    for index, mount in indexed(mapping(template.get("container")).get("volumeMounts")):
        mount_path = str(mount.get("mountPath"))
        if mount_path in mounted:
            yield (
                f"{path}.container.volumeMounts[{index}].mountPath",
                f"'{mount_path}' already mounted in container.volumeMounts.{mounted[mount_path]}",
            )
        mounted[mount_path] = str(mount.get("name"))
    resource = template.get("resource")
    if isinstance(resource, dict):
        yield from resource_problems(resource, f"{path}.resource")
    deadline = template.get("activeDeadlineSeconds")
    if deadline is not None and not _int_or_variable(deadline):
        yield (
            f"{path}.activeDeadlineSeconds",
            "activeDeadlineSeconds must be a positive integer > 0 or an argo variable",
        )
    if template.get("parallelism") is not None:
        yield f"{path}.parallelism", "parallelism is only valid for steps and dag templates"


def _int_or_variable(value: Any) -> bool:
    """intstr.IsValidIntOrArgoVariable, and not negative."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    text = str(value)
    if re.fullmatch(r"[+-]?[0-9]+", text):
        return int(text) >= 0
    return text.startswith("{{") and text.endswith("}}")


def resource_problems(resource: dict[str, Any], path: str) -> Found:
    action = str(resource.get("action") or "")
    if "{{" not in action and action not in RESOURCE_ACTIONS:
        yield f"{path}.action", "resource.action must be one of: get, create, apply, delete, replace, patch"
    if action in ("delete", "get"):
        return
    manifest, manifest_from = resource.get("manifest"), resource.get("manifestFrom")
    if not manifest and manifest_from is None:
        yield path, "either resource.manifest or resource.manifestFrom must be specified"
    if manifest and manifest_from is not None:
        yield (
            path,
            "shouldn't have both `manifest` and `manifestFrom` specified in `Manifest` for resource template",
        )
    if isinstance(manifest, str) and manifest:
        try:  # Argo substitutes every {{...}} with a placeholder before parsing
            yaml_io.load_all(PLACEHOLDER.sub("placeholder", manifest))
        except yaml.YAMLError:
            yield f"{path}.manifest", "resource.manifest must be a valid yaml"


def output_problems(outputs: dict[str, Any], path: str, kind: str | None) -> Found:
    """validateOutputs and validateOutputParameter."""
    for index, parameter in indexed(outputs.get("parameters")):
        where = f"{path}.outputs.parameters[{index}]"
        value_from = parameter.get("valueFrom")
        if value_from is not None and parameter.get("value") is not None:
            yield where, "has both valueFrom and value specified, choose one"
            continue
        global_name = parameter.get("globalName")
        if (
            global_name
            and not ARGO_VARIABLE.search(str(global_name))
            and not PARAMETER_NAME.fullmatch(str(global_name))
        ):
            yield f"{where}.globalName", PARAMETER_NAME_RULE
        if parameter.get("value") is not None:
            continue
        if not isinstance(value_from, dict):
            yield where, "does not have valueFrom or value specified"
            continue
        given = [
            key for key in ("path", "jqFilter", "jsonPath", "parameter", "expression") if value_from.get(key)
        ]
        given += ["supplied"] if value_from.get("supplied") is not None else []
        if len(given) != 1:
            which = "valueFrom type unspecified" if not given else "multiple valueFrom types specified"
            yield (
                f"{where}.valueFrom",
                f"{which}. choose one of: path, jqFilter, jsonPath, parameter, raw, expression",
            )
        elif kind in ("container", "containerSet", "script") and not value_from.get("path"):
            yield f"{where}.valueFrom", f"valueFrom.path must be specified for {kind} templates"
        elif kind == "resource" and not (value_from.get("jqFilter") or value_from.get("jsonPath")):
            yield (
                f"{where}.valueFrom",
                "valueFrom.jqFilter or jsonPath must be specified for resource templates",
            )
        elif kind in ("dag", "steps") and not (value_from.get("parameter") or value_from.get("expression")):
            yield (
                f"{where}.valueFrom",
                f"valueFrom.parameter or expression must be specified for {kind} templates",
            )


def metric_problems(metrics: Any, path: str) -> Found:
    """validateTemplate's metrics rules (workflow/metrics: IsValidMetricName, ValidateMetricLabels/Values)."""
    for index, metric in indexed(metrics.get("prometheus") if isinstance(metrics, dict) else None):
        where, name = f"{path}[{index}]", str(metric.get("name") or "")
        if not METRIC_NAME.fullmatch(name):
            yield (
                f"{where}.name",
                f"metric name '{name}' is invalid. Metric names must contain alphanumeric characters or '_'",
            )
        for number, label in indexed(metric.get("labels")):
            if not METRIC_NAME.fullmatch(str(label.get("key") or "")):
                yield (
                    f"{where}.labels[{number}].key",
                    f"metric label '{label.get('key')}' is invalid: keys may only contain alphanumeric characters or '_'",
                )
        if not metric.get("help"):
            yield f"{where}.help", f"metric '{name}' must contain a help string under 'help: ' field"
        for kind in ("gauge", "counter", "histogram"):
            body = metric.get(kind)
            if isinstance(body, dict) and not body.get("value"):
                yield f"{where}.{kind}", f"metric '{name}' error: missing {kind}.value"
        gauge = mapping(metric.get("gauge"))
        if gauge.get("realtime") is True and "resourcesDuration." in str(gauge.get("value")):
            yield (
                f"{where}.gauge",
                f"metric '{name}' error: 'resourcesDuration.*' metrics cannot be used in real-time",
            )
