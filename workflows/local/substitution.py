"""Argo's template tags in a local run: ``{{name}}`` and ``{{=expression}}`` substituted from a scope,
and Argo's durations read as seconds."""

from __future__ import annotations

import re
from typing import Any

from workflows.argo.expressions import ExpressionError, evaluate
from workflows.argo.lint import REFERENCE
from workflows.local.preflight import Unsupported


def parse_duration(value: Any) -> float:
    """Argo durations: seconds as a number, or '15s', '2m', '1h'."""
    text = str(value).strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text)
    if not match:
        raise Unsupported(f"duration {text!r}: use seconds or a number with s, m or h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def substitute(value: Any, scope: dict[str, str]) -> Any:
    """Replace ``{{name}}`` and ``{{=expression}}`` in strings (recursively) from ``scope``."""
    if isinstance(value, dict):
        return {key: substitute(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, scope) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        is_expression, body = bool(match.group(1)), match.group(2)
        if is_expression:
            return str(evaluate(body, scope.__getitem__))
        if body not in scope:
            raise ExpressionError(f"{{{{{body}}}}} is not known here")
        return scope[body]

    return REFERENCE.sub(replace, value)
