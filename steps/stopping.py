"""SIGTERM at any line of a step: exit 75, with what it wrote whole or absent.

A spot reclaim or an eviction sends SIGTERM and, after the grace period, SIGKILL. From the moment
a step process starts until it exits, SIGTERM ends it with the contract's transient code (75, so
the retry strategy runs it again) and one line saying where it stopped:

- while the step's module is still importing its libraries, nothing has been written: the
  process exits at once (``on_sigterm_exit``, installed by ``steps/__init__`` for
  ``python -m steps.<name>`` and by the warm starter in its forked children);
- once ``run_step`` has begun, SIGTERM raises ``Stopped`` at the line it interrupts, so every
  ``finally`` and every atomic write cleans up on the way out (``on_sigterm_raise``);
- inside a ``deferred`` section (registering a version, pushing a commit, logging a model,
  saving a checkpoint) the stop waits until the section is done, so no half-done side effect is
  left for the retry to trip over. A loop may poll ``stop_requested()`` to end a long section early.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

EXIT_TRANSIENT = 75
_STEPS_FOLDER = str(Path(__file__).resolve().parent)


class Stopped(BaseException):
    """SIGTERM ended the step. A BaseException, like KeyboardInterrupt, so that no ``except Exception``
    on the way out can swallow it or turn it into another error."""

    exit_code = EXIT_TRANSIENT


class _State:
    step = "step"
    deferring: list[str] = []  # the open deferred sections, outermost first
    requested_at: str | None = None  # where the signal arrived while deferred


def step_module_of_this_process(argv: list[str]) -> str | None:
    """``steps.train`` when this interpreter was started as ``python [flags] -m steps.train ...``."""
    if "-m" not in argv[1:]:
        return None
    index = argv.index("-m", 1)
    module = argv[index + 1] if index + 1 < len(argv) else ""
    return module if module.startswith("steps.") else None


def _exit_while_starting(signum: int, frame: FrameType | None) -> None:
    os.write(2, f"{_State.step}: error: stopped by SIGTERM while starting; nothing was written\n".encode())
    os._exit(EXIT_TRANSIENT)


def on_sigterm_exit(step: str) -> None:
    """Before any work: SIGTERM exits 75 at once. Unblocks SIGTERM, which a launcher may have
    blocked so that no signal could arrive before this handler was in place."""
    _State.step = step.removeprefix("steps.")
    signal.signal(signal.SIGTERM, _exit_while_starting)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def where(frame: FrameType | None) -> str:
    """The innermost line of step code on the interrupted stack: ``steps/register.py:57 in register``."""
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(_STEPS_FOLDER) and not filename.endswith("stopping.py"):
            return f"steps/{Path(filename).name}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back
    return "outside the step's code"


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    if _State.deferring:
        _State.requested_at = _State.requested_at or where(frame)
        return
    raise Stopped(f"stopped by SIGTERM at {where(frame)}")


def on_sigterm_raise(step: str) -> None:
    """While the step works: SIGTERM raises ``Stopped`` where it lands (or after a deferred section)."""
    _State.step, _State.deferring, _State.requested_at = step, [], None
    signal.signal(signal.SIGTERM, _raise_stopped)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def on_sigterm_ignore() -> None:
    """The process is exiting with its final code: a late SIGTERM changes nothing."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _State.requested_at = None


def stop_requested() -> bool:
    """True once SIGTERM arrived during a deferred section: a long loop may end it early."""
    return _State.requested_at is not None


@contextmanager
def deferred(what: str) -> Iterator[None]:
    """Finish ``what`` before honouring a SIGTERM that arrives meanwhile (then raise ``Stopped``)."""
    _State.deferring.append(what)
    try:
        yield
    except BaseException:
        _State.deferring.pop()
        raise  # the section failed: its own error says more than the stop would
    _State.deferring.pop()
    if not _State.deferring and _State.requested_at is not None:
        arrived, _State.requested_at = _State.requested_at, None
        raise Stopped(f"stopped by SIGTERM at {arrived}, after finishing {what}")


def install_for_main_module() -> None:
    """Called by ``steps/__init__``: when this process *is* a step, guard it from its first import."""
    module = step_module_of_this_process(getattr(sys, "orig_argv", []))
    if module is not None:
        on_sigterm_exit(module)
