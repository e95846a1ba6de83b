"""The artifact repository when the storage root is ``s3://bucket/prefix``: ``s3://bucket/prefix/artifacts``.

Objects are read, written and listed through ``steps.storage`` (its one client, ``AWS_ENDPOINT_URL`` and the
``AWS_*`` credentials), as Argo's S3 driver lays them out: a file or a tarball is one object at its key, a folder
stored as is (``archive: none``) an object per file under ``<key>/``. A key names the same place as in the local
folder (``workflows.local.artifacts``); whatever S3 answers (unreachable, denied, no such bucket or object) is a
``RepositoryError``, one line naming the URI.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from steps import storage
from steps.errors import StepError
from workflows.argo.expressions import ExpressionError


class RepositoryError(OSError):
    """The repository could not be read or written: one line naming the URI and why."""


def beside(runs_root: str) -> str:
    """The repository beside the runs, under the storage root: ``s3://b/p/runs`` -> ``s3://b/p/artifacts``."""
    return runs_root.rstrip("/").rsplit("/", 1)[0] + "/artifacts"


def keyed(root: str, key: str) -> str:
    """The URI of a key; a key that climbs out of the repository (``../``) is an error, as locally."""
    normal = posixpath.normpath(key.lstrip("/"))
    if normal == ".." or normal.startswith("../"):
        raise ExpressionError(f"artifact key {key!r} lies outside the artifact repository")
    return root if normal == "." else f"{root}/{normal}"


def exists(uri: str) -> bool:
    """An object at the URI, or objects under it (a folder)."""
    try:
        return storage.exists(uri) or bool(storage.list_objects(uri))
    except StepError as exc:
        raise RepositoryError(str(exc)) from None


def upload(uri: str, source: bytes | Path) -> None:
    """Bytes or a file as one object at the URI; a folder as an object per file under ``<uri>/``."""
    try:
        if isinstance(source, bytes) or source.is_file():
            storage.write_bytes(uri, source if isinstance(source, bytes) else source.read_bytes())
            return
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            storage.write_bytes(f"{uri}/{path.relative_to(source).as_posix()}", path.read_bytes())
    except StepError as exc:
        raise RepositoryError(str(exc)) from None


def download(uri: str, into: Path) -> Path:
    """The object at the URI (a file), else the objects under it (a folder), as ``into/<base name>``."""
    target = into / (posixpath.basename(storage.split_s3(uri)[1]) or "artifact")
    try:
        if storage.exists(uri):
            target.write_bytes(storage.read_bytes(uri))
            return target
        found = storage.list_objects(uri)
        if not found:
            raise RepositoryError(f"{uri}: no such object")
        for each in found:  # executor.go loads a key with objects under it as a folder
            if each.endswith("/"):
                continue  # a folder marker, no file
            relative = posixpath.normpath(each[len(uri.rstrip("/")) + 1 :])
            if relative == ".." or relative.startswith("../"):
                raise RepositoryError(f"{each}: an object key that climbs out of {uri}")
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(storage.read_bytes(each))
    except StepError as exc:
        raise RepositoryError(str(exc)) from None
    return target
