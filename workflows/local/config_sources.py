"""ConfigMaps and Secrets in a local run: one file per key under the folder the setting MLOPS_LOCAL_CONFIG_DIR names.

A pod reads a ConfigMap or Secret from the API server; here ``$MLOPS_LOCAL_CONFIG_DIR/<object name>/<key>`` holds
each key's value as a pod sees it: a Secret's decoded (not base64), byte for byte (a trailing newline is part of the
value). A ConfigMap and a Secret of the same name share the folder: locally they are one set of files. Read by an
``env`` variable's ``valueFrom`` (``configMapKeyRef``, ``secretKeyRef``: the file's content is its value) and by a
``configMap`` or ``secret`` volume (``fill``: every key's file, or only the ``items`` at their ``path``, with
``mode``/``defaultMode``, 0644 by default, in a folder per attempt that the sandbox mounts read-only, as kubelet
does). With ``optional: true`` an absent object or key leaves the variable unset and the file unwritten (an absent
object an empty volume), as in Kubernetes. A non-optional one missing leaves a pod waiting in ContainerCreating
(CreateContainerConfigError for env); here it is refused by name before anything starts (``check_env``,
``check_volume_files``), or, when its names hold ``{{...}}`` known only at the attempt, its node ends in Error with
the same line.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from steps.errors import BadInput

SETTING = "MLOPS_LOCAL_CONFIG_DIR"
KEY_REFS = {"configMapKeyRef": "ConfigMap", "secretKeyRef": "Secret"}  # env valueFrom sources implemented
VOLUMES = {
    "configMap": ("ConfigMap", "name"),
    "secret": ("Secret", "secretName"),
}  # kind, the field naming it
DEFAULT_MODE = 0o644  # ConfigMapVolumeSource and SecretVolumeSource defaultMode
NAME = re.compile(r"^[-._a-zA-Z0-9]+$")  # a key (validation.IsConfigMapKey); object names are narrower still
SET_IT = f"set {SETTING} to a folder holding <name>/<key> files"


class SourceError(BadInput):
    """A ConfigMap or Secret a task reads is not in the local config folder, or cannot be read from it."""


def valid(where: str, what: str, text: str) -> str:
    """The name or key, which must name one file of a folder (no '/', not '.' or '..')."""
    if not NAME.match(text) or text in (".", ".."):
        raise SourceError(f"{where}: {what} {text!r} is not valid: use letters, digits, '-', '_' and '.'")
    return text


def config_dir(where: str, kind: str, name: str, optional: bool) -> Path | None:
    """The folder of objects, or None when it is not set and the reference is optional (nothing exists)."""
    folder = os.environ.get(SETTING, "")  # the executor's environment, as envFrom reads it
    if not folder:
        if optional:
            return None
        raise SourceError(f"{where}: {kind} '{name}' is read from a local folder: {SET_IT}")
    if not Path(folder).is_dir():
        raise SourceError(f"{where}: {SETTING}={folder} is not a folder: {SET_IT}")
    return Path(folder)


def key_file(where: str, kind: str, name: str, key: str, optional: bool) -> Path | None:
    """The file holding one key's value, or None when it is absent and optional."""
    root = config_dir(where, kind, valid(f"{where}.name", "name", name), optional)
    if root is None:
        return None
    path = root / name / valid(f"{where}.key", "key", key)
    if path.is_file():
        return path
    if optional:
        return None
    raise SourceError(f"{where}: {kind} '{name}' has no key '{key}': expected the file {path}")


def object_folder(where: str, kind: str, name: str, optional: bool) -> Path | None:
    """The folder of one object's keys, or None when it is absent and optional."""
    root = config_dir(where, kind, valid(f"{where}.name", "name", name), optional)
    if root is None or (root / name).is_dir():
        return None if root is None else root / name
    if optional:
        return None
    raise SourceError(
        f"{where}: {kind} '{name}' not found: expected the folder {root / name} with a file per key"
    )


def key_ref(source: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The one key reference of an env valueFrom: (its field, the reference)."""
    field = next(field for field in KEY_REFS if field in source)
    return field, source[field] or {}


def ref_file(source: dict[str, Any], where: str) -> Path | None:
    """The file of an env ``valueFrom``'s key, or None when it is absent and optional."""
    field, ref = key_ref(source)
    name, key = str(ref.get("name") or ""), str(ref.get("key") or "")
    return key_file(f"{where}.{field}", KEY_REFS[field], name, key, bool(ref.get("optional")))


def env_value(source: dict[str, Any], where: str) -> str | None:
    """An env variable's value from its ``valueFrom`` (substituted): the key's file, or None (not set)."""
    path = ref_file(source, where)
    if path is None:
        return None
    value = path.read_bytes().decode("utf-8", "surrogateescape")  # any bytes, as Kubernetes keeps them
    if "\0" in value:
        raise SourceError(
            f"{where}.{key_ref(source)[0]}: the file {path} holds a NUL byte, which an environment variable cannot"
        )
    return value


def check_env(spec: dict[str, Any], only) -> None:
    """Preflight: each env ``valueFrom`` is one ConfigMap or Secret key (fieldRef, resourceFieldRef refused by
    name), and, when its names hold no ``{{...}}``, its file is there (or it is optional)."""
    variables = [
        (f"spec.templates[{index}].{kind}.env[{number}].valueFrom", variable)
        for index, template in enumerate(spec.get("templates") or [])
        for kind in ("container", "script")
        for number, variable in enumerate((template.get(kind) or {}).get("env") or [])
        if "valueFrom" in variable
    ]
    for where, variable in variables:
        source = variable["valueFrom"] or {}
        only(source, "env valueFrom", where)
        if len(source) != 1:  # validation.go validateEnvVarValueFrom
            raise BadInput(f"{where}: give exactly one of configMapKeyRef, secretKeyRef")
        if str(variable.get("value") or ""):
            raise BadInput(f"{where}: may not be specified when `value` is not empty: give one of them")
        field, ref = key_ref(source)
        only(ref, field, f"{where}.{field}")
        if not any("{{" in str(ref.get(k) or "") for k in ("name", "key")):  # else known at the attempt
            ref_file(source, where)


def source_of(volume: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """A configMap or secret volume's field and source, or None for another volume."""
    field = next((field for field in VOLUMES if field in volume), None)
    return None if field is None else (field, volume[field] or {})


def check_volume(volume: dict[str, Any], where: str, only) -> None:
    """Preflight: the fields of a configMap or secret volume source and of its items; each item's path relative."""
    found = source_of(volume)
    if found is None:
        return
    field, source = found
    only(source, f"{field} volume", f"{where}.{field}")
    for number, item in enumerate(source.get("items") or []):
        only(item, "volume item", f"{where}.{field}.items[{number}]")
        if "{{" not in str(item.get("path") or ""):
            item_path(item, f"{where}.{field}.items[{number}]")


def item_path(item: dict[str, Any], where: str) -> str:
    """An item's path, relative and without '..' (validation.go validateKeyToPath)."""
    path = str(item.get("path") or "")
    if not path or path.startswith("/") or ".." in path.split("/"):
        raise SourceError(f"{where}.path: {path!r} must be a relative path without '..'")
    return path


def check_volume_files(volume: dict[str, Any], where: str) -> None:
    """Preflight of a mounted configMap or secret volume: when its names hold no ``{{...}}``, its files are there."""
    field, source = source_of(volume)
    names = [source.get(VOLUMES[field][1]), *(item.get("key") for item in source.get("items") or [])]
    if not any("{{" in str(name or "") for name in names):
        wanted(volume, f"{where}.{field}")


def wanted(volume: dict[str, Any], where: str) -> list[tuple[Path, str, int]]:
    """The files a configMap or secret volume holds: (the key's file, its path in the volume, its mode)."""
    field, source = source_of(volume)
    kind, name_field = VOLUMES[field]
    name, optional = str(source.get(name_field) or ""), bool(source.get("optional"))
    folder = object_folder(where, kind, name, optional)
    if folder is None:  # absent and optional: an empty volume
        return []
    default = int(source.get("defaultMode", DEFAULT_MODE))
    if not source.get("items"):
        return [(path, path.name, default) for path in sorted(folder.iterdir()) if path.is_file()]
    files = []
    for number, item in enumerate(source["items"]):
        at = f"{where}.items[{number}]"
        path = key_file(at, kind, name, str(item.get("key") or ""), optional)
        if path is not None:  # an optional object's missing key is left out (kubelet's configmap volume)
            files.append((path, item_path(item, at), int(item.get("mode", default))))
    return files


def fill(volume: dict[str, Any], folder: Path, where: str) -> None:
    """Write a configMap or secret volume's files into ``folder``, once per attempt (a pod's volume)."""
    if folder.exists():
        return
    files = wanted(volume, f"{where}.{source_of(volume)[0]}")
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for source, path, mode in files:
        target = partial / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        target.chmod(mode)
    partial.replace(folder)  # whole or absent
