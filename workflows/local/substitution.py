"""Argo's template tags in a local run: ``{{name}}`` and ``{{=expression}}`` substituted from a scope,
and Argo's durations read as seconds.

A tag runs from ``{{`` to the first ``}}`` (util/template/template.go: fasttemplate with those delimiters),
so an expression may hold a single ``}``; it is an expression when ``=`` follows ``{{`` at once
(util/template/kind.go ``parseTag``). An expression's value is written as Go's ``%v`` writes it
(util/template/expression_template.go): ``true``/``false``, ``3``, ``2.5``, ``1e+06``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from workflows.argo.expressions import ExpressionError, evaluate
from workflows.local.preflight import Unsupported

TAG = re.compile(r"{{(.*?)}}", re.DOTALL)


class Absent(str):
    """A skipped or omitted task's output parameter that declared no default: Argo's "absent optional"
    (workflow/controller/scope.go ``addSkippedParamToScope``); any tag that resolves to it is an error."""

    __slots__ = ()


ABSENT = Absent("")


class Unreadable(str):
    """A value Argo fails to build, such as a loop's results that are not JSON; any tag that reads it errs."""

    reason = ""


def unreadable(reason: str) -> Unreadable:
    value = Unreadable("")
    value.reason = reason
    return value


GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_duration(value: Any) -> float:
    """Argo durations: seconds as a number, or Go's time.ParseDuration text ('100ms', '15s', '1m30s', '2h')."""
    text = str(value).strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise Unsupported(
            f"duration {text!r}: use seconds or Go's duration text such as 500ms, 15s, 1m30s, 2h"
        )
    return sum(float(number) * GO_UNITS[unit] for number, unit in parts)


def go_text(value: Any) -> str:
    """``fmt.Sprintf("%v", value)`` for the values an expression gives (expression_template.go)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        # expression_template.go: a nil result is "failed to evaluate expression"
        raise ExpressionError("the expression gave nil")
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, list):
        return "[" + " ".join(go_text(item) for item in value) + "]"
    return str(value)


def _go_float(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 64), which %v uses: shortest digits, an exponent from 1e+06 or below 1e-04."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if repr(value).startswith("-") else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + exponent  # where the decimal point falls among the digits
    power = point - 1
    if power < -4 or power >= 6:  # ftoa.go: with the shortest digits, eprec is 6
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        body = f"{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    elif point <= 0:
        body = "0." + "0" * -point + text
    elif point >= len(text):
        body = text + "0" * (point - len(text))
    else:
        body = text[:point] + "." + text[point:]
    return ("-" if sign else "") + body


def _resolve(scope: dict[str, str], name: str) -> str:
    value = scope[name]
    if isinstance(value, Unreadable):
        raise ExpressionError(f"{{{{{name}}}}}: {value.reason}")
    if isinstance(value, Absent):
        raise ExpressionError(
            f"{{{{{name}}}}} is an absent optional: its task was Skipped or Omitted and the output "
            "parameter declares no default"
        )
    return value


def substitute(value: Any, scope: dict[str, str]) -> Any:
    """Replace ``{{name}}`` and ``{{=expression}}`` in strings (recursively) from ``scope``."""
    if isinstance(value, dict):
        return {key: substitute(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, scope) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        tag = match.group(1)
        if tag.startswith("="):
            return go_text(evaluate(tag[1:].strip(), lambda name: _resolve(scope, name)))
        body = tag.strip()  # simple_template.go trims a simple tag
        if body not in scope:
            raise ExpressionError(f"{{{{{body}}}}} is not known here")
        return _resolve(scope, body)

    return TAG.sub(replace, value)


def pure_reference(value: str) -> str | None:
    """The name a value refers to when it is one simple tag and nothing else (scope.go ``absentOptionalRef``)."""
    if not (value.startswith("{{") and value.endswith("}}")):
        return None
    inner = value[2:-2].strip()
    return None if "{{" in inner or "}}" in inner or inner.startswith("=") else inner
