"""What a template asks the cluster for: its container's requests and the node it is placed on, as numbers.

Kubernetes quantities (``500m``, ``2``, ``8Gi``, ``1e3``) are read as the API server reads them; a
request that is not set falls back to its limit, as Kubernetes defaults it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from steps.errors import BadInput

GPU = "nvidia.com/gpu"
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_FACTOR = {
    None: 1.0, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}  # fmt: skip


def quantity(value: Any, field: str) -> float:
    """A Kubernetes quantity as a plain number (``500m`` -> 0.5, ``1Gi`` -> 1073741824)."""
    found = _QUANTITY.match(str(value).strip())
    if not found:
        raise BadInput(f"{field}: {value!r} is not a Kubernetes quantity (e.g. 500m, 2, 8Gi)")
    return float(found.group(1)) * _FACTOR[found.group(2)]


@dataclass(frozen=True)
class Requests:
    """What one container holds while it runs: CPU cores, memory in GiB, GPUs."""

    cpu: float = 0.0
    memory_gib: float = 0.0
    gpus: float = 0.0


def template_requests(template: dict[str, Any]) -> Requests:
    """The requests a container or script template declares (each unset request falls back to its limit)."""
    body = template.get("container") or template.get("script") or {}
    resources = body.get("resources") or {}
    declared = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    where = f"template {template.get('name', '?')}: resources"
    return Requests(
        cpu=quantity(declared["cpu"], f"{where}.cpu") if "cpu" in declared else 0.0,
        memory_gib=quantity(declared["memory"], f"{where}.memory") / 2**30 if "memory" in declared else 0.0,
        gpus=quantity(declared[GPU], f"{where}.{GPU}") if GPU in declared else 0.0,
    )


def node_selector(template: dict[str, Any], pod_spec_patch: str | None = None) -> dict[str, str]:
    """The node labels an attempt's pod asks for: the template's ``nodeSelector``, overlaid by the
    attempt's ``podSpecPatch`` (as the controller merges it into the pod spec)."""
    selector = {str(k): str(v) for k, v in (template.get("nodeSelector") or {}).items()}
    if pod_spec_patch:
        try:
            patch = json.loads(pod_spec_patch)
        except ValueError:
            import yaml  # Argo accepts a patch written as YAML too

            patch = yaml.safe_load(pod_spec_patch)
        selector |= {str(k): str(v) for k, v in ((patch or {}).get("nodeSelector") or {}).items()}
    return selector
