"""Volumes in a local run: each volume a folder, as a pod would see it.

An ``emptyDir`` (the template's ``volumes``, or the workflow's) lives as long as its pod: one folder per attempt.
A ``volumeClaimTemplates`` claim and a workflow ``persistentVolumeClaim`` volume are one folder per workflow run,
``<run>/volumes/<name>``, shared by its tasks as the claim Argo creates for the workflow is. ``subPath`` is a folder
inside the volume. ConfigMap, Secret and other volume sources are refused by name (``check``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workflows.local.preflight import Unsupported

PER_POD = ("emptyDir",)
PER_WORKFLOW = ("persistentVolumeClaim",)


def declared(spec: dict[str, Any], template: dict[str, Any]) -> dict[str, str]:
    """Each volume name the template can mount, and its kind: 'pod' (emptyDir) or 'workflow' (a claim)."""
    kinds = {
        claim.get("metadata", {}).get("name"): "workflow" for claim in spec.get("volumeClaimTemplates") or []
    }
    for volume in [*(spec.get("volumes") or []), *(template.get("volumes") or [])]:
        kinds[volume.get("name")] = "pod" if any(k in volume for k in PER_POD) else "workflow"
    return kinds


def check(spec: dict[str, Any], only) -> None:
    """Each volume an emptyDir or a claim (others refused by name), each mount naming a declared volume."""
    holders = [("spec", spec)] + [
        (f"spec.templates[{i}]", t) for i, t in enumerate(spec.get("templates") or [])
    ]
    for where, holder in holders:
        for number, volume in enumerate(holder.get("volumes") or []):
            only(volume, "volume", f"{where}.volumes[{number}]")
    for index, template in enumerate(spec.get("templates") or []):
        kinds = declared(spec, template)
        kind = "container" if "container" in template else "script"
        for number, mount in enumerate((template.get(kind) or {}).get("volumeMounts") or []):
            where = f"spec.templates[{index}].{kind}.volumeMounts[{number}]"
            only(mount, "volumeMount", where)
            if mount.get("name") not in kinds:  # validate.go: a mount names a volume of the pod
                raise Unsupported(f"{where}.name: volume '{mount.get('name')}' not found")


def host_folder(
    run_dir: Path, attempt_folder: Path, spec: dict, template: dict, mount: dict[str, Any]
) -> Path:
    """Where a volume mount's files lie on this machine."""
    name = str(mount["name"])
    base = attempt_folder / "volumes" if declared(spec, template).get(name) == "pod" else run_dir / "volumes"
    return base / name / str(mount.get("subPath") or "").lstrip("/")
