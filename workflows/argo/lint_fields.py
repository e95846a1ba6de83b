"""Field names and types against the models: Hera's for Argo's kinds (its generated models drop an
unknown field silently), Hera's event models for Argo Events (after rewriting the CRD's YAML form to the
API form they take), the kubernetes client's for core kinds."""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, RootModel

from workflows.argo.kubernetes_fields import MODELS

# Hera's event models hold these as protobuf messages; the CRD takes free YAML there.
OPAQUE_MODELS = {"K8SResource"}


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
    if issubclass(model, RootModel):  # a wrapper (a steps group, a loop item): its root's fields
        yield from unknown_fields(value, model.model_fields["root"].annotation, path)
        return
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
    """Unknown keys checked against the kubernetes client's models (their JSON field names), as copied
    into ``kubernetes_fields``: importing the client would cost lint ~0.3 s."""
    listed = re.fullmatch(r"(?:List|list)\[(.+)\]", type_name)
    if listed:
        return [
            p
            for i, item in enumerate(value or [])
            for p in kubernetes_unknown_fields(item, listed.group(1), f"{path}[{i}]")
        ]
    fields = MODELS.get(type_name)
    if not isinstance(value, dict) or fields is None:
        return []
    found = []
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key not in fields:
            found.append(where)
        else:
            found.extend(kubernetes_unknown_fields(item, fields[key], where))
    return found


def model_for(kind: str) -> type[BaseModel]:
    """Hera's model of an Argo Workflows kind, from the copy its events package holds (the same generated
    schema, checked by a test): a lint of the project's manifests then imports one package of models,
    not two (``hera.workflows`` alone costs 0.7 s, most of a lint), and of it the part Argo's kinds need."""
    from workflows.argo.hera_models import workflow_kinds

    return getattr(workflow_kinds(), kind)
