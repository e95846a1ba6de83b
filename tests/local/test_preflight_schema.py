"""Argo's workflow schema, walked: every field is implemented by the local executor or refused by name (DESIGN.md 13).

The schema offline is Hera's generated models (``hera.workflows.models``, generated from Argo's OpenAPI; a
field's alias is its JSON name). For each object position the preflight knows (``preflight.SUPPORTED``), each
schema field there is either listed (implemented, or ``~`` cluster-only) or refused: a minimal workflow that sets
that one field, valid for Argo's schema, makes ``LocalRun`` raise ``Unsupported`` naming it. Objects nested in
implemented fields are positions of their own, or listed in ``NESTED_ACCEPTED`` with the reason they are safe.
"""

from __future__ import annotations

import copy
import enum
import typing
from typing import Any

import hera.workflows.models as m
import pytest
from pydantic import BaseModel, RootModel

from steps.errors import BadInput
from workflows.local.executor import LocalRun
from workflows.local.preflight import SUPPORTED, Unsupported

LEAF = ("spec", "templates", 1)
TASK = ("spec", "templates", 0, "dag", "tasks", 0)
CHILD = "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: c-}\nspec:\n  workflowTemplateRef: {name: t}\n"


class Position(typing.NamedTuple):
    """Where a preflight position lies in a minimal workflow: its model, its path, a valid object there,
    and what the workflow needs around it first (path, object)."""

    model: type[BaseModel]
    path: tuple
    base: dict[str, Any]
    prepare: tuple = ()


POSITIONS = {
    "document": Position(m.Workflow, (), {}),
    "spec": Position(m.WorkflowSpec, ("spec",), {}),
    "template": Position(m.Template, LEAF, {}),
    "container": Position(m.Container, (*LEAF, "container"), {}),
    "script": Position(
        m.ScriptTemplate,
        (*LEAF, "script"),
        {"image": "python:3.11", "command": ["python"], "source": "pass"},
        ((LEAF, {"name": "leaf"}),),
    ),
    "dag": Position(m.DAGTemplate, ("spec", "templates", 0, "dag"), {}),
    "task": Position(m.DAGTask, TASK, {}),
    "step": Position(
        m.WorkflowStep,
        ("spec", "templates", 0, "steps", 0, 0),
        {"name": "a", "template": "leaf"},
        ((("spec", "templates", 0), {"name": "main", "steps": [[{}]]}),),
    ),
    "withSequence": Position(m.Sequence, (*TASK, "withSequence"), {"count": "2"}),
    "inputs": Position(m.Inputs, (*LEAF, "inputs"), {"parameters": [{"name": "p", "value": "1"}]}),
    "outputs": Position(m.Outputs, (*LEAF, "outputs"), {"parameters": [{"name": "o", "valueFrom": {"path": "/tmp/o"}}]}),
    "arguments": Position(m.Arguments, ("spec", "arguments"), {"parameters": [{"name": "w", "value": "1"}]}),
    "input parameter": Position(
        m.Parameter, (*LEAF, "inputs", "parameters", 0), {"name": "p", "value": "1"},
        (((*LEAF, "inputs"), {"parameters": [{}]}),),
    ),
    "output parameter": Position(
        m.Parameter, (*LEAF, "outputs", "parameters", 0), {"name": "o", "valueFrom": {"path": "/tmp/o"}},
        (((*LEAF, "outputs"), {"parameters": [{}]}),),
    ),
    "valueFrom": Position(
        m.ValueFrom, (*LEAF, "outputs", "parameters", 0, "valueFrom"), {"path": "/tmp/o"},
        (((*LEAF, "outputs"), {"parameters": [{"name": "o"}]}),),
    ),
    "argument": Position(
        m.Parameter, (*TASK, "arguments", "parameters", 0), {"name": "p", "value": "1"},
        (((*LEAF, "inputs"), {"parameters": [{"name": "p"}]}), ((*TASK, "arguments"), {"parameters": [{}]})),
    ),
    "workflow argument": Position(
        m.Parameter, ("spec", "arguments", "parameters", 0), {"name": "w", "value": "1"},
        ((("spec", "arguments"), {"parameters": [{}]}),),
    ),
    "retryStrategy": Position(m.RetryStrategy, (*LEAF, "retryStrategy"), {"limit": "1"}),
    "backoff": Position(
        m.Backoff, (*LEAF, "retryStrategy", "backoff"), {"duration": "1"},
        (((*LEAF, "retryStrategy"), {"limit": "1"}),),
    ),
    "env variable": Position(
        m.EnvVar, (*LEAF, "container", "env", 0), {"name": "E", "value": "1"},
        (((*LEAF, "container", "env"), [{}]),),
    ),
    "synchronization": Position(m.Synchronization, ("spec", "synchronization"), {"mutexes": [{"name": "m"}]}),
    "mutex": Position(
        m.Mutex, ("spec", "synchronization", "mutexes", 0), {"name": "m"},
        ((("spec", "synchronization"), {"mutexes": [{}]}),),
    ),
    "suspend": Position(m.SuspendTemplate, (*LEAF, "suspend"), {"duration": "1"}, ((LEAF, {"name": "leaf"}),)),
    "hook": Position(m.LifecycleHook, ("spec", "hooks", "exit"), {"template": "leaf"}, ((("spec", "hooks"), {}),)),
    "resource": Position(
        m.ResourceTemplate, (*LEAF, "resource"), {"action": "create", "manifest": CHILD},
        ((LEAF, {"name": "leaf"}),),
    ),
    "input artifact": Position(
        m.Artifact, (*LEAF, "inputs", "artifacts", 0), {"name": "a", "path": "/tmp/a", "raw": {"data": "x"}},
        (((*LEAF, "inputs"), {"artifacts": [{}]}),),
    ),
    "output artifact": Position(
        m.Artifact, (*LEAF, "outputs", "artifacts", 0), {"name": "a", "path": "/tmp/a"},
        (((*LEAF, "outputs"), {"artifacts": [{}]}),),
    ),
    "argument artifact": Position(
        m.Artifact, (*TASK, "arguments", "artifacts", 0), {"name": "a", "raw": {"data": "x"}},
        (((*LEAF, "inputs"), {"artifacts": [{"name": "a", "path": "/tmp/a"}]}), ((*TASK, "arguments"), {"artifacts": [{}]})),
    ),
    "archive": Position(
        m.ArchiveStrategy, (*LEAF, "outputs", "artifacts", 0, "archive"), {"none": {}},
        (((*LEAF, "outputs"), {"artifacts": [{"name": "a", "path": "/tmp/a"}]}),),
    ),
    "raw": Position(
        m.RawArtifact, (*LEAF, "inputs", "artifacts", 0, "raw"), {"data": "x"},
        (((*LEAF, "inputs"), {"artifacts": [{"name": "a", "path": "/tmp/a"}]}),),
    ),
    "s3": Position(
        m.S3Artifact, (*LEAF, "outputs", "artifacts", 0, "s3"), {"key": "k"},
        (((*LEAF, "outputs"), {"artifacts": [{"name": "a", "path": "/tmp/a"}]}),),
    ),
    "memoize": Position(m.Memoize, (*LEAF, "memoize"), {"key": "k", "maxAge": "1h", "cache": {"configMap": {"name": "c"}}}),
    "volume": Position(m.Volume, ("spec", "volumes", 0), {"name": "v", "emptyDir": {}}, ((("spec", "volumes"), [{}]),)),
    "configMap volume": Position(
        m.ConfigMapVolumeSource, ("spec", "volumes", 0, "configMap"), {"name": "c", "optional": True},
        ((("spec", "volumes"), [{"name": "v"}]),),
    ),
    "secret volume": Position(
        m.SecretVolumeSource, ("spec", "volumes", 0, "secret"), {"secretName": "s", "optional": True},
        ((("spec", "volumes"), [{"name": "v"}]),),
    ),
    "volume item": Position(
        m.KeyToPath, ("spec", "volumes", 0, "configMap", "items", 0), {"key": "k", "path": "k"},
        ((("spec", "volumes"), [{"name": "v", "configMap": {"name": "c", "optional": True, "items": [{}]}}]),),
    ),
    "env valueFrom": Position(
        m.EnvVarSource, (*LEAF, "container", "env", 0, "valueFrom"),
        {"configMapKeyRef": {"name": "c", "key": "k", "optional": True}},
        (((*LEAF, "container", "env"), [{"name": "E"}]),),
    ),
    "configMapKeyRef": Position(
        m.ConfigMapKeySelector, (*LEAF, "container", "env", 0, "valueFrom", "configMapKeyRef"),
        {"name": "c", "key": "k", "optional": True},
        (((*LEAF, "container", "env"), [{"name": "E", "valueFrom": {}}]),),
    ),
    "secretKeyRef": Position(
        m.SecretKeySelector, (*LEAF, "container", "env", 0, "valueFrom", "secretKeyRef"),
        {"name": "s", "key": "k", "optional": True},
        (((*LEAF, "container", "env"), [{"name": "E", "valueFrom": {}}]),),
    ),
    "volumeMount": Position(
        m.VolumeMount, (*LEAF, "container", "volumeMounts", 0), {"name": "v", "mountPath": "/mnt/v"},
        ((("spec", "volumes"), [{"name": "v", "emptyDir": {}}]), ((*LEAF, "container", "volumeMounts"), [{}])),
    ),
}  # fmt: skip

# Objects inside implemented fields that are not positions of their own, and why nothing in them is ignored.
NESTED_ACCEPTED = {
    ("document", "metadata"): "name, generateName and namespace name the run; the rest is the API server's",
    ("task", "continueOn"): "both its fields, error and failed, are implemented (dag.continues_on)",
    ("step", "continueOn"): "both its fields, error and failed, are implemented (dag.continues_on)",
    ("archive", "none"): "an empty object: the artifact is stored as is (artifacts.save_outputs)",
    ("archive", "tar"): "the default, tar+gzip; compressionLevel changes the bytes, not what is stored",
    ("volume", "emptyDir"): "a folder per attempt (volumes.py); medium and sizeLimit size a node's disk",
    ("volume", "persistentVolumeClaim"): "a folder per run (volumes.py), shared by its tasks as a claim is",
    ("spec", "volumeClaimTemplates"): "each claim a folder per run named by its metadata.name (volumes.py)",
    ("memoize", "cache"): "its configMap's name names the cache's folder (memoize.py); nothing else is in it",
}


def minimal() -> dict[str, Any]:
    """A dag entrypoint with one task running a container: valid for Argo, accepted by the executor."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "schema-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "dag": {"tasks": [{"name": "a", "template": "leaf"}]}},
                {"name": "leaf", "container": {"image": "python:3.11", "command": ["python", "-c", "pass"]}},
            ],
        },
    }


def put(doc: dict[str, Any], path: tuple, value: Any) -> dict[str, Any]:
    if not path:
        return value
    holder = doc
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    return doc


def workflow_at(position: str, extra: dict[str, Any]) -> dict[str, Any]:
    """The minimal workflow with ``extra`` set on the object at ``position``."""
    where = POSITIONS[position]
    doc = minimal()
    for path, value in where.prepare:
        doc = put(doc, path, copy.deepcopy(value))
    current: Any = doc
    for key in where.path:
        current = current[key] if isinstance(current, list) or key in current else {}
    return put(doc, where.path, {**current, **where.base, **extra})


def fields(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON field names and their types."""
    return {field.alias or name: field.annotation for name, field in model.model_fields.items()}


def sample(annotation: Any) -> Any:
    """A small value the schema accepts for a field of this type."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return sample(next(a for a in args if a is not type(None)))
    if origin is typing.Annotated:
        return sample(args[0])
    if origin is typing.Literal:
        return args[0]
    if origin in (list, typing.List):  # noqa: UP006
        return [sample(args[0])]
    if origin in (dict, typing.Dict):  # noqa: UP006
        return {"k": sample(args[1])}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return next(iter(annotation)).value
    if isinstance(annotation, type) and issubclass(annotation, RootModel):
        return sample(annotation.model_fields["root"].annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {
            field.alias or name: sample(field.annotation)
            for name, field in annotation.model_fields.items()
            if field.is_required()
        }
    return {str: "x", int: 1, float: 1.0, bool: True}.get(annotation, "x")


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """The object types a field holds (through lists, maps, optionals and root models)."""
    if isinstance(annotation, type) and issubclass(annotation, RootModel):
        return models_in(annotation.model_fields["root"].annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in models_in(arg)]


def unsupported_fields() -> list[tuple[str, str]]:
    return [
        (position, name)
        for position, where in POSITIONS.items()
        if position in SUPPORTED
        for name in sorted(fields(where.model))
        if name not in {key.lstrip("~") for key in SUPPORTED[position]}
    ]


def test_every_preflight_position_is_walked():
    missing = sorted(set(SUPPORTED) - set(POSITIONS))
    assert not missing, f"add each new preflight position to POSITIONS (its Hera model and place): {missing}"


@pytest.mark.parametrize("position", sorted(set(SUPPORTED) & set(POSITIONS)))
def test_supported_fields_are_schema_fields(position):
    """A name in SUPPORTED that Argo's schema lacks is a typo: it would accept nothing and hide a refusal."""
    known = set(fields(POSITIONS[position].model))
    assert {key.lstrip("~") for key in SUPPORTED[position]} - known == set()


@pytest.mark.parametrize("position", sorted(POSITIONS))
def test_the_minimal_workflow_of_each_position_runs_here(position, tmp_path):
    doc = workflow_at(position, {})
    m.Workflow.model_validate(doc)
    LocalRun(doc, {}, str(tmp_path / "runs"))


@pytest.mark.parametrize(
    ("position", "field"), unsupported_fields(), ids=lambda value: value.replace(" ", "-")
)
def test_a_field_the_executor_does_not_implement_is_refused_by_name(position, field, tmp_path):
    doc = workflow_at(position, {field: sample(fields(POSITIONS[position].model)[field])})
    m.Workflow.model_validate(doc)  # Argo's schema accepts it
    with pytest.raises(Unsupported) as refusal:
        LocalRun(doc, {}, str(tmp_path / "runs"))
    assert f".{field}:" in str(refusal.value) or f"'{field}'" in str(refusal.value)
    assert not (tmp_path / "runs").exists()


def test_objects_inside_implemented_fields_are_checked_or_known_safe():
    """The preflight's positions cover every object an implemented field holds, but the ones listed as safe."""
    unchecked = set()
    for position, where in POSITIONS.items():
        implemented = {key for key in SUPPORTED.get(position, ()) if not key.startswith("~")}
        for name, annotation in fields(where.model).items():
            for model in models_in(annotation) if name in implemented else []:
                if not any(POSITIONS[p].model is model for p in SUPPORTED if p in POSITIONS):
                    unchecked.add((position, name))
    assert unchecked == set(NESTED_ACCEPTED)


def test_an_env_variable_from_a_secret_without_the_config_folder_is_refused_by_name(tmp_path, monkeypatch):
    """Found by the walk: the attempt set such a variable to '' (no pod, no Secret); it is now read from
    MLOPS_LOCAL_CONFIG_DIR (workflows.local.config_sources), and refused by name where that is not set."""
    monkeypatch.delenv("MLOPS_LOCAL_CONFIG_DIR", raising=False)
    source = {"secretKeyRef": {"name": "s", "key": "k"}}
    doc = workflow_at("env variable", {"valueFrom": source})
    del doc["spec"]["templates"][1]["container"]["env"][0]["value"]  # Kubernetes takes one or the other
    with pytest.raises(
        BadInput,
        match=r"^spec\.templates\[1\]\.container\.env\[0\]\.valueFrom\.secretKeyRef: .*MLOPS_LOCAL_CONFIG_DIR",
    ):
        LocalRun(doc, {}, str(tmp_path / "runs"))


def test_a_container_output_without_a_path_is_bad_input(tmp_path):
    """Found by the walk: a container's output with only a default crashed the attempt (KeyError 'path');
    Argo's validate.go validateOutputs says '.path must be specified for container templates'."""
    doc = workflow_at("valueFrom", {"default": "d", "path": None})
    del doc["spec"]["templates"][1]["outputs"]["parameters"][0]["valueFrom"]["path"]
    with pytest.raises(BadInput, match=r"valueFrom\.path must be specified for container templates"):
        LocalRun(doc, {}, str(tmp_path / "runs"))


class RecordedBackoff(LocalRun):
    """Records each backoff wait instead of sleeping it."""

    waits: list[float]

    def wait_backoff(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return False


def test_backoff_cap_limits_each_wait(tmp_path):
    """operator.go processNodeRetries: duration * factor^n, then 'if timeToWait > capDuration' the cap."""
    doc = minimal()
    leaf = doc["spec"]["templates"][1]
    leaf["container"]["command"] = ["python", "-c", "raise SystemExit(1)"]
    leaf["retryStrategy"] = {"limit": "3", "backoff": {"duration": "1", "factor": "4", "cap": "2"}}
    run = RecordedBackoff(doc, {}, str(tmp_path / "runs"))
    run.waits = []
    record = run.run()
    assert (record.phase, len(record.nodes["a"].attempts)) == ("Failed", 4)
    assert run.waits == [1.0, 2.0, 2.0]
