"""The project's workflows as a local run executes them, compiled once per version of their sources.

Compiling with Hera (its import and the project's templates) takes a second or two of every
``mlops run``; its result depends only on the settings and the code. The compiled, linted document
is kept under the storage root, named by a digest of the workflow's name, the settings, Hera's
version and every source file under steps/ and workflows/; any change to one of them compiles again.
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


def source_files() -> list[Path]:
    found = []
    for name in SOURCES:
        path = ROOT / name
        found += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return found


def digest(workflow: str, settings: Settings) -> str:
    from importlib.metadata import version

    key = hashlib.sha256()
    for part in (workflow, settings.model_dump_json(), version("hera"), sys.version):
        key.update(part.encode() + b"\0")
    for path in source_files():
        key.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return key.hexdigest()[:20]


served: set[str] = set()  # project workflows this process compiled or read back


def compiled_document(workflow: str, settings: Settings, library: list[dict]) -> dict:
    """``local_document``: one of the project's workflows from the cache when its sources are unchanged
    (a document kept under its name and digest was one of them), anything else as it says."""
    from workflows.cli.support import local_document

    path = Path(settings.storage_root) / "compiled" / f"{workflow}-{digest(workflow, settings)}.json"
    if not library and path.is_file():
        served.add(workflow)
        return json.loads(path.read_text())
    document = local_document(workflow, settings, library)
    if not library and is_pipeline(workflow):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps(document))
        partial.replace(path)  # whole or absent: two runs compiling at once write the same text
    return document


def is_pipeline(workflow: str) -> bool:
    """One of the project's workflows (not a user's file): known without importing Hera when served here."""
    if workflow in served:
        return True
    from workflows.pipelines.compile import pipelines

    found = workflow in pipelines()
    if found:
        served.add(workflow)
    return found
