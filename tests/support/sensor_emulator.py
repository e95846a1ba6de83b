"""A test double of Argo Events: what an EventSource dispatches and what a Sensor then does with it,
following Argo Events' documentation and, where the documentation is silent, its source
(github.com/argoproj/argo-events):

- **Event data.** The SQS source dispatches ``{"messageId", "messageAttributes", "body"}``, ``body``
  being the message parsed as JSON when the EventSource sets ``jsonBody: true`` and its text
  otherwise (docs/eventsources/setup/aws-sqs.md; ``SQSEventData`` in
  pkg/eventsources/events/event-data.go; ``processMessage`` in pkg/eventsources/sources/awssqs/start.go).
  The MinIO source dispatches ``{"notification": [<record>]}``, the records as MinIO's
  ListenBucketNotification API sends them (docs/eventsources/setup/minio.md; ``MinioEventData``;
  ``handleOne`` in pkg/eventsources/sources/minio/start.go).
- **Data filters** (docs/sensors/filters/data.md; ``filterData`` in pkg/sensors/dependencies/filter.go).
  ``path`` is a gjson path into the event data (github.com/tidwall/gjson SYNTAX.md); a path that does
  not exist fails the filter ("Any kind of error is considered as false"); a ``string`` filter's values
  are Go (RE2) regular expressions searched in the value; every filter must pass (``and``).
- **Trigger parameters** (docs/tutorials/02-parameterization.md; ``TriggerParameterSource`` in the API
  reference; ``ResolveParamValue`` in pkg/sensors/triggers/params.go). ``dataTemplate`` is a Go
  text/template with sprig's functions, ``.Input`` the event data; a template that fails, or renders ""
  or "<no value>", falls back to ``dataKey`` (a gjson path), then to ``value``; with none of them the
  trigger fails and nothing is submitted.

It implements what the project's Sensor uses and refuses the rest by name (:class:`Unsupported`: a
gjson wildcard, a sprig function, an ``or`` of filters), so a Sensor it cannot check fails the test
instead of passing it.
"""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from typing import Any


class EventMismatch(ValueError):
    """The event does not pass the dependency's filters: the sensor ignores it."""


class TriggerFailed(RuntimeError):
    """A trigger parameter cannot be resolved: Argo Events fails the trigger and submits nothing."""


class Unsupported(ValueError):
    """A feature of Argo Events this double does not implement."""


# --- what the EventSource dispatches ----------------------------------------------------------


def dispatch(event_source_doc: dict[str, Any], payload: Any) -> dict[str, Any] | None:
    """The event data the EventSource's one event dispatches for ``payload`` (an SQS message body as
    text, or a MinIO notification record), as the sensor parses it; None when nothing is dispatched."""
    spec = event_source_doc["spec"]
    if "sqs" in spec:
        [config] = spec["sqs"].values()
        body: Any = payload
        if config.get("jsonBody"):
            try:
                body = json.loads(payload)
            except json.JSONDecodeError:
                return None  # marshalling the RawMessage fails: logged, left for the DLQ
        data = {"messageId": "8d3c6b8e-3f0a-4d5e-9b61-2f4f1c0e7a11", "messageAttributes": None, "body": body}
    elif "minio" in spec:
        [config] = spec["minio"].values()
        key_filter = config.get("filter") or {}
        key, event = payload["s3"]["object"]["key"], payload["eventName"]
        if (
            payload["s3"]["bucket"]["name"] != config["bucket"]["name"]
            or not key.startswith(key_filter.get("prefix", ""))
            or not key.endswith(key_filter.get("suffix", ""))
            or not any(_minio_event_matches(pattern, event) for pattern in config["events"])
        ):
            return None  # MinIO filters by bucket, prefix, suffix and event name before it sends
        data = {"notification": [payload]}
    else:
        raise Unsupported(f"event source kind {sorted(spec)}")
    if config.get("metadata"):
        data["metadata"] = config["metadata"]
    return json.loads(json.dumps(data))


def _minio_event_matches(pattern: str, event: str) -> bool:
    return event.startswith(pattern[:-1]) if pattern.endswith("*") else event == pattern


# --- gjson paths ------------------------------------------------------------------------------

_GJSON_SYNTAX = set("*?#@|,!")  # wildcards, queries, modifiers, pipes, multipaths


def gjson_get(data: Any, path: str) -> tuple[bool, Any]:
    """(exists, value) at a gjson path: keys separated by '.', '\\.' a literal dot, a number an
    array index."""
    parts, current, escaped = [], "", False
    for char in path:
        if escaped:
            current, escaped = current + char, False
        elif char == "\\":
            escaped = True
        elif char == ".":
            parts, current = [*parts, current], ""
        elif char in _GJSON_SYNTAX:
            raise Unsupported(f"gjson path {path!r}: {char!r} is not implemented")
        else:
            current += char
    for part in [*parts, current]:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and re.fullmatch(r"[0-9]+", part) and int(part) < len(data):
            data = data[int(part)]
        else:
            return False, None
    return True, data


def gjson_string(value: Any) -> str:
    """gjson's ``Result.String()``: null is "", a number its shortest decimal, a block its JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- data filters -----------------------------------------------------------------------------


def check_filters(dependency: dict[str, Any], data: Any) -> None:
    """Raise EventMismatch unless the event data passes the dependency's data filters."""
    filters = dependency.get("filters") or {}
    operator = filters.get("dataLogicalOperator") or "and"
    if set(filters) - {"data", "dataLogicalOperator"} or operator != "and":
        raise Unsupported(f"filters {sorted(filters)} (only data filters joined by 'and')")
    for data_filter in filters.get("data") or []:
        if set(data_filter) - {"path", "type", "value", "comparator"} or data_filter.get("type") != "string":
            raise Unsupported(f"data filter {data_filter} (only type string, no template)")
        negate = {"": False, "=": False, "!=": True}.get(data_filter.get("comparator", ""))
        if negate is None:
            raise Unsupported(f"string comparator {data_filter['comparator']!r}")
        path = data_filter["path"]
        exists, value = gjson_get(data, path)
        if not exists:
            raise EventMismatch(f"data filter error (path '{path}' does not exist)")
        if not data_filter.get("value"):
            raise EventMismatch("data filter error (no values specified)")
        text = gjson_string(value)
        if not any((go_regex(p).search(text) is not None) != negate for p in data_filter["value"]):
            raise EventMismatch(f"{path}={text!r} does not match {data_filter['value']}")


def go_regex(pattern: str) -> re.Pattern[str]:
    """Python's regex for a Go (RE2) one: what RE2 lacks is refused; ``$`` matches only at the very
    end, as in Go without the ``m`` flag (Python's also matches before a final newline)."""
    if re.search(r"\(\?<?[=!]|\\[1-9]|\(\?[a-zA-Z]*m", pattern):
        raise Unsupported(f"regex {pattern!r}: lookarounds, backreferences, the m flag")
    out, i, in_class = [], 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append(r"\Z" if pattern[i : i + 2] == r"\z" else pattern[i : i + 2])
            i += 2
            continue
        if char == "[" and not in_class:
            in_class = True
            opening = re.match(r"\[\^?\]?", pattern[i:]).group(0)  # a ']' first in a class is literal
            out.append(opening)
            i += len(opening)
            continue
        if char == "]" and in_class:
            in_class = False
        out.append(r"\Z" if char == "$" and not in_class else char)
        i += 1
    return re.compile("".join(out))


# --- Go templates -----------------------------------------------------------------------------


class _Missing:
    """Go's invalid reflect.Value: a map key that is not there; printed as "<no value>"."""


MISSING = _Missing()


class TemplateError(Exception):
    """The template fails to parse or to execute, as Go's text/template would."""


_ACTION = re.compile(r"{{(.*?)}}", re.DOTALL)
_TOKEN = re.compile(
    r"\s*(?:(?P<fields>(?:\.[A-Za-z_]\w*)+|\.)|(?P<int>-?\d+)|(?P<word>[A-Za-z_]\w*)|(?P<sym>\S))"
)


def render_data_template(template: str, data: Any) -> str:
    """Execute a Go template over ``{"Input": data}``: text, and actions made of field chains
    (``.Input.a.b``) and the ``index`` builtin (``(index .Input.a 0).b``). Anything else, sprig's
    functions included, is refused as Unsupported. Raises TemplateError where Go fails, and for an
    output of "" or "<no value>", which Argo Events treats as a failed template."""
    out = []
    position = 0
    for action in _ACTION.finditer(template):
        out.append(template[position : action.start()])
        position = action.end()
        body = action.group(1)
        if body.startswith(("-", "/*")) or body.endswith("-"):
            raise Unsupported(f"template {template!r}: trim markers and comments")
        tokens = _tokens(body, template)
        value, rest = _expression(tokens, {"Input": data}, template)
        if rest:
            raise Unsupported(f"template {template!r}: {rest[0][1]!r} (pipelines, functions, variables)")
        out.append(_printed(value, template))
    out.append(template[position:])
    rendered = "".join(out)
    if "{{" in template[position:]:
        raise TemplateError(f"template {template!r}: unclosed action")
    if rendered in ("", "<no value>"):
        raise TemplateError(f"template evaluated to empty string or no value: {template}")
    return rendered


def _tokens(body: str, template: str) -> list[tuple[str, str, bool]]:
    """(kind, text, whether a space precedes it): ``(x).f`` chains a field, ``(x) .f`` does not."""
    tokens, position = [], 0
    while body[position:].strip():
        match = _TOKEN.match(body, position)
        text = match.group(match.lastgroup)
        tokens.append((match.lastgroup, text, match.group(0) != text))
        position = match.end()
    if not tokens:
        raise TemplateError(f"template {template!r}: missing value for command")
    return tokens


def _expression(tokens: list, dot: Any, template: str) -> tuple[Any, list]:
    kind, text, _ = tokens[0]
    if kind == "word" and text == "index":
        item, rest = _term(tokens[1:], dot, template)
        indexes = []
        while rest and rest[0][0] == "int":
            indexes.append(int(rest[0][1]))
            rest = rest[1:]
        return _index(item, indexes), rest
    if kind == "word":
        raise Unsupported(f"template {template!r}: function {text!r}")
    return _term(tokens, dot, template)


def _term(tokens: list, dot: Any, template: str) -> tuple[Any, list]:
    if not tokens:
        raise TemplateError(f"template {template!r}: missing argument")
    kind, text, _ = tokens[0]
    if kind == "fields":
        return _fields(dot, text, template), tokens[1:]
    if (kind, text) == ("sym", "("):
        value, rest = _expression(tokens[1:], dot, template)
        if not rest or rest[0][:2] != ("sym", ")"):
            raise TemplateError(f"template {template!r}: unclosed '('")
        if len(rest) > 1 and rest[1][0] == "fields" and not rest[1][2]:
            return _fields(value, rest[1][1], template), rest[2:]
        return value, rest[1:]
    raise Unsupported(f"template {template!r}: {text!r}")


def _fields(value: Any, chain: str, template: str) -> Any:
    for name in chain.split(".")[1:]:
        if value is MISSING:
            continue  # a field of a missing value is missing too (missingkey=default)
        if value is None:
            raise TemplateError(f"template {template!r}: nil pointer evaluating interface {{}}.{name}")
        if not isinstance(value, dict):
            raise TemplateError(
                f"template {template!r}: can't evaluate field {name} in type {_go_type(value)}"
            )
        value = value.get(name, MISSING)
    return value


def _index(item: Any, indexes: list[int]) -> Any:
    if item is MISSING or item is None:
        raise TemplateError("error calling index: index of untyped nil")
    for index in indexes:
        if isinstance(item, list):
            if not 0 <= index < len(item):
                raise TemplateError(f"error calling index: index out of range: {index}")
            item = item[index]
        elif isinstance(item, dict):
            raise TemplateError("error calling index: value has type int; should be string")
        else:
            raise TemplateError(f"error calling index: can't index item of type {_go_type(item)}")
    return item


def _printed(value: Any, template: str) -> str:
    if value is MISSING:
        return "<no value>"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    raise Unsupported(f"template {template!r}: printing a {_go_type(value)}")


def _go_type(value: Any) -> str:
    kinds = {bool: "bool", str: "string", int: "float64", float: "float64", list: "[]interface {}"}
    return kinds.get(type(value), "map[string]interface {}")


# --- the Sensor -------------------------------------------------------------------------------


def resolve_parameter(src: dict[str, Any], events: dict[str, Any]) -> str | None:
    """A trigger parameter's value from the events by dependency, as ResolveParamValue does."""
    if set(src) - {"dependencyName", "dataKey", "dataTemplate", "value"}:
        raise Unsupported(f"parameter source {sorted(src)} (context keys, useRawData)")
    if src["dependencyName"] not in events:
        return src.get("value")
    if "dataKey" not in src and "dataTemplate" not in src:
        if "value" in src:
            return src["value"]
        raise Unsupported("a parameter of the whole event")
    data, problem = events[src["dependencyName"]], ""
    if "dataTemplate" in src:
        try:
            return render_data_template(src["dataTemplate"], data)
        except TemplateError as exc:
            problem = str(exc)
    if "dataKey" in src:
        exists, value = gjson_get(data, src["dataKey"])
        if exists:
            return "null" if value is None else gjson_string(value)
        problem = f"key {src['dataKey']} does not exist to in the event payload"
    if "value" in src:
        return src["value"]
    raise TriggerFailed(f"unable to resolve '{src['dependencyName']}' parameter value. err: {problem}")


def trigger_arguments(sensor_doc: dict[str, Any], event_data: Any) -> dict[str, str]:
    """The workflow arguments the Sensor's trigger submits for this event's data. Raises
    EventMismatch when the filters refuse the event, TriggerFailed when a parameter cannot be made."""
    spec = sensor_doc["spec"]
    if len(spec["dependencies"]) != 1 or len(spec["triggers"]) != 1:
        raise Unsupported("more than one dependency or trigger")
    [dependency], [trigger] = spec["dependencies"], spec["triggers"]
    data = json.loads(json.dumps(event_data))  # the sensor reads the dispatched bytes as JSON
    check_filters(dependency, data)
    template = trigger["template"]
    if set(template) - {"name", "argoWorkflow"} or trigger.get("parameters"):
        raise Unsupported(f"trigger template {sorted(template)} or template parameters")
    workflow = template["argoWorkflow"]
    if workflow.get("operation", "submit") != "submit":
        raise Unsupported(f"argoWorkflow operation {workflow['operation']!r}")
    resource = copy.deepcopy(workflow["source"]["resource"])
    for parameter in workflow.get("parameters") or []:
        if parameter.get("operation") not in (None, "", "overwrite"):
            raise Unsupported(f"parameter operation {parameter['operation']!r}")
        value = resolve_parameter(parameter["src"], {dependency["name"]: data})
        if value is not None:
            _set_path(resource, parameter["dest"], value)
    return {p["name"]: p.get("value", "") for p in resource["spec"]["arguments"]["parameters"]}


def _set_path(document: Any, dest: str, value: str) -> None:
    parts = dest.split(".")
    for part in parts[:-1]:
        document = document[int(part)] if isinstance(document, list) else document[part]
    if isinstance(document, list):
        document[int(parts[-1])] = value
    else:
        document[parts[-1]] = value
