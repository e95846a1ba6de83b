"""A sweep's search space: what each hyperparameter may take, read from JSON or YAML and checked.

Every key is one of train's hyperparameters (``lr``, ``batch-size``, ``hidden-sizes``, ``dropout``,
``weight-decay``) or ``epochs``, the cap each trial trains to. A value is fixed (a number or string),
a choice (a list), or a range (``{low: 1e-4, high: 0.1, log: true}``; ``log`` draws log-uniform).
``hidden-sizes`` is a choice of layer lists (``["64,32", "128"]`` or ``[[64, 32], [128]]``). Anything
train would refuse is refused here, naming the key, before a trial is drawn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from steps.errors import BadInput

DEFAULT_SPACE = {
    "lr": {"low": 1e-4, "high": 3e-2, "log": True},
    "batch-size": [128, 256, 512],
    "hidden-sizes": ["32", "64,32", "128,64"],
    "dropout": {"low": 0.0, "high": 0.4},
    "weight-decay": {"low": 1e-6, "high": 1e-3, "log": True},
    "epochs": 12,
}
# Each key: its type and the bounds train's parameters accept (steps.train.TrainParams).
BOUNDS: dict[str, tuple[type, float, float]] = {
    "lr": (float, 0.0, 1.0),
    "batch-size": (int, 1, 1_048_576),
    "dropout": (float, 0.0, 0.999),
    "weight-decay": (float, 0.0, 1.0),
    "epochs": (int, 1, 10_000),
}
KEYS = (*BOUNDS, "hidden-sizes")


@dataclass(frozen=True)
class Space:
    """The checked space: Optuna distributions by key, the fixed values, and the epochs cap."""

    distributions: dict[str, Any]
    fixed: dict[str, Any]
    epochs: int


def parse_text(text: str) -> dict[str, Any]:
    """The space as a mapping, from JSON or YAML text (JSON is YAML, but JSON's errors are clearer)."""
    import yaml

    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            line = f" (line {where.line + 1})" if where is not None else ""
            raise BadInput(f"parameter --search-space: neither JSON nor YAML{line}") from None
    if not isinstance(value, dict) or not value:
        raise BadInput("parameter --search-space: must be a mapping of hyperparameter to values")
    return value


def _number(key: str, value: Any, kind: type) -> float | int:
    low, high = BOUNDS[key][1:]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(f"parameter --search-space: key '{key}': {value!r} is not a number")
    if kind is int and value != int(value):
        raise BadInput(f"parameter --search-space: key '{key}': {value!r} is not a whole number")
    if not low <= value <= high or (key == "lr" and value <= 0):
        raise BadInput(f"parameter --search-space: key '{key}': {value!r} is outside ({low}, {high}]")
    return kind(value)


def _layers(value: Any) -> str:
    """One choice of hidden sizes as train takes it: ``"64,32"``."""
    widths = value if isinstance(value, list) else str(value).split(",")
    try:
        parsed = [int(str(w).strip()) for w in widths]
    except ValueError:
        raise BadInput(
            f"parameter --search-space: key 'hidden-sizes': {value!r} is not a list of widths"
        ) from None
    if not parsed or any(not 1 <= w <= 65_536 for w in parsed):
        raise BadInput(
            f"parameter --search-space: key 'hidden-sizes': each width of {value!r} must be 1..65536"
        )
    return ",".join(map(str, parsed))


def _range(key: str, value: dict[str, Any]):
    from optuna.distributions import FloatDistribution, IntDistribution

    unknown = set(value) - {"low", "high", "log"}
    if unknown or not {"low", "high"} <= set(value):
        raise BadInput(f"parameter --search-space: key '{key}': a range is {{low, high, log}}")
    kind = BOUNDS[key][0]
    low, high = _number(key, value["low"], kind), _number(key, value["high"], kind)
    log = value.get("log", False)
    if not isinstance(log, bool):
        raise BadInput(f"parameter --search-space: key '{key}': log must be true or false")
    if low >= high:
        raise BadInput(f"parameter --search-space: key '{key}': low {low} is not below high {high}")
    if log and low <= 0:
        raise BadInput(f"parameter --search-space: key '{key}': a log range needs low > 0")
    return (IntDistribution if kind is int else FloatDistribution)(low, high, log=log)


def check_space(raw: dict[str, Any]) -> Space:
    """The space, or ``BadInput`` naming the first key that is wrong."""
    from optuna.distributions import CategoricalDistribution

    distributions, fixed = {}, {}
    for given, value in raw.items():
        key = str(given).replace("_", "-")
        if key not in KEYS:
            raise BadInput(f"parameter --search-space: unknown key '{given}' (keys: {', '.join(KEYS)})")
        if key == "epochs":
            if isinstance(value, dict | list):
                raise BadInput("parameter --search-space: key 'epochs': the cap is one whole number")
            fixed[key] = _number(key, value, int)
        elif isinstance(value, dict):
            if key == "hidden-sizes":
                raise BadInput("parameter --search-space: key 'hidden-sizes': a choice (list) of layer lists")
            distributions[key] = _range(key, value)
        elif isinstance(value, list):
            if not value:
                raise BadInput(f"parameter --search-space: key '{key}': an empty choice")
            choices = [
                _layers(v) if key == "hidden-sizes" else _number(key, v, BOUNDS[key][0]) for v in value
            ]
            distributions[key] = CategoricalDistribution(list(dict.fromkeys(choices)))
        else:
            fixed[key] = _layers(value) if key == "hidden-sizes" else _number(key, value, BOUNDS[key][0])
    return Space(distributions, fixed, int(fixed.pop("epochs", DEFAULT_SPACE["epochs"])))


def read_space(text: str) -> Space:
    return check_space(parse_text(text) if text.strip() else dict(DEFAULT_SPACE))
