"""What an Argo Events Sensor does with an event, as its documentation says (filters on the event's
data by gjson-style path, then the trigger's parameters from ``dataKey`` or a Go ``dataTemplate``):
the test double that takes the project's Sensor through an event's documented shape."""

from __future__ import annotations

import copy
import re
from typing import Any


class EventMismatch(ValueError):
    """The event does not pass the dependency's filters: the sensor ignores it."""


def data_at(data: Any, path: str) -> Any:
    """The value at a gjson-style dotted path (``body.Records.0.s3.object.key``); None when absent."""
    for part in path.split(".") if path else []:
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    return data


_TEMPLATE_FIELD = re.compile(r"{{\s*(?:\(index \.Input((?:\.\w+)*) (\d+)\)|\.Input)((?:\.\w+)*)\s*}}")


def render_data_template(template: str, data: Any) -> str:
    """Render the Go template forms this project writes: ``.Input.a.b`` and ``(index .Input.a N).b``."""

    def field(match: re.Match) -> str:
        listed, index, rest = match.groups()
        base = data
        if index is not None:
            items = data_at(data, listed.lstrip("."))
            base = items[int(index)] if isinstance(items, list) and int(index) < len(items) else None
        value = data_at(base, rest.lstrip(".")) if base is not None else None
        if value is None:
            raise EventMismatch(f"event has no {match.group(0)}")
        return str(value)

    rendered = _TEMPLATE_FIELD.sub(field, template)
    if "{{" in rendered:
        raise ValueError(f"unsupported template: {template!r}")
    return rendered


def trigger_arguments(sensor_doc: dict[str, Any], event_data: Any) -> dict[str, str]:
    """The workflow arguments the Sensor's first trigger submits for this event's data."""
    dependency = sensor_doc["spec"]["dependencies"][0]
    for data_filter in (dependency.get("filters") or {}).get("data") or []:
        value = data_at(event_data, data_filter["path"])
        if not isinstance(value, str) or not any(re.search(p, value) for p in data_filter["value"]):
            raise EventMismatch(f"{data_filter['path']}={value!r} does not match {data_filter['value']}")
    trigger = sensor_doc["spec"]["triggers"][0]["template"]["argoWorkflow"]
    resource = copy.deepcopy(trigger["source"]["resource"])
    for parameter in trigger["parameters"]:
        src = parameter["src"]
        value = (
            render_data_template(src["dataTemplate"], event_data)
            if "dataTemplate" in src
            else data_at(event_data, src["dataKey"])
        )
        _set_path(resource, parameter["dest"], value)
    return {p["name"]: p.get("value", "") for p in resource["spec"]["arguments"]["parameters"]}


def _set_path(document: Any, dest: str, value: Any) -> None:
    parts = dest.split(".")
    for part in parts[:-1]:
        document = document[int(part)] if isinstance(document, list) else document[part]
    last = parts[-1]
    if isinstance(document, list):
        document[int(last)] = value
    else:
        document[last] = value
