"""How an ``mlops`` command's process ends: without the interpreter's teardown when nothing is left to wait for.

With Hera's pydantic models (or MLflow) imported, Python's teardown frees every module's objects one
by one after the command's last line: 0.1-0.6 s of each ``mlops compile`` and ``mlops lint``. The
exit handlers still run and the streams are flushed; only the freeing is skipped, as a step does
(``steps.contract.leave``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn


def exit_code(code: object) -> int:
    """The status ``sys.exit(code)`` gives: None is 0, an int itself, anything else printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def waits_for_threads() -> bool:
    """A thread the interpreter would join at exit (not a daemon) is still running."""
    main = threading.main_thread()
    return any(t is not main and t.is_alive() and not t.daemon for t in threading.enumerate())


def end(code: object) -> NoReturn:
    """Exit with ``code`` (as ``sys.exit`` would take it) after the exit handlers, without the teardown."""
    if waits_for_threads():
        sys.exit(code)  # the interpreter's own exit joins them first
    status = exit_code(code)
    atexit._run_exitfuncs()  # what the interpreter runs before its teardown: loggers flushed, children ended
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (mlops ... | head): nothing to say
            stream.flush()
    os._exit(status)
