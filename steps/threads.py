"""How many threads a step's numeric libraries use, and how their idle threads wait.

PyTorch (with MKL and oneDNN) computes on a GNU OpenMP pool of one thread per CPU, and at every
barrier OpenMP's threads spin before they sleep. When a core is shared (anything else running, a
pod whose CPU quota is below its node's cores), the spinning thread holds the CPU that the thread
it waits for needs, and every one of the thousands of parallel regions of an epoch waits for a
scheduler slice: training fell from ~500k to ~30k samples/s beside one busy process. So:

- the thread count comes from what this process may really use: its CPU affinity and the cgroup's
  CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``), rounded up; ``MLOPS_TRAIN_THREADS`` overrides;
- OpenMP's threads wait passively (``OMP_WAIT_POLICY=PASSIVE``) unless the environment already says
  how they wait. OpenMP reads this once, when its library loads: ``prepare_environment`` runs
  before torch or scikit-learn is imported (first thing in the warm starter; in a plain step
  process, ``apply_thread_policy`` runs before the step imports torch).

A forked process inherits its parent's OpenMP state, and GNU OpenMP has no fork handler: a child of
a parent that has run a parallel region hangs in its own first one. The warm starter only imports,
never computes, and each step sets its own thread count here.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

OVERRIDE = "MLOPS_TRAIN_THREADS"
WAIT_POLICY = "OMP_WAIT_POLICY"
PASSIVE = "PASSIVE"
# Variables that already say how OpenMP threads wait: a user's choice is left alone.
WAIT_VARIABLES = (WAIT_POLICY, "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


@dataclass(frozen=True)
class ThreadChoice:
    """The thread count a step runs with, and why."""

    threads: int
    source: str  # MLOPS_TRAIN_THREADS | cgroup quota | affinity
    affinity_cpus: int
    cgroup_quota_cpus: float | None
    wait_policy: str


class _State:
    loaded_wait_policy: str | None = None  # what prepare_environment left for OpenMP to read
    applied: ThreadChoice | None = None


def affinity_cpus() -> int:
    """The CPUs this process may run on (its affinity mask; all CPUs where there is none)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS has no sched_getaffinity
        return os.cpu_count() or 1


def _own_cgroups(proc_cgroup: Path) -> list[tuple[str, str]]:
    """(controllers, path) of each line of /proc/self/cgroup: ``("", "/x")`` for cgroup v2."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            found.append((parts[1], parts[2]))
    return found


def _from_leaf_up(mount: Path, path: str) -> list[Path]:
    """The folders of a cgroup and its ancestors below the mount, deepest first. Inside a container
    the process's path may not exist under the mount (another namespace): the mount is its cgroup."""
    folders = []
    relative = Path(path.strip("/")) if path.strip("/") else None
    while relative is not None and str(relative) != ".":
        if (mount / relative).is_dir():
            folders.append(mount / relative)
        relative = relative.parent if str(relative.parent) != "." else None
    folders.append(mount)
    return folders


def _v2_quota(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max" or float(period) <= 0:
        return None
    return float(quota) / float(period)


def _v1_quota(folder: Path) -> float | None:
    try:
        quota = float((folder / "cpu.cfs_quota_us").read_text())
        period = float((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def cgroup_cpu_quota(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """The CPUs this process's cgroup may use per period (the lowest quota on its way to the root),
    or None when no quota is set. cgroup v2 (``cpu.max``) first, then v1 (``cpu.cfs_quota_us``)."""
    quotas: list[float] = []
    for controllers, path in _own_cgroups(proc_cgroup):
        if controllers == "":
            candidates = [(root, _v2_quota)]
        elif "cpu" in controllers.split(","):
            candidates = [(root / name, _v1_quota) for name in (controllers, "cpu", "cpu,cpuacct")]
        else:
            continue
        for mount, read in candidates:
            if mount.is_dir():
                quotas += [q for q in map(read, _from_leaf_up(mount, path)) if q is not None]
                break
    return min(quotas) if quotas else None


def choose_threads(
    override: int | None = None,
    *,
    cpus: int | None = None,
    quota: float | None = None,
    root: Path = CGROUP_ROOT,
    proc_cgroup: Path = PROC_CGROUP,
) -> ThreadChoice:
    """The thread count for this process: the override when given, else its CPUs (affinity),
    lowered to the cgroup's CPU quota rounded up. ``cpus`` and ``quota`` default to what the
    process and its cgroup say."""
    cpus = affinity_cpus() if cpus is None else cpus
    quota = cgroup_cpu_quota(root, proc_cgroup) if quota is None else quota
    policy = current_wait_policy()
    if override is not None:
        return ThreadChoice(override, OVERRIDE, cpus, quota, policy)
    if quota is not None and math.ceil(quota) < cpus:
        return ThreadChoice(max(1, math.ceil(quota)), "cgroup quota", cpus, quota, policy)
    return ThreadChoice(cpus, "affinity", cpus, quota, policy)


def prepare_environment(environ: MutableMapping[str, str] = os.environ) -> None:
    """Before OpenMP's libraries load (torch, scikit-learn): idle threads wait passively unless the
    environment already says how they wait."""
    if not any(environ.get(name) for name in WAIT_VARIABLES):
        environ[WAIT_POLICY] = PASSIVE
    _State.loaded_wait_policy = _described_wait(environ)


def _described_wait(environ: MutableMapping[str, str]) -> str:
    given = [f"{name}={environ[name]}" for name in WAIT_VARIABLES if environ.get(name)]
    return ",".join(given) or "OpenMP default (spin, then sleep)"


def current_wait_policy() -> str:
    """How OpenMP's threads wait in this process: what the environment said when it loaded."""
    if _State.loaded_wait_policy is not None:
        return _State.loaded_wait_policy
    return _described_wait(os.environ)


def apply_thread_policy(settings: Any = None, *, include_torch: bool = True) -> ThreadChoice:
    """Choose this step's thread count (``settings.train_threads`` overrides) and set it on torch's
    pools (imported here when ``include_torch``) and on every BLAS/OpenMP pool already loaded."""
    if "torch" not in sys.modules:
        prepare_environment()  # before torch's OpenMP loads, which reads it once
    choice = choose_threads(getattr(settings, "train_threads", None))
    if include_torch or "torch" in sys.modules:
        import torch

        torch.set_num_threads(choice.threads)
        with contextlib.suppress(RuntimeError):  # allowed once per process, before inter-op work
            torch.set_num_interop_threads(choice.threads)
    with contextlib.suppress(ImportError):  # scikit-learn's dependency: numpy's and scipy's BLAS
        import numpy  # noqa: F401 - loaded before the limit, so the limit reaches its BLAS
        from threadpoolctl import threadpool_limits

        threadpool_limits(choice.threads)
    _State.applied = choice
    return choice


def thread_choice() -> dict[str, Any] | None:
    """The choice ``apply_thread_policy`` made in this process, for ``usage.json``; None if none."""
    return asdict(_State.applied) if _State.applied else None
