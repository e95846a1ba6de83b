"""Test support: SIGTERM this process when a chosen function is first entered (or its Nth time).

Put this folder first on PYTHONPATH and set ``SIGTERM_AT=path/suffix.py:function[:N]``: Python
imports ``sitecustomize`` at start-up, and a profile hook on the main thread sends the signal to
the process the moment that function is called, so a preemption lands at a chosen line of a
step, not at a random time. ``<module>`` as the function means "while that module is imported".
``SIGTERM_SIGNAL=SIGKILL`` sends that signal instead: a pod lost with no chance to clean up.
"""

import os
import signal
import sys


def _arm(spec: str) -> None:
    suffix, function, *nth = spec.split(":")
    remaining = [int(nth[0]) if nth else 1]

    def hook(frame, event, arg):
        if event != "call" or frame.f_code.co_name != function:
            return
        if not frame.f_code.co_filename.endswith(suffix):
            return
        remaining[0] -= 1
        if remaining[0] == 0:
            sys.setprofile(None)
            sent = os.environ.get("SIGTERM_SIGNAL", "SIGTERM")
            os.write(2, f"[sigterm_at] {sent} at {suffix}:{function}\n".encode())
            os.kill(os.getpid(), signal.Signals[sent])

    sys.setprofile(hook)


if os.environ.get("SIGTERM_AT"):
    _arm(os.environ["SIGTERM_AT"])
