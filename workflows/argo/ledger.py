"""The cost ledger of one run: a line per step attempt (retried and preempted ones included, marked), priced.

A line holds what the attempt's pod held, for how long: vCPU-, GiB- and GPU-seconds, and what it used
where that is known (CPU seconds and peak memory from a local step's ``usage.json``). A pod holds what
it requests for as long as it runs, and more when it uses more: CPU and memory are billed at the larger
of the two. The price list (``MLOPS_PRICES``) turns the seconds into money; ``cost.json`` holds the
lines, the totals and the prices used, so the figure can be checked by hand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from steps.errors import BadInput, BadSetting
from workflows.argo.resources import Requests
from workflows.settings import Prices, Settings

COST_FILE = "cost.json"  # in the run folder, beside run.json
# Exit codes of a container ended by a signal: SIGKILL (the grace period ran out), SIGTERM (reclaimed).
KILLED_BY_SIGNAL = (137, 143)
# What Argo's node message says of a pod whose node went away (a spot reclaim, PITFALLS.md), and the
# line a step prints when SIGTERM stops it (steps.stopping).
PREEMPTION_MESSAGES = ("imminent node shutdown", "pod deleted", "stopped by SIGTERM")


@dataclass
class Line:
    """One attempt of one step: what its pod held and for how long, and what that cost."""

    step: str
    template: str
    attempt: int
    phase: str
    exit_code: int | None
    retried: bool  # a later attempt of the same step followed: this one was paid for and thrown away
    preempted: bool  # ended by its node going away (spot reclaim, eviction), not by its own failure
    capacity: str  # on-demand or spot, as its pod's node selector asked
    gpu_type: str
    wall_seconds: float
    requests: dict[str, float]
    cpu_seconds: float | None = None  # used, where measured (usage.json)
    peak_memory_mib: float | None = None
    vcpu_seconds: float = 0.0  # billed: requests x time, or what was used when that is more
    gib_seconds: float = 0.0
    gpu_seconds: float = 0.0
    cost: float = 0.0
    source: str = "run.json"  # where its figures come from: usage.json, run.json, resourcesDuration


@dataclass
class Ledger:
    """A run's lines, their sums and the prices they were priced with."""

    run: str
    template: str
    phase: str
    started_at: str
    finished_at: str
    where: str  # local or cluster
    lines: list[Line]
    prices: dict[str, Any]
    mlflow_runs: list[str] = field(default_factory=list)
    model: dict[str, str] | None = None  # the version it registered: {"name", "version"}
    # Runs whose cost is this one's too: the drift check that started this retrain, by run name.
    upstream: dict[str, float] = field(default_factory=dict)

    def totals(self) -> dict[str, float]:
        cost = round(sum(line.cost for line in self.lines), 6)
        retries = round(sum(line.cost for line in self.lines if line.retried), 6)
        return {
            "cost": cost,
            "wall_seconds": round(sum(line.wall_seconds for line in self.lines), 3),
            "cpu_seconds": round(sum(line.cpu_seconds or 0.0 for line in self.lines), 3),
            "peak_memory_mib": max((line.peak_memory_mib or 0.0 for line in self.lines), default=0.0),
            "vcpu_hours": round(sum(line.vcpu_seconds for line in self.lines) / 3600, 6),
            "gib_hours": round(sum(line.gib_seconds for line in self.lines) / 3600, 6),
            "gpu_hours": round(sum(line.gpu_seconds for line in self.lines) / 3600, 6),
            "upstream_cost": round(sum(self.upstream.values()), 6),
            "model_cost": round(cost + sum(self.upstream.values()), 6),  # what its model version cost
            "retries_cost": retries,
            "retries_share": retries_share(retries, cost),
            "attempts": len(self.lines),
            "retried_attempts": sum(line.retried for line in self.lines),
            "preempted_attempts": sum(line.preempted for line in self.lines),
        }

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "totals": self.totals()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ledger:
        fields = {k: v for k, v in data.items() if k != "totals"}
        return cls(**{**fields, "lines": [Line(**line) for line in data.get("lines", [])]})


def retries_share(retries_cost: float, cost: float) -> float:
    """Of the rounded figures reported beside it, so that retries_cost / cost gives it back."""
    return round(retries_cost / cost, 4) if cost else 0.0


def capacity_of(selector: dict[str, str], settings: Settings, template: str) -> str:
    """on-demand or spot: what the pod's node selector asks by the capacity label, else the price list's default."""
    label = settings.capacity_type_label
    value = selector.get(label)
    if value is None:
        return settings.prices.default_capacity
    if value == settings.spot_capacity:
        return "spot"
    if value == settings.on_demand_capacity:
        return "on-demand"
    raise BadInput(
        f"template {template}: nodeSelector {label}={value} is neither MLOPS_SPOT_CAPACITY "
        f"({settings.spot_capacity}) nor MLOPS_ON_DEMAND_CAPACITY ({settings.on_demand_capacity}); set one to it"
    )


def gpu_type_of(selector: dict[str, str], prices: Prices, capacity: str, template: str) -> str:
    """The GPU type the node selector names (``prices.gpu_type_label``), which the price list must price."""
    gpu_type = selector.get(prices.gpu_type_label, "default")
    listed = (prices.spot if capacity == "spot" else prices.on_demand).gpu_hour
    if gpu_type not in listed:
        raise BadSetting(
            f"setting MLOPS_PRICES: {capacity.replace('-', '_')}.gpu_hour has no price for {gpu_type!r} "
            f"(template {template}: nodeSelector {prices.gpu_type_label}); add it"
        )
    return gpu_type


def priced(line: Line, prices: Prices) -> Line:
    """The line with its cost, from its billed seconds and the price list of its capacity."""
    listed = prices.spot if line.capacity == "spot" else prices.on_demand
    gpu_hour = listed.gpu_hour[line.gpu_type] if line.gpu_seconds else 0.0
    line.cost = round(
        line.vcpu_seconds / 3600 * listed.vcpu_hour
        + line.gib_seconds / 3600 * listed.gib_hour
        + line.gpu_seconds / 3600 * gpu_hour,
        6,
    )
    return line


def billed(line: Line, requests: Requests) -> Line:
    """Held seconds of an attempt from its requests and wall time; CPU and memory at least what it used."""
    wall = line.wall_seconds
    line.vcpu_seconds = round(max(requests.cpu * wall, line.cpu_seconds or 0.0), 3)
    used_gib = (line.peak_memory_mib or 0.0) / 1024
    line.gib_seconds = round(max(requests.memory_gib, used_gib) * wall, 3)
    line.gpu_seconds = round(requests.gpus * wall, 3)
    return line


def is_preempted(exit_code: int | None, message: str) -> bool:
    """Ended by its node going away: killed by a signal, or a message that says the pod or node went."""
    return exit_code in KILLED_BY_SIGNAL or any(words in message for words in PREEMPTION_MESSAGES)
