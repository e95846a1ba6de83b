"""The key of a step run: what its result depends on, each part recorded, hashed together.

The parts: the step's name; its validated parameters (less those its params model declares in
``NOT_IN_CACHE_KEY``: where it writes, not what); the settings it reads; the content of its inputs
(the files of the earlier steps' folders it reads, or the data files for ingest: sha256 locally, ETag
and size on S3, so an object overwritten with the same size still changes the key); its code (its
module and every ``steps`` module it imports, found by walking their imports, hashed from source); the
versions of the libraries those modules import; the image digest on a cluster
(``MLOPS_IMAGE_DIGEST``); and what else a step's result depends on (``extra``).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from steps import storage, storage_files

# Files of a step folder that say how the step ran, not what it made: never an input's content.
NOT_CONTENT = {"usage.json", "cache.json"}
# Import names whose distribution has another name (the rest are looked up by metadata).
DISTRIBUTIONS = {"sklearn": "scikit-learn", "yaml": "PyYAML", "pydantic_settings": "pydantic-settings"}
IMPORT_LINE = re.compile(r"^(import|from)\s+[\w.]+")


def steps_dir() -> Path:
    """Where the ``steps`` package's source is (the code part hashes it)."""
    return Path(__file__).resolve().parent


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def key_of(parts: dict[str, Any]) -> str:
    return digest(parts)


def file_digest(path: str) -> str:
    with open(path, "rb") as handle:  # hashlib reads into one buffer: ~40% faster than read() in chunks
        return hashlib.file_digest(handle, "sha256").hexdigest()


def content_of(uri: str, files: dict[str, tuple[int, str | None]]) -> dict[str, str]:
    """Each file's content fingerprint: its ETag and size on S3, its sha256 locally."""
    return {
        rel: f"{etag}-{size}" if etag is not None else file_digest(storage.join(uri, rel))
        for rel, (size, etag) in sorted(files.items())
    }


def folder_content(uri: str) -> dict[str, str]:
    """The content of an earlier step's folder: every file it wrote but its run records."""
    files = {
        rel: info for rel, info in storage_files.walk(uri).items() if rel.split("/")[-1] not in NOT_CONTENT
    }
    return content_of(uri, files)


def data_content(data_uri: str) -> dict[str, str]:
    """The content of every data file under a data URI (a file, a folder, an S3 prefix)."""
    files = storage.list_files(data_uri)
    if storage.is_s3(data_uri):
        bucket = storage.split_s3(data_uri)[0]
        found = _s3_sizes(data_uri, bucket, files)
        return {uri: f"{etag}-{size}" for uri, (size, etag) in sorted(found.items())}
    return {uri: file_digest(uri) for uri in files}


def _s3_sizes(data_uri: str, bucket: str, files: list[str]) -> dict[str, tuple[int, str]]:
    if len(files) == 1 and storage.resolve(data_uri) == files[0]:
        size, etag = storage_files.stat(files[0]) or (0, "")
        return {files[0]: (size, etag)}
    listed = storage_files.walk(data_uri)
    base = storage.resolve(data_uri).rstrip("/") + "/"
    return {uri: listed[uri[len(base) :]] for uri in files}  # type: ignore[misc]


def module_file(module: str) -> Path | None:
    """The source of a ``steps`` module, or None when the name is not one (a name imported from a package)."""
    path = steps_dir() / (module.removeprefix("steps.").replace(".", "/") + ".py")
    return path if module.startswith("steps.") and path.is_file() else None


@cache
def imports_of(source: bytes) -> tuple[frozenset[str], frozenset[str]]:
    """(``steps`` modules, top-level third-party packages) a module's source imports, anywhere in it."""
    own, libraries = set(), set()
    for node in import_statements(source):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top == "steps":
                if module_file(name):
                    own.add(name)
            elif top not in sys.stdlib_module_names and top != "__future__":
                libraries.add(top)
    return frozenset(own), frozenset(libraries)


def import_statements(source: bytes) -> Iterator[ast.AST]:
    """The import statements of a module, at any depth, each parsed by ``ast``: only the lines that start
    one (and its parenthesised continuation) are parsed, a tenth of the cost of the whole module. A
    docstring line that reads like an import only adds a name: the key is then stricter, never looser."""
    lines = source.decode("utf-8", errors="replace").splitlines()
    number = 0
    while number < len(lines):
        text = lines[number].strip()
        number += 1
        if not IMPORT_LINE.match(text):
            continue
        while (text.count("(") > text.count(")") or text.endswith("\\")) and number < len(lines):
            text, number = text.removesuffix("\\") + " " + lines[number].strip(), number + 1
        try:
            yield from ast.parse(text.split(";")[0]).body
        except SyntaxError:
            continue


def code_parts(module: str) -> tuple[dict[str, str], dict[str, str]]:
    """(sha256 of the source of the step's module and of every ``steps`` module it reaches, versions of
    the libraries they import): a change in a helper three imports away changes the key."""
    seen: dict[str, str] = {}
    libraries: set[str] = set()
    todo = [module, "steps.contract"]
    while todo:
        name = todo.pop()
        path = module_file(name)
        if name in seen or path is None:
            continue
        source = path.read_bytes()
        seen[name] = hashlib.sha256(source).hexdigest()
        own, libs = imports_of(source)
        todo.extend(own)
        libraries |= libs
    return dict(sorted(seen.items())), {lib: library_version(lib) for lib in sorted(libraries)}


def library_version(name: str) -> str:
    try:
        return metadata.version(DISTRIBUTIONS.get(name, name))
    except metadata.PackageNotFoundError:
        found = _distributions().get(name)
        return metadata.version(found[0]) if found else "not installed"


@cache
def _distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()  # slow (~0.3 s): only for a name the table lacks


def params_part(params: Any) -> dict[str, Any]:
    """The validated parameters that change the result: all but the ones the model declares not to."""
    left_out = getattr(type(params), "NOT_IN_CACHE_KEY", frozenset())
    return params.model_dump(mode="json", exclude=set(left_out))


def step_key_parts(
    step: str,
    params: Any,
    settings_read: dict[str, Any],
    inputs: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every part of a step run's key, by name (``key_of`` hashes them)."""
    code, libraries = code_parts(f"steps.{step}")
    return {
        "step": step,
        "params": params_part(params),
        "settings": settings_read,
        "inputs": inputs,
        "code": code,
        "libraries": libraries,
        "python": sys.version.split()[0],
        "image": os.environ.get("MLOPS_IMAGE_DIGEST", ""),
        "extra": extra or {},
    }


def differences(now: dict[str, Any], before: dict[str, Any]) -> list[str]:
    """Which parts of two keys differ, each as ``part: the names inside it that differ``."""
    found = []
    for part in sorted(now.keys() | before.keys()):
        a, b = now.get(part), before.get(part)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            inner = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
            found.append(f"{part}: {', '.join(map(str, inner))}")
        else:
            found.append(f"{part}: {b!r} -> {a!r}")
    return found
