"""Whether Argo retries a node after an attempt: ``retryStrategy``'s ``retryPolicy`` and ``expression``
(RetryStrategy.RetryPolicyActual and operator.go ``processNodeRetries``)."""

from __future__ import annotations

from workflows.argo.expressions import ExpressionError, evaluate
from workflows.local.record import Attempt, Phase
from workflows.local.substitution import go_text


def should_retry(strategy: dict, attempt: Attempt) -> bool:
    """Whether Argo retries after ``attempt``; a malformed or non-bool ``expression`` is an ExpressionError."""
    # RetryStrategy.RetryPolicyActual: with an expression and no policy, Always (the expression decides)
    policy = strategy.get("retryPolicy") or ("Always" if strategy.get("expression") else "OnFailure")
    if policy == "OnFailure" and attempt.phase != Phase.Failed:
        return False
    if policy in ("OnError", "OnTransientError") and attempt.phase != Phase.Error:
        return False
    expression = strategy.get("expression")
    if not expression:
        return True
    last = {
        "lastRetry.exitCode": str(attempt.exit_code if attempt.exit_code is not None else -1),
        "lastRetry.status": attempt.phase,
        "lastRetry.duration": str(int(attempt.duration_seconds)),
        "lastRetry.message": attempt.message,
    }
    result = evaluate(expression, last.__getitem__)
    if not isinstance(result, bool):  # argoexpr.EvalBool refuses anything but a bool
        raise ExpressionError(f"unable to cast expression result '{go_text(result)}' to bool")
    return result
