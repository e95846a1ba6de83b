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
import time
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from steps import storage, storage_files

# A folder's file digests by file identity, so each file of a run is hashed once, not by every lookup.
DIGEST_MEMO = ".digests.json"
# File times tick in jiffies (up to 10 ms): a file changed this recently could change again unseen.
RACY_NS = 50_000_000
# Files of a step folder that say how the step ran, not what it made: never an input's content.
NOT_CONTENT = {"usage.json", "cache.json", DIGEST_MEMO}
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


def identity(path: str) -> list[int]:
    """What changes whenever a file's content may have: every local write renames a new inode in, and
    a rewrite in place still moves ctime, which no one can set back from user space."""
    info = os.stat(path)
    return [info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def _read_memo(folder: str) -> dict[str, Any]:
    try:
        memo = json.loads(Path(folder, DIGEST_MEMO).read_text())
    except (OSError, ValueError):
        return {}
    return memo if isinstance(memo, dict) else {}


def _write_memo(folder: str, memo: dict[str, Any]) -> None:
    path = Path(folder, DIGEST_MEMO)
    tmp = path.with_name(f"{DIGEST_MEMO}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(memo))
        os.replace(tmp, path)  # whole or absent: two writers each leave a memo that is right
    except OSError:
        tmp.unlink(missing_ok=True)  # a folder we may not write: the digests are only recomputed


def local_digests(folder: str, rels: Iterable[str]) -> dict[str, str]:
    """sha256 of each file under a local folder, from the folder's memo where the file is unchanged."""
    memo, found, fresh = _read_memo(folder), {}, {}
    for rel in sorted(rels):
        path = os.path.join(folder, rel)
        known, before = memo.get(rel), identity(path)
        if isinstance(known, list) and len(known) == 2 and known[0] == before:
            found[rel] = known[1]
            continue
        found[rel] = file_digest(path)
        # not remembered when replaced while hashed, or changed too recently to tell a next change apart
        if identity(path) == before and time.time_ns() - before[3] > RACY_NS:
            fresh[rel] = [before, found[rel]]
    if fresh:
        _write_memo(folder, memo | fresh)
    return found


def remember_digests(folder: str, digests: dict[str, str]) -> None:
    """Record digests known from elsewhere (a cache entry) for files the cache just linked into a local
    folder: no one else has written them, so they need no wait for the file time's tick."""
    memo = {rel: [identity(os.path.join(folder, rel)), digest] for rel, digest in digests.items()}
    _write_memo(folder, _read_memo(folder) | memo)


def content_of(uri: str, files: dict[str, tuple[int, str | None]]) -> dict[str, str]:
    """Each file's content fingerprint: its ETag and size on S3, its sha256 locally."""
    local = local_digests(uri, [rel for rel, (_, etag) in files.items() if etag is None])
    return {
        rel: f"{etag}-{size}" if etag is not None else local[rel]
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
