"""``suspend`` templates with a ``duration``, as Argo's operator.go ``executeSuspend`` runs them.

The node is Running until ``duration`` (``parseStringToDuration``: whole seconds, else Go's duration text such as
``20s`` or ``1m``) has passed from its start, then Succeeded ("auto resuming"). A stop or the workflow's deadline
ends the wait at once with the node Failed (``failSuspendedAndPendingNodesAfterDeadlineOrShutdown``: "Stopped with
strategy '...'", "Step exceeded its deadline"). A duration that does not parse makes the node Error, as
``executeTemplate`` marks the error ``executeSuspend`` returns. A suspend with no duration waits for ``argo resume``:
preflight refuses it.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from workflows.argo.expressions import ExpressionError
from workflows.local.preflight import Unsupported
from workflows.local.record import Node, Phase, now_iso
from workflows.local.substitution import parse_duration, substitute

if TYPE_CHECKING:
    from workflows.local.executor import LocalRun

DEADLINE_MESSAGE = "Step exceeded its deadline"


def duration_of(text: str) -> float:
    """parseStringToDuration: ``strconv.Atoi`` as seconds, else ``time.ParseDuration``; ValueError otherwise."""
    text = text.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return max(0.0, float(text))
    try:
        if re.fullmatch(r"[\d.]+", text):  # Go's ParseDuration wants a unit on anything but 0
            raise Unsupported(text)
        return parse_duration(text)
    except Unsupported:
        raise ValueError(f"unable to parse {text} as a duration") from None


def run_suspend(run: LocalRun, node: Node, template: dict[str, Any], inputs: dict[str, str]) -> None:
    """Wait the template's duration on the run's ``stopping`` event; the node's phase says how it ended."""
    began = time.monotonic()
    with run.lock:
        node.phase, node.started_at = Phase.Running, node.started_at or now_iso()
        run.save()
    try:
        seconds = duration_of(str(substitute(str(template["suspend"]["duration"]), inputs)))
    except (ValueError, ExpressionError) as exc:
        run.finish(node, Phase.Error, str(exc), began)
        return
    if run.stopping.wait(seconds):
        strategy = "Terminate" if run.killed else "Stop"
        message = DEADLINE_MESSAGE if run.deadline_hit else f"Stopped with strategy '{strategy}'"
        run.finish(node, Phase.Failed, message, began)
        return
    run.finish(node, Phase.Succeeded, "", began)
