"""YAML through libyaml when PyYAML was built with it: the same documents, parsed and written
several times faster than by PyYAML's pure-Python loader and dumper (lint reads every manifest)."""

from __future__ import annotations

from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load(text: str) -> Any:
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader


def load_all(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=_LOADER))  # noqa: S506 - a safe loader


def dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_DUMPER, sort_keys=False, allow_unicode=False)


def hera_yaml(workflow: Any) -> str:
    """A Hera workflow's own YAML (its key order and string styles), written by libyaml: the same text
    as ``to_yaml()``, 3-5 times faster than its pure-Python dumper."""
    return workflow.to_yaml(Dumper=_DUMPER)
