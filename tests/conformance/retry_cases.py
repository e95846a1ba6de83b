"""``retryStrategy`` as Argo applies it: the policies against Failed and Error attempts, ``limit``, backoff's
``maxDuration`` and ``expression`` over ``lastRetry``.

docs/retries.md describes the policies (Always, OnFailure the default, OnError, OnTransientError) and
conditional retries; operator.go processNodeRetries decides (retryOnFailed/retryOnError by policy, then the
expression, then backoff: "it's futile to wait" past maxDuration). Failed is a non-0 exit; Error is the
unsaved output parameter of snippets.py's ``error`` template. Attempts count the first try.
"""

from __future__ import annotations

from tests.conformance.case import Case
from tests.conformance.snippets import dag

DOC = "docs/retries.md"


def retried(strategy: str, body: str, name: str = "flaky") -> str:
    """A one-task DAG whose template ``flaky`` has ``strategy`` (a YAML flow map) and ``body`` (its container)."""
    return dag(f"- {{name: {name}, template: flaky}}", templates=flaky(strategy, body))


def flaky(strategy: str, body: str) -> str:
    return f"- name: flaky\n  retryStrategy: {strategy}\n{body}"


FAIL = '  container: {image: "argoproj/argosay:v2", args: [exit, "1"]}'
ERROR = """  container: {image: "argoproj/argosay:v2"}
  outputs:
    parameters: [{name: never, valueFrom: {path: /tmp/never-written}}]"""
# fails until its third attempt ({{retries}}: docs/variables.md, the retry number of a retryStrategy's attempt)
THIRD_TIME_LUCKY = """  container:
    image: python:3.12
    command: [python, -c, "import sys; sys.exit(0 if {{retries}} >= 2 else 1)"]"""


CASES = [
    Case(
        "retry-default-policy-retries-failed",
        f"{DOC} (OnFailure is the default) (retryStrategy.limit 2) gives three attempts, all Failed",
        retried("{limit: 2}", FAIL),
        "Failed",
        {"flaky": "Failed"},
        attempts={"flaky": 3},
    ),
    Case(
        "retry-default-policy-skips-error",
        f"{DOC}: OnFailure does not retry an Error (operator.go: retryOnError false)",
        retried("{limit: 2}", ERROR),
        "Error",
        {"flaky": "Error"},
        attempts={"flaky": 1},
    ),
    Case(
        "retry-always-retries-failed",
        f"{DOC} (Always: retry all failed steps)",
        retried("{limit: 2, retryPolicy: Always}", FAIL),
        "Failed",
        {"flaky": "Failed"},
        attempts={"flaky": 3},
    ),
    Case(
        "retry-always-retries-error",
        f"{DOC} (Always retries errors too: retryOnError true)",
        retried("{limit: 1, retryPolicy: Always}", ERROR),
        "Error",
        {"flaky": "Error"},
        attempts={"flaky": 2},
    ),
    Case(
        "retry-on-error-skips-failed",
        f"{DOC} (OnError: only errors, retryOnFailed false): a non-0 exit is not retried",
        retried("{limit: 2, retryPolicy: OnError}", FAIL),
        "Failed",
        {"flaky": "Failed"},
        attempts={"flaky": 1},
    ),
    Case(
        "retry-on-error-retries-error",
        f"{DOC} (OnError)",
        retried("{limit: 2, retryPolicy: OnError}", ERROR),
        "Error",
        {"flaky": "Error"},
        attempts={"flaky": 3},
    ),
    Case(
        "retry-on-transient-error-skips-failed",
        f"{DOC} (OnTransientError: only errors matching the transient patterns, errorsutil.IsTransientErr): "
        "'Error (exit code 1)' is not one",
        retried("{limit: 2, retryPolicy: OnTransientError}", FAIL),
        "Failed",
        {"flaky": "Failed"},
        attempts={"flaky": 1},
    ),
    Case(
        "retry-on-transient-error-skips-other-errors",
        f"{DOC} with operator.go processNodeRetries: OnTransientError retries a Failed or Error node only "
        "when errorsutil.IsTransientErr(its message); a missing output file is not transient",
        retried("{limit: 2, retryPolicy: OnTransientError}", ERROR),
        "Error",
        {"flaky": "Error"},
        attempts={"flaky": 1},
    ),
    Case(
        "retry-succeeds-on-third-attempt",
        f"{DOC} with docs/variables.md ('retries': the retry number); the node succeeds once an attempt does",
        retried("{limit: 3}", THIRD_TIME_LUCKY),
        "Succeeded",
        {"flaky": "Succeeded"},
        attempts={"flaky": 3},
    ),
    Case(
        "retry-limit-as-string",
        "test/e2e/retry_test.go TestRetryBackoff (limit: '10' and limit: 10 both accepted, IntOrString); "
        "adapted: limit '1' and no backoff",
        retried('{limit: "1"}', FAIL),
        "Failed",
        {"flaky": "Failed"},
        attempts={"flaky": 2},
    ),
    Case(
        "retry-backoff-max-duration-stops-early",
        f"{DOC} (backoff duration, factor, maxDuration) with operator.go processNodeRetries: when the next "
        "retry would start past maxDuration the node fails now; adapted from test/e2e/retry_test.go "
        "TestRetryBackoff (10s/1m) to 1s/2.5s: the second wait (2s) passes the limit",
        retried('{limit: 10, backoff: {duration: "1s", factor: 2, maxDuration: "2.5s"}}', FAIL),
        "Failed",
        {"flaky": "Failed"},
        attempts={"flaky": 2},
    ),
    Case(
        "retry-backoff-max-duration-shorter-than-wait",
        f"{DOC} with operator.go processNodeRetries: a first wait beyond maxDuration means no retry at all",
        retried('{limit: 10, backoff: {duration: "5s", maxDuration: "1s"}}', FAIL),
        "Failed",
        {"flaky": "Failed"},
        attempts={"flaky": 1},
    ),
    Case(
        "retry-expression-exit-code",
        "examples/retry-conditional.yaml (retry until exit code 2) with docs/retries.md (expression "
        "'asInt(lastRetry.exitCode) > 1'); adapted: the exit code is 2 - retries, so the second attempt "
        "exits 1 and stops the retries",
        retried(
            "{limit: 10, expression: 'asInt(lastRetry.exitCode) > 1'}",
            """  container:
    image: python:3.12
    command: [python, -c, "import sys; sys.exit(2 - {{retries}})"]""",
        ),
        "Failed",
        {"flaky": "Failed"},
        attempts={"flaky": 2},
    ),
    Case(
        "retry-expression-status",
        f"{DOC} (Conditional retries: lastRetry.status is Failed or Error): retry only after an Error",
        retried("{limit: 2, retryPolicy: Always, expression: \"lastRetry.status == 'Error'\"}", FAIL),
        "Failed",
        {"flaky": "Failed"},
        attempts={"flaky": 1},
    ),
    Case(
        "retry-expression-status-error",
        f"{DOC} (Conditional retries: lastRetry.status): an Error attempt matches and is retried",
        retried("{limit: 2, retryPolicy: Always, expression: \"lastRetry.status == 'Error'\"}", ERROR),
        "Error",
        {"flaky": "Error"},
        attempts={"flaky": 3},
    ),
    Case(
        "retry-expression-duration",
        f"{DOC} (lastRetry.duration, in seconds): a quick attempt under 60 s is retried",
        retried("{limit: 1, expression: 'asInt(lastRetry.duration) < 60'}", FAIL),
        "Failed",
        {"flaky": "Failed"},
        attempts={"flaky": 2},
    ),
    Case(
        "retry-expression-message",
        f"{DOC} (lastRetry.message; the node message of a non-0 exit is 'Error (exit code N)'): an expr-lang "
        "'matches' over it",
        retried("{limit: 3, expression: \"lastRetry.message matches 'exit code 7'\"}", FAIL),
        "Failed",
        {"flaky": "Failed"},
        attempts={"flaky": 1},
    ),
    Case(
        "retry-policy-and-expression-both-needed",
        f"{DOC} with operator.go processNodeRetries: the policy is checked first, so OnError does not retry "
        "a Failed attempt though the expression holds",
        retried("{limit: 2, retryPolicy: OnError, expression: 'true'}", FAIL),
        "Failed",
        {"flaky": "Failed"},
        attempts={"flaky": 1},
    ),
    Case(
        "retry-then-depends",
        "docs/enhanced-depends-logic.md with docs/retries.md: a retried task that finally succeeds is "
        "Succeeded for its dependants",
        dag(
            """
            - {name: flaky, template: flaky}
            - {name: after, depends: flaky.Succeeded, template: pass}
            - {name: on-fail, depends: flaky.Failed, template: pass}
            """,
            templates=flaky("{limit: 3}", THIRD_TIME_LUCKY),
        ),
        "Succeeded",
        {"flaky": "Succeeded", "after": "Succeeded", "on-fail": "Omitted"},
        attempts={"flaky": 3},
    ),
    Case(
        "retry-backoff-in-milliseconds",
        "docs/retries.md with wfv1.ParseStringToDuration (a number of seconds, or Go's time.ParseDuration: "
        "'100ms' is valid): a 100 ms backoff, then the second attempt",
        retried('{limit: 1, backoff: {duration: "100ms"}}', FAIL),
        "Failed",
        {"flaky": "Failed"},
        attempts={"flaky": 2},
    ),
]
