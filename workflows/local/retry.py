"""Whether Argo retries a node after an attempt: ``retryStrategy``'s ``retryPolicy`` and ``expression``
(RetryStrategy.RetryPolicyActual and operator.go ``processNodeRetries``)."""

from __future__ import annotations

import os
import re

from workflows.argo.expressions import ExpressionError, evaluate
from workflows.local.record import Attempt, Phase
from workflows.local.substitution import go_text, substitute


def retry_limit(strategy: dict, scope: dict[str, str]) -> int | str:
    """The substituted ``limit`` (0 without a strategy), or intstr's message when it is no integer: Argo reads
    it only when an attempt failed in a way the policy retries (operator.go processNodeRetries)."""
    text = str(substitute(str(strategy.get("limit", 0)), scope)) if strategy else "0"
    try:
        return int(text)
    except ValueError:
        return f"value '{text}' cannot be resolved to an int"


def should_retry(strategy: dict, attempt: Attempt, limit: int | str = 0) -> bool:
    """Whether Argo retries after ``attempt``. A malformed or non-bool ``expression``, or an unreadable
    ``limit`` (``retry_limit``'s message), is an ExpressionError whose text is the node's message."""
    # RetryStrategy.RetryPolicyActual: with an expression and no policy, Always (the expression decides)
    policy = strategy.get("retryPolicy") or ("Always" if strategy.get("expression") else "OnFailure")
    if policy == "OnFailure" and attempt.phase != Phase.Failed:
        return False
    if policy == "OnError" and attempt.phase != Phase.Error:
        return False
    # processNodeRetries: a Failed or Error node whose message util/errors.IsTransientErr calls transient
    if policy == "OnTransientError" and not (
        attempt.phase in (Phase.Failed, Phase.Error) and is_transient(attempt.message)
    ):
        return False
    if isinstance(limit, str):  # processNodeRetries parses the limit after the policy, before the expression
        raise ExpressionError(limit)
    expression = strategy.get("expression")
    if not expression:
        return True
    last = {
        "lastRetry.exitCode": str(attempt.exit_code if attempt.exit_code is not None else -1),
        "lastRetry.status": str(attempt.phase),  # a string in Argo's expression env, not an enum
        "lastRetry.duration": str(int(attempt.duration_seconds)),
        "lastRetry.message": attempt.message,
    }
    try:
        result = evaluate(expression, last.__getitem__)
    except ExpressionError as exc:
        raise ExpressionError(f"retryStrategy.expression: {exc}") from None
    if not isinstance(result, bool):  # argoexpr.EvalBool refuses anything but a bool
        raise ExpressionError(
            f"retryStrategy.expression: unable to cast expression result '{go_text(result)}' to bool"
        )
    return result


# util/errors/errors.go isTransientErr: the cases a node's message can show (quota, etcd, network, sqb).
TRANSIENT_MARKERS = (
    "exceeded quota",
    "Operation cannot be fulfilled on resourcequota",
    "resource quota evaluation timed out",
    "etcdserver: leader changed",
    "etcdserver: request timed out",
    "etcdserver: too many requests",
    "Connection closed by foreign host",
    "net/http: TLS handshake timeout",
    "i/o timeout",
    "connection timed out",
    "connection reset by peer",
    "http2: client connection lost",
    "http2: server sent GOAWAY and closed the connection",
    "connect: connection refused",
    "invalid connection",
    "upper: no more rows in",
)


def is_transient(message: str) -> bool:
    """Argo's IsTransientErr on a node's message, TRANSIENT_ERROR_PATTERN (a regex, searched) included."""
    pattern = os.environ.get("TRANSIENT_ERROR_PATTERN", "")
    return any(marker in message for marker in TRANSIENT_MARKERS) or bool(
        pattern and re.search(pattern, message)
    )
