"""Volumes in a local run: each volume a folder, as a pod would see it.

An ``emptyDir`` (the template's ``volumes``, or the workflow's) lives as long as its pod: one folder per attempt.
A ``configMap`` or ``secret`` volume is per pod too: its folder is filled from the local config folder
(workflows.local.config_sources) when the attempt's sandbox is planned, and mounted read-only, as kubelet does.
A ``volumeClaimTemplates`` claim and a workflow ``persistentVolumeClaim`` volume are one folder per workflow run,
``<run>/volumes/<name>``, shared by its tasks as the claim Argo creates for the workflow is. ``subPath`` is a folder
inside the volume (or a key's file in a configMap or secret volume). Other volume sources are refused by name
(``check``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workflows.local import config_sources
from workflows.local.preflight import Unsupported
from workflows.local.sandbox import SCRATCH
from workflows.local.substitution import substitute

PER_POD = ("emptyDir", *config_sources.VOLUMES)
PER_WORKFLOW = ("persistentVolumeClaim",)


def declared(spec: dict[str, Any], template: dict[str, Any]) -> dict[str, str]:
    """Each volume name the template can mount, and its kind: 'pod' (emptyDir, configMap, secret) or 'workflow'
    (a claim)."""
    kinds = {
        claim.get("metadata", {}).get("name"): "workflow" for claim in spec.get("volumeClaimTemplates") or []
    }
    for volume in [*(spec.get("volumes") or []), *(template.get("volumes") or [])]:
        kinds[volume.get("name")] = "pod" if any(k in volume for k in PER_POD) else "workflow"
    return kinds


def volume_named(
    spec: dict[str, Any], template: dict[str, Any], name: Any
) -> tuple[str, dict[str, Any]] | None:
    """The volume a template's mount names (the template's own before the workflow's), and where it is declared."""
    names = [t.get("name") for t in spec.get("templates") or []]
    own = (
        f"spec.templates[{names.index(template.get('name'))}]"
        if template.get("name") in names
        else "template"
    )
    for where, holder in ((own, template), ("spec", spec)):
        for number, volume in enumerate(holder.get("volumes") or []):
            if volume.get("name") == name:
                return f"{where}.volumes[{number}]", volume
    return None


def check(spec: dict[str, Any], only) -> None:
    """Each volume an emptyDir, a claim, a configMap or a secret (others refused by name), each mount naming a
    declared volume; a mounted configMap's or secret's files are there (config_sources)."""
    holders = [("spec", spec)] + [
        (f"spec.templates[{i}]", t) for i, t in enumerate(spec.get("templates") or [])
    ]
    for where, holder in holders:
        for number, volume in enumerate(holder.get("volumes") or []):
            only(volume, "volume", f"{where}.volumes[{number}]")
            config_sources.check_volume(volume, f"{where}.volumes[{number}]", only)
    for index, template in enumerate(spec.get("templates") or []):
        kinds = declared(spec, template)
        kind = "container" if "container" in template else "script"
        for number, mount in enumerate((template.get(kind) or {}).get("volumeMounts") or []):
            where = f"spec.templates[{index}].{kind}.volumeMounts[{number}]"
            only(mount, "volumeMount", where)
            if mount.get("name") not in kinds:  # validate.go: a mount names a volume of the pod
                raise Unsupported(f"{where}.name: volume '{mount.get('name')}' not found")
            found = volume_named(spec, template, mount.get("name"))
            if found and config_sources.source_of(found[1]):
                if str(mount.get("mountPath")) in SCRATCH:  # such a mount is no reason for a sandbox
                    raise Unsupported(
                        f"{where}.mountPath: a configMap or secret volume at {mount.get('mountPath')} is not "
                        "implemented by the local executor: mount it elsewhere"
                    )
                declared_at, volume = found
                config_sources.check_volume_files(volume, declared_at)


def read_only(spec: dict, template: dict, mount: dict[str, Any]) -> bool:
    """Whether the mount is read-only: asked for, or a configMap or secret volume (always, in Kubernetes)."""
    found = volume_named(spec, template, mount.get("name"))
    return bool(mount.get("readOnly")) or bool(found and config_sources.source_of(found[1]))


def host_folder(
    run_dir: Path,
    attempt_folder: Path,
    spec: dict,
    template: dict,
    mount: dict[str, Any],
    scope: dict | None = None,
) -> Path:
    """Where a volume mount's files lie on this machine (a configMap's or secret's written there first)."""
    name = str(mount["name"])
    base = attempt_folder / "volumes" if declared(spec, template).get(name) == "pod" else run_dir / "volumes"
    found = volume_named(spec, template, name)
    if found and config_sources.source_of(found[1]):  # its names substituted as the pod's are
        config_sources.fill(substitute(found[1], scope or {}), base / name, found[0])
    return base / name / str(mount.get("subPath") or "").lstrip("/")
