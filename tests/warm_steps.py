"""Step processes for the tests, forked warm as ``mlops run`` forks them (workflows.local.warm_start).

A cold ``python -m steps.<name>`` spends seconds of CPU importing pandas, PyTorch and MLflow before
its first line, and the suite starts hundreds of them on two cores. One starter per pytest worker
forks them instead: each is still its own process, with its own environment, folder, exit code,
stdout and stderr; only the libraries are shared. ``run_step(..., cold=True)`` where a test is
about the interpreter's own start.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import signal
import subprocess
import tempfile
from pathlib import Path

from workflows.local.warm_start import WarmStarter

ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def starter() -> WarmStarter:
    """This worker's starter, begun in the project's root (its ``sys.path[0]``, as ``python -m`` there)."""
    with contextlib.chdir(ROOT):
        begun = WarmStarter(None)
    atexit.register(begun.close)
    return begun


def run(command: list[str], env: dict[str, str], cwd: Path, timeout: float) -> tuple[int, str, str] | None:
    """(exit code as subprocess gives it, stdout, stderr) of ``python -m steps.<name> ...`` forked warm;
    None when the starter is gone (the caller runs it cold). Raises TimeoutExpired as subprocess.run."""
    streams = Path(tempfile.mkdtemp(prefix="step-streams-"))
    stdout, stderr = streams / "stdout", streams / "stderr"
    try:
        process = starter().start(command, env, str(cwd), stderr, stdout=stdout)
    except OSError:
        return None
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the step leads its own session, as subprocess.run kills
        process.wait()
        raise
    return code, read(stdout), read(stderr)


def read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
