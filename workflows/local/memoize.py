"""``memoize`` on a container or script template, as Argo documents it (docs/memoization.md).

The ``key`` (its tags substituted with the task's inputs) names an entry of the cache that ``cache.configMap.name``
names; here a cache is a folder under the storage root, ``<storage root>/memoize/<cache>/``, one JSON file per key
in the shape of Argo's ConfigMap entry (``nodeID``, ``outputs``, ``creationTimestamp``, ``lastHitTimestamp``). An
entry younger than ``maxAge`` is a hit: the node Succeeds with the entry's outputs and starts no process, and its
record says ``memoization: {hit, key, cacheName}`` (Argo's ``MemoizationStatus``). Only a Succeeded attempt is
stored (3.5+: a failed node is never cached); a later one with the same key replaces the entry.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflows.local.record import Attempt, Node, Phase, ended, now_iso
from workflows.local.substitution import parse_duration, substitute

if TYPE_CHECKING:
    from workflows.local.executor import LocalRun


def entry_path(run: LocalRun, template: dict[str, Any], key: str) -> Path:
    cache = str(((template["memoize"].get("cache") or {}).get("configMap") or {}).get("name", "default"))
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]  # any key is a file name
    return Path(run.runs_root).parent / "memoize" / cache / f"{digest}.json"


def key_of(template: dict[str, Any], scope: dict[str, str]) -> str:
    return str(substitute(str(template["memoize"].get("key", "")), scope))


def lookup(
    run: LocalRun, node: Node, template: dict[str, Any], scope: dict[str, str], attempt: Attempt
) -> tuple[Attempt, dict[str, str]] | None:
    """A hit's attempt and outputs, or None (a miss: no entry, or one older than ``maxAge``)."""
    key = key_of(template, scope)
    cache = str(((template["memoize"].get("cache") or {}).get("configMap") or {}).get("name", ""))
    node.memoization = {"hit": False, "key": key, "cacheName": cache}
    path = entry_path(run, template, key)
    if not path.is_file():
        return None
    entry = json.loads(path.read_text())
    created = datetime.strptime(entry["creationTimestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    max_age = template["memoize"].get("maxAge")
    if max_age and (datetime.now(UTC) - created).total_seconds() > parse_duration(max_age):
        return None
    node.memoization["hit"] = True
    outputs = entry.get("outputs") or {}
    attempt.artifacts = {a["name"]: a for a in outputs.get("artifacts") or []}
    attempt.result = outputs.get("result")
    values = {p["name"]: p["value"] for p in outputs.get("parameters") or []}
    exit_code = int(outputs.get("exitCode", 0))
    return ended(
        attempt, Phase.Succeeded, exit_code, "", values
    )  # Argo's hit has no message, only its status


def store(
    run: LocalRun,
    node: Node,
    template: dict[str, Any],
    scope: dict[str, str],
    attempt: Attempt,
    outputs: dict,
) -> None:
    """Keep a Succeeded attempt's outputs under its key, whole or absent."""
    path = entry_path(run, template, key_of(template, scope))
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "nodeID": f"{run.record.name}-{node.name}",
        "outputs": {
            "parameters": [{"name": name, "value": value} for name, value in outputs.items()],
            "artifacts": list(attempt.artifacts.values()),
            "result": attempt.result,
            "exitCode": str(attempt.exit_code or 0),
        },
        "creationTimestamp": now_iso(),
        "lastHitTimestamp": now_iso(),
    }
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(entry, indent=2))
    partial.replace(path)
