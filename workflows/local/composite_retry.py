"""A ``retryStrategy`` on a dag or steps template, as Argo's operator.go ``executeTemplate`` runs it.

The template's node becomes a Retry node whose children are whole runs of the template, ``<node>(0)``,
``<node>(1)``...: each attempt a new dag or steps node, its tasks ``<node>(n).<task>`` (dag.go ``taskNodeName``)
or its groups ``<node>(n)[i]``, so every task runs again. The strategy is the template's own, else
``spec.retryStrategy`` (operator.go ``retryStrategy()``). After a failed attempt ``processNodeRetries`` decides, in
its order: the policy (OnFailure by default; not retried: the attempt's phase and message), the ``limit`` ("No more
retries left"), the ``expression`` ("retryStrategy.expression evaluated to false", ``lastRetry.exitCode`` -1 as a
dag node has none: ``buildRetryStrategyLocalScope``); then the backoff. The Retry node ends Succeeded with its last
attempt's outputs, or with the last attempt's phase. For the entrypoint, whose node is the workflow's, the attempts
are ``(0)``, ``(0).<task>``: the record's names leave out the workflow's name, as everywhere.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from workflows.argo.expressions import ExpressionError
from workflows.local.record import Attempt, Node, Phase, now_iso
from workflows.local.retry import retry_limit, should_retry
from workflows.local.substitution import parse_duration

if TYPE_CHECKING:
    from collections.abc import Callable

    from workflows.local.executor import LocalRun

NO_MORE = "No more retries left"
EXPRESSION_FALSE = "retryStrategy.expression evaluated to false"


def strategy_of(run: LocalRun, template: dict[str, Any]) -> dict[str, Any]:
    """operator.go ``retryStrategy()``: the template's own, else the workflow's; empty when neither."""
    return template.get("retryStrategy", run.spec.get("retryStrategy")) or {}


def retried_entry(run: LocalRun, template: dict[str, Any]) -> str:
    """A retried dag or steps entrypoint: the workflow's phase (its Retry node's); the record's message on failure."""
    phase, message, _ = run_retried(run, template, "", dict(run.entry_inputs))
    return run.record.entry_ended(phase, message)


def run_retried(run: LocalRun, template: dict, name: str, inputs: dict[str, str]) -> tuple[str, str, dict]:
    """Node ``name``'s template run as attempts ``name(n)`` until one succeeds or the strategy stops: the Retry
    node's (phase, message, outputs)."""
    from workflows.local.nested import run_dag
    from workflows.local.steps_template import run_steps

    runner: Callable = run_dag if "dag" in template else run_steps
    strategy = strategy_of(run, template)
    limit = retry_limit(strategy, {**run.scope, **inputs})
    backoff = strategy.get("backoff") or {}
    first = time.monotonic()
    number = 0
    while True:
        attempt = Node(name=f"{name}({number})", template=template["name"], phase=Phase.Running)
        attempt.started_at, began = now_iso(), time.monotonic()
        with run.lock:
            run.record.nodes[attempt.name] = attempt
            run.save()
        phase, message, outputs = runner(run, template, attempt.name, {**inputs, "retries": str(number)})
        with run.lock:
            attempt.phase, attempt.message, attempt.outputs = phase, message, outputs
            attempt.finished_at, attempt.duration_seconds = now_iso(), round(time.monotonic() - began, 3)
            run.save()
        if phase == Phase.Succeeded:
            return Phase.Succeeded, "", outputs
        # processNodeRetries: no retry once the workflow is stopped or past its deadline
        if run.stopping.is_set():
            return phase, message, {}
        wait_for, verdict = backoff_of(backoff, number, time.monotonic() - first)
        try:
            verdict = verdict or stop_reason(strategy, attempt, number, limit)
        except ExpressionError as exc:  # processNodeRetries' error marks the Retry node Error
            return Phase.Error, str(exc), {}
        if verdict is not None:
            return phase, verdict, {}
        if run.stopping.wait(wait_for):
            return phase, message, {}
        number += 1


def backoff_of(backoff: dict, number: int, elapsed: float) -> tuple[float, str | None]:
    """How long to wait before attempt ``number + 1``, and the Retry node's message when ``maxDuration`` ends it
    (processNodeRetries checks the backoff before the policy): ``duration * factor^number``, at most ``cap``."""
    if not backoff:
        return 0.0, None
    wait_for = parse_duration(backoff.get("duration", 0)) * float(backoff.get("factor", 1) or 1) ** number
    if backoff.get("cap"):
        wait_for = min(wait_for, parse_duration(backoff["cap"]))
    if backoff.get("maxDuration"):
        longest = parse_duration(backoff["maxDuration"])
        if elapsed > longest:
            return wait_for, "Max duration limit exceeded"
        if elapsed + wait_for > longest:
            return wait_for, "Backoff would exceed max duration limit"
    return wait_for, None


def stop_reason(strategy: dict, attempt: Node, number: int, limit: int | str) -> str | None:
    """None to run another attempt, else the Retry node's message (processNodeRetries' checks, in its order)."""
    last = Attempt(number=number, started_at=attempt.started_at, phase=attempt.phase, message=attempt.message)
    last.duration_seconds = attempt.duration_seconds
    policy = strategy.get("retryPolicy") or ("Always" if strategy.get("expression") else "OnFailure")
    if not should_retry({"retryPolicy": policy}, last, limit):
        return attempt.message
    if number >= limit:  # len(children) > limit: the first run and ``limit`` retries
        return NO_MORE
    if strategy.get("expression") and not should_retry({**strategy, "retryPolicy": "Always"}, last, limit):
        return EXPRESSION_FALSE
    return None
