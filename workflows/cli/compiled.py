"""The project's workflows as a local run executes them, compiled once per version of their sources.

Compiling with Hera (its import and the project's templates) takes a second or two of every
``mlops run``; its result depends only on the settings and the code. The compiled, linted document
is kept in this user's cache folder (``$XDG_CACHE_HOME/argo-mlops/compiled``), named by a digest of
the checkout, the workflow's name, the settings, Hera's version and every source file under steps/
and workflows/; any change to one of them compiles again. The settings that say *where* (storage
root, data) are left out of the digest: they are only parameter defaults in the document, and every
run passes them as parameters, so a new storage root reuses what an earlier one compiled.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workflows.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("steps", "workflows")  # all a compile, its lint and its resolving read (a few ms to hash)
WHERE = ("storage_root", "data_uri")  # the settings behind Settings.workflow_parameters' locations
KEPT_PER_WORKFLOW = 8  # older compilations of a workflow are deleted when a new one is kept
DIGEST_LENGTH = 20


def cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base, "argo-mlops", "compiled")


def source_files() -> list[Path]:
    found = []
    for name in SOURCES:
        path = ROOT / name
        found += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return found


def digest(workflow: str, settings: Settings) -> str:
    from importlib.metadata import version

    key = hashlib.sha256()
    what = settings.model_dump_json(exclude=set(WHERE))
    for part in (str(ROOT), workflow, what, version("hera"), sys.version):
        key.update(part.encode() + b"\0")
    for path in source_files():
        key.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return key.hexdigest()[:DIGEST_LENGTH]


served: set[str] = set()  # project workflows this process compiled or read back


def compiled_document(workflow: str, settings: Settings, library: list[dict]) -> dict:
    """``local_document``: one of the project's workflows from the cache when its sources are unchanged
    (a document kept under its name and digest was one of them), anything else as it says."""
    from workflows.cli.support import local_document

    key = digest(workflow, settings)
    path = kept_path(workflow, key)
    if not library and path.is_file():
        served.add(workflow)
        return with_locations(json.loads(path.read_text()), settings)
    document = local_document(workflow, settings, library)
    if not library and is_pipeline(workflow):
        keep(workflow, key, document)
    return document


def with_locations(document: dict, settings: Settings) -> dict:
    """The kept document with this machine's locations as its parameter defaults, as compiling gives."""
    where = settings.workflow_parameters()
    for parameter in (document.get("spec", {}).get("arguments") or {}).get("parameters") or []:
        if parameter["name"] in where and "value" in parameter:
            parameter["value"] = where[parameter["name"]]
    return document


def kept_path(workflow: str, key: str) -> Path:
    return cache_folder() / f"{workflow}-{key}.json"


def keep(workflow: str, key: str, document: dict) -> None:
    """Write whole or not at all (two runs compiling at once write the same text); drop old ones."""
    path = kept_path(workflow, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps(document))
        partial.replace(path)
        same = sorted(
            path.parent.glob(kept_path(workflow, "?" * DIGEST_LENGTH).name),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for old in same[KEPT_PER_WORKFLOW:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only or full cache folder costs the next run a compile, nothing else


def is_pipeline(workflow: str) -> bool:
    """One of the project's workflows (not a user's file): known without importing Hera when served here."""
    if workflow in served:
        return True
    from workflows.pipelines.compile import pipelines

    found = workflow in pipelines()
    if found:
        served.add(workflow)
    return found
