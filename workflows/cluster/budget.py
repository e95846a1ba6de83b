"""The budget gate of a cluster run (``mlops submit -p max-cost=... / -p max-gpu-hours=... --wait``).

Before anything is sent, the last successful runs of the same WorkflowTemplate are read through the Argo
Server: Argo labels a Workflow made from a template ``workflows.argoproj.io/workflow-template=<name>`` (its own
duration estimator finds a run's predecessors by that label: workflow/controller/estimation/estimator_factory.go),
and their ledgers come from their node status (``workflows.cluster.ledger``), with the rows their ingest node
output. While the run is followed, its ledger (finished pod nodes only: a step boundary) is checked on every
poll that saw a node finish; once it passes the budget, the run is stopped with Argo's stop
(``PUT /api/v1/workflows/{ns}/{name}/stop``: ``spec.shutdown: Stop``, exit handlers run, no new step starts:
workflow/util/util.go ``StopWorkflow``), and the submit ends 65 with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from steps.errors import StepError
from workflows.argo.ledger import Ledger
from workflows.cluster.client import step_of
from workflows.cluster.ledger import cluster_ledger, iso
from workflows.cluster.submit import DONE
from workflows.settings import Settings

TEMPLATE_LABEL = "workflows.argoproj.io/workflow-template"
ROWS_OUTPUT = "rows-out"  # ingest's output parameter: the rows it kept (steps.ingest, workflows/pipelines)
INGEST = "ingest"
HISTORY = 3  # the last successful runs an estimate averages, as for local runs


class Limits(Protocol):
    """What the watch needs of a budget (``workflows.local.budget.Budget``): its limits and their wording."""

    limits: dict[str, float]

    def describe(self, total: str, amount: float, currency: str) -> tuple[str, str]: ...


def rows_ingested(workflow: dict[str, Any]) -> int | None:
    """The rows the run's succeeded ingest pod output (``rows-out``), if its status says them."""
    for node in ((workflow.get("status") or {}).get("nodes") or {}).values():
        if node.get("type") != "Pod" or node.get("phase") != "Succeeded":
            continue
        if step_of(node.get("name", "")) != INGEST:
            continue
        for parameter in (node.get("outputs") or {}).get("parameters") or []:
            if parameter.get("name") == ROWS_OUTPUT and str(parameter.get("value", "")).isdigit():
                return int(parameter["value"])
    return None


def history(client: Any, template: str, settings: Settings) -> list[tuple[Ledger, int | None]]:
    """The last ``HISTORY`` successful runs of ``template`` on the cluster, oldest first, with their rows."""
    runs = [
        workflow
        for workflow in client.list_workflows(f"{TEMPLATE_LABEL}={template}")
        if (workflow.get("status") or {}).get("phase") == "Succeeded"
    ]
    runs.sort(key=lambda workflow: iso((workflow.get("status") or {}).get("startedAt")))
    return [(cluster_ledger(workflow, settings), rows_ingested(workflow)) for workflow in runs[-HISTORY:]]


@dataclass
class Watch:
    """``follow``'s check: the running Workflow's ledger against the budget; stops it once over."""

    client: Any
    budget: Limits
    settings: Settings
    say: Callable[[str], None]
    reason: str = ""
    seen: int = -1  # finished pod nodes at the last check: the ledger changes only when one ends

    def __call__(self, workflow: dict[str, Any]) -> None:
        if self.reason:
            return
        nodes = ((workflow.get("status") or {}).get("nodes") or {}).values()
        ended = [n for n in nodes if n.get("type") == "Pod" and n.get("finishedAt")]
        if len(ended) == self.seen:
            return
        self.seen = len(ended)
        try:
            totals = cluster_ledger(workflow, self.settings).totals()
        except StepError as exc:  # a GPU type without a price, say: a budget it cannot check stops the run
            self.stop(workflow, f"Stopped: the budget cannot be checked: {exc}")
            return
        currency = self.settings.prices.currency
        for total, limit in self.budget.limits.items():
            if totals[total] > limit:
                given, spent = self.budget.describe(total, totals[total], currency)
                last = max(ended, key=lambda n: iso(n.get("finishedAt")))
                step = last.get("displayName") or step_of(last.get("name", ""))
                self.stop(workflow, f"Stopped: budget {given} passed ({spent} spent when {step} ended)")
                return

    def stop(self, workflow: dict[str, Any], reason: str) -> None:
        name = workflow["metadata"]["name"]
        try:
            self.client.stop(name)
        except StepError:
            now = self.client.get("Workflow", name) or {}
            if (now.get("status") or {}).get("phase") not in DONE:
                raise
            # the server refuses to stop a completed run
            self.reason = f"{reason}; the run had ended before the stop arrived"
            return
        self.reason = f"{reason}; no later step started, the exit handler ran (Argo's stop)"
        self.say(f"{name}: budget passed: stopped (Argo's stop); following it to the end")
