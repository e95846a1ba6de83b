"""Artifacts as Argo passes them, through the artifact repository ``<storage root>/artifacts``.

The repository is a folder beside the runs, or, when the storage root is ``s3://bucket/prefix``, the objects under
``s3://bucket/prefix/artifacts`` (``artifact_repository``, through ``steps.storage``): the default artifact
repository and any ``artifactRepositoryRef`` map onto it. Keys, archives, digests and records are the same in both;
a record's location is then an ``s3://`` URI, and what S3 refuses errs the node in one line.

Resolving (``input_sources``): a template's ``inputs.artifacts`` take the task's or step's ``arguments.artifacts``
of the same name, else their own: ``from`` (``{{tasks.X.outputs.artifacts.Y}}``, ``{{steps.X...}}``,
``{{inputs.artifacts.X}}``, ``{{workflow.outputs.artifacts.G}}``), ``raw.data``, or an ``s3.key`` read from the
repository. One that resolves to nothing is skipped when ``optional`` (executor.go ``LoadArtifacts``: "Skipping
optional input artifact"), else the node errs as the controller does: ``Unable to resolve: {{...}}`` or
``inputs.artifacts.X was not supplied``.

Saving (``save_outputs``, after the container exits 0): each ``outputs.artifacts`` path, read from the attempt's
sandbox, is stored as Argo's wait container stores it (executor.go ``stageArchiveFile``): tar+gzip by default, as
``<workflow>/<node>/<name>.tgz`` (its single top entry the path's base name), or with ``archive.none`` the file
or folder as is, as ``<workflow>/<node>/<base name>``; an ``s3.key`` names the place instead. A missing path is
skipped when ``optional``, else the attempt is an ``Error`` (``saveArtifact``: "<path> no such file or
directory"). Each saved artifact is recorded (run.json) with its location, size and sha256 digest; one with a
``globalName`` becomes ``{{workflow.outputs.artifacts.<globalName>}}``. Loading untars a tarball (detected as
``isTarball`` does) and moves its entry to the input's path; ``mode`` is applied.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steps import storage
from workflows.argo.expressions import ExpressionError
from workflows.local import artifact_repository
from workflows.local.artifact_repository import RepositoryError
from workflows.local.preflight import Unsupported
from workflows.local.substitution import pure_reference, substitute

if TYPE_CHECKING:
    from workflows.local.executor import LocalRun
    from workflows.local.sandbox import Plan

GLOBAL = "workflow.outputs.artifacts."


def repository(run: LocalRun) -> Path | str:
    """The artifact repository beside the runs, under the storage root: a folder, or an s3:// prefix."""
    if storage.is_s3(run.runs_root):
        return artifact_repository.beside(run.runs_root)
    return Path(run.runs_root).parent / "artifacts"


def check(spec: dict[str, Any], only) -> None:
    """The fields of every artifact: a template's inputs and outputs, a task's or step's arguments."""
    if (spec.get("arguments") or {}).get("artifacts"):
        raise Unsupported(
            "spec.arguments.artifacts: the local executor does not support workflow artifact arguments"
        )
    for index, template in enumerate(spec.get("templates") or []):
        path = f"spec.templates[{index}]"
        for side, kind in (("inputs", "input artifact"), ("outputs", "output artifact")):
            for number, art in enumerate((template.get(side) or {}).get("artifacts") or []):
                where = f"{path}.{side}.artifacts[{number}]"
                if "dag" in template or "steps" in template:
                    raise Unsupported(
                        f"{where}: artifacts of a dag or steps template are not implemented locally"
                    )
                fields(art, kind, where, only)
        callers = [
            (f"{path}.dag.tasks[{n}]", t)
            for n, t in enumerate((template.get("dag") or {}).get("tasks") or [])
        ]
        callers += [
            (f"{path}.steps[{g}][{n}]", step) for g, group in enumerate(template.get("steps") or [])
            for n, step in enumerate(group if isinstance(group, list) else [])
        ]  # fmt: skip
        for where, caller in callers:
            for number, art in enumerate((caller.get("arguments") or {}).get("artifacts") or []):
                fields(art, "argument artifact", f"{where}.arguments.artifacts[{number}]", only)


def fields(art: dict[str, Any], kind: str, where: str, only) -> None:
    only(art, kind, where)
    for key in ("archive", "raw", "s3"):
        if isinstance(art.get(key), dict):
            only(art[key], key, f"{where}.{key}")
    if kind != "argument artifact" and not art.get("path"):  # validate.go validateArtifactLocation... path
        raise Unsupported(f"{where}.path: an artifact of a container or script template needs a path")


def keyed(run: LocalRun, key: str) -> Path | str:
    """The repository's file (or s3:// URI) for a key; a key that climbs out of the repository (``../``) is an
    error."""
    root = repository(run)
    if isinstance(root, str):
        return artifact_repository.keyed(root, key)
    location = Path(os.path.normpath(root / key.lstrip("/")))
    if not location.is_relative_to(root):
        raise ExpressionError(f"artifact key {key!r} lies outside the artifact repository")
    return location


def input_sources(run: LocalRun, task: dict, template: dict, scope: dict[str, str]) -> dict[str, str]:
    """Each input artifact's ``inputs.artifacts.X.path`` and its source (``inputs.artifacts.X``: JSON, or ''
    for an absent optional one), for the attempt's scope."""
    given = {a.get("name"): a for a in (task.get("arguments") or {}).get("artifacts") or []}
    values: dict[str, str] = {}
    for declared in (template.get("inputs") or {}).get("artifacts") or []:
        name = declared["name"]
        argument = {**declared, **given.get(name, {})}
        source = resolve(run, argument, scope)
        if source is None and not declared.get("optional"):
            reference = argument.get("from") or argument.get("fromExpression")
            if reference:
                raise ExpressionError(f"Unable to resolve: {reference}")
            raise ExpressionError(f"inputs.artifacts.{name} was not supplied")
        values[f"inputs.artifacts.{name}"] = json.dumps(source) if source else ""
        if declared.get("path"):
            values[f"inputs.artifacts.{name}.path"] = str(declared["path"])
    return values


def resolve(run: LocalRun, argument: dict, scope: dict[str, str]) -> dict | None:
    """Where an artifact argument's data comes from: a saved artifact's record, raw data, or a repository key."""
    if "raw" in argument:
        return {"raw": str(substitute(str((argument["raw"] or {}).get("data", "")), scope))}
    reference = argument.get("from")
    if reference:
        name = pure_reference(str(reference))
        found = scope.get(name) if name else None
        return json.loads(found) if found else None
    key = (argument.get("s3") or {}).get("key")
    if key:
        location = keyed(run, str(substitute(str(key), scope)))
        try:  # an unreachable bucket errs the node, as an unresolvable reference does
            found = artifact_repository.exists(location) if isinstance(location, str) else location.exists()
        except RepositoryError as exc:
            raise ExpressionError(str(exc)) from None
        return {"location": str(location), "key": key} if found else None
    return None


def stage_inputs(template: dict, scope: dict[str, str], plan: Plan) -> None:
    """Put each input artifact at its path in the attempt's sandbox (before the process starts)."""
    for declared in (template.get("inputs") or {}).get("artifacts") or []:
        text = scope.get(f"inputs.artifacts.{declared['name']}")
        if not text or not declared.get("path"):
            continue  # an absent optional one: nothing at its path (executor.go LoadArtifacts)
        source, target = json.loads(text), plan.host_path(str(declared["path"]))
        target.parent.mkdir(parents=True, exist_ok=True)
        if "raw" in source:
            target.write_text(source["raw"])
        elif storage.is_s3(source["location"]):  # fetched beside the target, then loaded as a local one
            with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
                fetched = artifact_repository.download(source["location"], Path(scratch))
                load(fetched, target, source.get("archive"))
        else:
            load(Path(source["location"]), target, source.get("archive"))
        if declared.get("mode") is not None:
            mode = int(declared["mode"])
            for path in [target, *(target.rglob("*") if target.is_dir() else [])]:
                path.chmod(mode)


def load(location: Path, target: Path, archive: str | None = None) -> None:
    """A stored artifact at ``target``: a tarball's single entry moved there, else a copy of the file or folder
    (a key's data is a tarball when it reads as one, as executor.go ``isTarball`` decides)."""
    tarball = archive == "tgz" or (archive is None and location.is_file() and tarfile.is_tarfile(location))
    if tarball:
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch, tarfile.open(location) as archive:
            archive.extractall(scratch, filter="data")
            entries = os.listdir(scratch)
            if len(entries) == 1:  # untar: the archive's one top entry becomes the path
                shutil.move(os.path.join(scratch, entries[0]), target)
            else:
                shutil.copytree(scratch, target, dirs_exist_ok=True)
    elif location.is_dir():
        shutil.copytree(location, target, dirs_exist_ok=True)
    else:
        shutil.copyfile(location, target)


def save_outputs(run: LocalRun, node_name: str, template: dict, scope: dict[str, str], plan: Plan | None):
    """Store the template's output artifacts: (their records by name, the error that makes the attempt an Error)."""
    saved: dict[str, dict[str, Any]] = {}
    for declared in (template.get("outputs") or {}).get("artifacts") or []:
        name, path = declared["name"], str(declared.get("path", ""))
        source = plan.host_path(path) if plan is not None else Path(path)
        if not source.exists():
            if declared.get("optional"):
                continue  # saveArtifact: "Ignoring optional artifact which does not exist in path"
            return saved, f"failed to save outputs: {path} no such file or directory"
        archived = "none" not in (declared.get("archive") or {})
        default = f"{run.record.name}/{node_name}/" + (f"{name}.tgz" if archived else os.path.basename(path))
        try:  # an s3 key names the place (its tags substituted), else Argo's default key
            key = str(substitute(str((declared.get("s3") or {}).get("key") or default), scope)).lstrip("/")
            location = keyed(run, key)
        except ExpressionError as exc:
            return saved, str(exc)
        try:
            size, digest = (put if isinstance(location, str) else keep)(source, location, archived)
        except RepositoryError as exc:
            return saved, f"failed to save outputs: {exc}"
        saved[name] = {"name": name, "path": path, "location": str(location), "key": key,
                       "archive": "tgz" if archived else "none", "size": size, "digest": digest}  # fmt: skip
        if declared.get("globalName"):
            run.record.artifacts[declared["globalName"]] = saved[name]
            run.scope[GLOBAL + declared["globalName"]] = json.dumps(saved[name])
    return saved, None


def keep(source: Path, location: Path, archived: bool) -> tuple[int, str]:
    """Store in the local folder, whole or absent (a ``.partial`` renamed); its size and digest."""
    location.parent.mkdir(parents=True, exist_ok=True)
    partial = location.with_name(location.name + ".partial")
    if archived:
        partial.write_bytes(tar_gz(source))
    elif source.is_dir():
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(source, partial)
    else:
        shutil.copyfile(source, partial)
    if location.is_dir():
        shutil.rmtree(location)
    partial.replace(location)  # whole or absent
    return measure(location)


def put(source: Path, location: str, archived: bool) -> tuple[int, str]:
    """Store at an s3:// URI; its size and digest, as ``measure`` gives them for the same data in a folder."""
    data = tar_gz(source) if archived else None
    artifact_repository.upload(location, source if data is None else data)
    return (len(data), "sha256:" + hashlib.sha256(data).hexdigest()) if data is not None else measure(source)


def tar_gz(source: Path) -> bytes:
    """The file or folder as Argo's TarGzToWriter archives it: one top entry, the path's base name."""

    def plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(source, arcname=source.name, filter=plain)
    return buffer.getvalue()


def measure(location: Path) -> tuple[int, str]:
    """Bytes stored and a sha256 digest: of the file, or of a folder's sorted (relative path, file digest) lines."""
    if location.is_file():
        return location.stat().st_size, "sha256:" + hashlib.sha256(location.read_bytes()).hexdigest()
    lines, size = [], 0
    for path in sorted(p for p in location.rglob("*") if p.is_file()):
        size += path.stat().st_size
        lines.append(f"{path.relative_to(location)}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n")
    return size, "sha256:" + hashlib.sha256("".join(lines).encode()).hexdigest()


def scope_of(prefix: str, artifacts: dict[str, dict[str, Any]], scope: dict[str, str]) -> None:
    """A node's saved artifacts as ``<prefix>.outputs.artifacts.<name>`` (what ``from`` reads)."""
    for name, record in artifacts.items():
        scope[f"{prefix}.outputs.artifacts.{name}"] = json.dumps(record)
