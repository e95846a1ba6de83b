"""The warm starter's pause for a step it expects soon, so that step waits for no long import.

The starter imports one library at a time between requests, and a request waits for the import in
progress: SciPy's takes 1 s, PyTorch's 2 s. ``mlops run`` asks for its first step as soon as its
parameter check ends, so the check is forked with ``hold``: the starter imports what the first step
needs, then begins nothing until that step is asked for.
"""

from __future__ import annotations

import math
import time

HOLD_SECONDS = 2.0  # after the holding child ends, how long the starter waits for the next step's request


class Hold:
    """The starter's pause for a step it expects soon (a request's ``hold``): it imports up to the named
    library, then nothing until another step is asked for, or ``HOLD_SECONDS`` after the holding child
    has ended."""

    def __init__(self) -> None:
        self.until_after: str | None = None  # the last library imported before the pause
        self.child: int | None = None
        self.ends = math.inf  # monotonic; set when the holding child ends

    def forked(self, pid: int, until_after: str | None) -> None:
        """Any step forked ends the pause before it; one forked with ``hold`` begins another."""
        self.until_after, self.child, self.ends = until_after, pid, math.inf

    def child_ended(self, pid: int) -> None:
        if pid == self.child:
            self.ends = time.monotonic() + HOLD_SECONDS

    def may_import(self, pending: list[str]) -> bool:
        if not pending:
            return False
        if self.until_after is None or self.until_after in pending:
            return True
        if time.monotonic() >= self.ends:  # no step came: import on
            self.until_after = None
            return True
        return False

    def timeout(self, pending: list[str]) -> float | None:
        """How long the starter may wait for a request or a child's end: not at all with an import to do;
        while paused, until the pause ends (never while its child runs: its end wakes the starter)."""
        if self.may_import(pending):
            return 0
        if not pending or self.ends == math.inf:
            return None
        return max(0.0, self.ends - time.monotonic())
