"""Exit codes and the error family of the step contract; this module imports nothing of the project.

- 65 bad input (data or parameters are wrong: never retried)
- 70 a deploy failed and was rolled back (never retried: nothing is left half-deployed)
- 75 transient (network, storage, tracking server: retried with backoff)
- 77 permission denied (credentials or bucket policy: never retried)
- 78 bad setting (an ``MLOPS_*``/``AWS_*`` variable is wrong: never retried)
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_BAD_INPUT = 65
EXIT_TRANSIENT = 75
EXIT_PERMISSION = 77
EXIT_BAD_SETTING = 78
EXIT_ROLLED_BACK = 70
# Exit codes a retry can never fix; the workflow's retry expression skips them.
NOT_RETRIED = (EXIT_BAD_INPUT, EXIT_ROLLED_BACK, EXIT_PERMISSION, EXIT_BAD_SETTING)


def shown(value: object, limit: int = 40) -> str:
    """A value for an error line: its repr, cut short so one bad cell cannot flood the log."""
    text = repr(value)
    return (
        text if len(text) <= limit else f"{text[: limit - 5]}...{text[-1]} ({len(str(value)):,} characters)"
    )


class StepError(Exception):
    """An expected failure: one clear line for the user, and the exit code that classifies it."""

    exit_code = 1


class BadInput(StepError):
    """The data or a parameter is wrong; running again will not help."""

    exit_code = EXIT_BAD_INPUT


class Transient(StepError):
    """A dependency is unavailable right now; a retry may succeed."""

    exit_code = EXIT_TRANSIENT


class PermissionDenied(StepError):
    """Credentials or policy refuse access; a retry will not help."""

    exit_code = EXIT_PERMISSION


class BadSetting(StepError):
    """An environment setting is invalid."""

    exit_code = EXIT_BAD_SETTING


class RolledBack(StepError):
    """A deploy failed and was undone (Git and registry); running it again would repeat it."""

    exit_code = EXIT_ROLLED_BACK
