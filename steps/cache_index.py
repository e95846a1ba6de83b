"""The step cache's index under ``<storage root>/cache/``, local or ``s3://``, through ``steps.storage``.

An entry is ``entries/<step>/<key>.json``: the key's parts, the result, and each output file's copy
under ``objects/<key>/<nonce>/`` with its size and version. It is written after a success only, the
objects first and the entry last, in one atomic write: a reader sees a whole entry or none. Two runs
storing one key write their objects under different nonces, and the last entry wins whole: the entry
is never a mix. A lookup checks that every object still exists unchanged; if one does not, the entry is
dropped and it is a miss.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

from steps import cache_key, storage, storage_files
from steps.errors import BadInput

# What a step folder holds that is not an output to restore: records of this very run.
NOT_OUTPUTS = {"usage.json", "cache.json", "result.json"}


def cache_root(storage_root: str) -> str:
    return storage.join(storage_root, "cache")


def entry_uri(root: str, step: str, key: str) -> str:
    return storage.join(root, "entries", step, f"{key}.json")


def store(root: str, step: str, key: str, parts: dict[str, Any], folder: str, result: dict[str, Any]) -> str:
    """Copy the step folder's outputs under a fresh nonce, then write the entry pointing at them."""
    base = storage.join(root, "objects", key, uuid.uuid4().hex)
    found = storage_files.walk(folder)
    rels = [
        rel
        for rel in sorted(found)
        if rel.split("/")[-1] not in NOT_OUTPUTS and not rel.split("/")[-1].startswith(".")
    ]
    # kept with each output, so a restore tells the next step's key what it holds without hashing it
    digests = cache_key.local_digests(folder, rels) if not storage.is_s3(folder) else {}
    outputs = {}
    for rel in rels:
        target = storage.join(base, rel)
        storage_files.copy(storage.join(folder, rel), target)
        size, version = storage_files.stat(target) or (0, "")
        outputs[rel] = {"uri": target, "size": size, "version": version}
        if rel in digests:
            outputs[rel]["sha256"] = digests[rel]
    entry = {
        "key": key,
        "step": step,
        "parts": parts,
        "result": result,
        "outputs": outputs,
        "run_dir": folder,
        "created": time.time(),
    }
    uri = entry_uri(root, step, key)
    storage.write_json(uri, entry)
    return uri


def read_entry(uri: str) -> dict[str, Any] | None:
    """An entry, or None when it is absent or not whole (a foreign file: treated as a miss)."""
    try:
        entry = storage.read_json(uri)
    except BadInput:
        return None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return entry if isinstance(entry, dict) and {"result", "outputs"} <= entry.keys() else None


def lookup(root: str, step: str, key: str) -> dict[str, Any] | None:
    """The entry of a key whose outputs all still exist unchanged; a broken one is dropped (a miss)."""
    uri = entry_uri(root, step, key)
    entry = read_entry(uri)
    if entry is None:
        return None
    for output in entry["outputs"].values():
        if storage_files.stat(output["uri"]) != (output["size"], output["version"]):
            storage_files.delete(uri)
            return None
    return entry


def restore(entry: dict[str, Any], folder: str) -> None:
    """Put the entry's outputs into the step folder, each whole (a link or a copy)."""
    for rel, output in entry["outputs"].items():
        storage_files.copy(output["uri"], storage.join(folder, rel))
    known = {rel: output["sha256"] for rel, output in entry["outputs"].items() if "sha256" in output}
    if known and not storage.is_s3(folder):
        cache_key.remember_digests(folder, known)  # the entry's objects were checked unchanged by lookup


def entries(root: str, step: str | None = None) -> list[dict[str, Any]]:
    """Every whole entry (of one step), oldest first."""
    base = storage.join(root, "entries", *([step] if step else []))
    if not storage.is_s3(base) and not os.path.isdir(base):
        return []
    found = []
    for rel in storage_files.walk(base):
        if rel.endswith(".json") and not rel.split("/")[-1].startswith("."):
            entry = read_entry(storage.join(base, rel))
            if entry is not None:
                entry["uri"] = storage.join(base, rel)
                found.append(entry)
    return sorted(found, key=lambda e: e.get("created", 0))


def drop(entry: dict[str, Any]) -> None:
    """Remove an entry, then its objects (a reader holding the entry finds them gone: a miss)."""
    storage_files.delete(entry["uri"])
    for output in entry["outputs"].values():
        storage_files.delete(output["uri"])


def prune(root: str, older_than_seconds: float, now: float | None = None) -> list[dict[str, Any]]:
    """Drop the entries stored more than ``older_than_seconds`` ago; returns them."""
    cutoff = (time.time() if now is None else now) - older_than_seconds
    kept, old = [], []
    for entry in entries(root):
        (old if entry.get("created", 0) < cutoff else kept).append(entry)
    for entry in old:
        drop(entry)
    drop_orphans(root, kept, cutoff)
    return old


def drop_orphans(root: str, kept: list[dict[str, Any]], cutoff: float) -> None:
    """Objects no entry points at (a store that lost a race, or stopped before its entry), as old as the cutoff."""
    objects = storage.join(root, "objects")
    if not storage.is_s3(objects) and not os.path.isdir(objects):
        return
    used = {output["uri"] for entry in kept for output in entry["outputs"].values()}
    for rel in storage_files.walk(objects):
        uri = storage.join(objects, rel)
        if uri not in used and _stored_at(uri) < cutoff:
            storage_files.delete(uri)


def _stored_at(uri: str) -> float:
    """When an object was written (its mtime locally; on S3 it counts as old: entries are pruned first)."""
    return 0.0 if storage.is_s3(uri) else os.path.getmtime(uri)
