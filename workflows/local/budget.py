"""The budget gate of a local run: ``-p max-cost=AMOUNT`` (in MLOPS_PRICES' currency), ``-p max-gpu-hours=H``.

Before any step, a run whose estimate (``workflows.local.cost_estimate``) is over its budget is refused in
one line (65). While it runs, the cost of its finished attempts (the ledger ``cost.json`` is made from) is
checked on every change of its record; once it passes the budget, no new step starts, the running ones
finish, the exit handler runs, and the run ends Failed with the reason: a step not yet started (register)
never starts, so nothing is half-registered. A workflow that declares a parameter of the same name keeps it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from steps.errors import BadInput, StepError
from workflows.local import stop as local_stop
from workflows.local.record import Phase

if TYPE_CHECKING:
    from workflows.local.cost_estimate import Estimate
    from workflows.local.executor import LocalRun
    from workflows.settings import Settings

# -p name -> the ledger total it caps
LIMITS = {"max-cost": "cost", "max-gpu-hours": "gpu_hours"}
OVER_BUDGET_EXIT = 65  # the budget given does not cover the run: never worth retrying as it is


def take_budget(parameters: dict[str, str], doc: dict) -> Budget:
    """The budget given with ``-p``, taken out of the workflow's parameters (a bad amount refused, named)."""
    declared = {
        p.get("name") for p in ((doc.get("spec") or {}).get("arguments") or {}).get("parameters") or []
    }
    limits = {}
    for name, total in LIMITS.items():
        if name not in parameters or name in declared:
            continue
        text = parameters.pop(name)
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise BadInput(f"parameter {name!r}: {text!r} is not an amount above 0; pass -p {name}=NUMBER")
        limits[total] = value
    return Budget(limits)


@dataclass
class Budget:
    """The limits of one run, and why it was stopped once it passed one."""

    limits: dict[str, float]  # ledger total -> limit
    reason: str = ""
    seen: int = -1  # finished attempts at the last check: the ledger is made again only when one ends

    def describe(self, total: str, amount: float, currency: str) -> tuple[str, str]:
        """(the limit as given, the amount) in words: ``("max-cost 0.5 USD", "0.612000 USD")``."""
        name = next(n for n, t in LIMITS.items() if t == total)
        unit = f" {currency}" if total == "cost" else ""
        return f"{name} {self.limits[total]:g}{unit}", f"{amount:.6f}{unit}"

    def refuse_if_over(self, run: LocalRun, settings: Settings) -> str | None:
        """Raise BadInput when the estimate of ``run`` is over a limit; else a line saying what was checked."""
        if not self.limits:
            return None
        from workflows.local.cost_estimate import estimate

        template, currency = run.record.template, settings.prices.currency
        projected = estimate(Path(settings.runs_root), template, run.record.parameters.get("data-uri"))
        return self.gate(projected, template, currency)

    def gate(self, projected: Estimate | None, template: str, currency: str) -> str:
        """Raise BadInput when ``projected`` is over a limit; else a line saying what was checked
        (``mlops run`` and ``mlops submit`` alike)."""
        if projected is None:
            limits = ", ".join(self.describe(t, 0, currency)[0] for t in self.limits)
            return f"budget:     {limits}; no successful {template} run to estimate from: checked as it runs"
        for total, limit in self.limits.items():
            if projected.totals[total] > limit:
                given, amount = self.describe(total, projected.totals[total], currency)
                raise BadInput(
                    f"budget {given}: this {template} run is estimated at {amount} ({projected.basis()}); "
                    f"nothing was started: raise -p {given.split()[0]} or give it less data"
                )
        shown = ", ".join(
            " of ".join(reversed(self.describe(t, projected.totals[t], currency))) for t in self.limits
        )
        return f"budget:     estimated {shown} ({projected.basis()})"

    def watching(
        self, on_change: Callable[[LocalRun], None], settings: Settings
    ) -> Callable[[LocalRun], None]:
        """``on_change`` for LocalRun: the progress view's, then the budget's check."""

        def changed(run: LocalRun) -> None:
            on_change(run)
            if self.limits:
                self.check(run, settings)

        return changed

    def check(self, run: LocalRun, settings: Settings) -> None:
        record = run.record
        if self.reason:
            # Argo's stopped-workflow message, set as the exit handler starts, becomes the budget's reason.
            if run.in_exit_handler and record.message == local_stop.STOP_MESSAGE:
                record.message = self.reason
                run.save()  # the record as written says why too (this check is called after each write)
            return
        if run.stopping.is_set():
            return
        finished = sum(a.phase != Phase.Running for node in record.nodes.values() for a in node.attempts)
        if finished == self.seen:
            return
        self.seen = finished
        from workflows.local.ledger import local_ledger

        try:  # from run.json, written just before this call
            totals = local_ledger(run.run_dir, settings).totals()
        except StepError as exc:  # a GPU type without a price, say: a budget it cannot check stops the run
            self.reason = f"Stopped: the budget cannot be checked: {exc}"
            stop_at_boundary(run)
            return
        for total, limit in self.limits.items():
            if totals[total] > limit:
                given, spent = self.describe(total, totals[total], settings.prices.currency)
                ended = [node for node in record.nodes.values() if node.finished_at]
                after = f" when {max(ended, key=lambda n: n.finished_at).name} ended" if ended else ""
                self.reason = f"Stopped: budget {given} passed ({spent} spent{after}); no later step started"
                stop_at_boundary(run)
                return

    def exit_code(self) -> int | None:
        return OVER_BUDGET_EXIT if self.reason else None


def stop_at_boundary(run: LocalRun) -> None:
    """No new step starts in the run or the runs it started; the running ones finish, the exit handler runs
    (``argo stop`` less its SIGTERM: ``workflows.local.stop`` marks what never started)."""
    with run.lock:
        if run.in_exit_handler or run.stopped_by_user:
            return
        run.stopped_by_user = True
        run.stopping.set()
        children = list(run.child_runs)
    for child in children:
        stop_at_boundary(child)
