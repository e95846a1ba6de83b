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
