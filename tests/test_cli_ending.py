"""An mlops command's process ends with its code, its exit handlers run and its output flushed, without
the interpreter's teardown; a thread still running is waited for, as the interpreter would."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT
from workflows.cli.ending import exit_code


def ended(body: str) -> subprocess.CompletedProcess:
    script = "import atexit, sys, threading, time\nfrom workflows.cli.ending import end\n" + body
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(("code", "status"), [(None, 0), (0, 0), (3, 3), (65, 65), ("bad", 1)])
def test_the_status_is_the_one_sys_exit_gives(code, status):
    assert exit_code(code) == status


def test_the_code_the_handlers_and_the_unflushed_output_all_reach_the_caller():
    done = ended(
        "atexit.register(lambda: print('handler ran', file=sys.stderr))\n"
        "sys.stdout.write('no newline yet')\n"
        "end(65)\n"
        "print('never')\n"
    )
    assert (done.returncode, done.stdout, done.stderr) == (65, "no newline yet", "handler ran\n")


def test_a_message_as_the_code_is_printed_and_ends_with_1():
    done = ended("end('settings: no such file')\n")
    assert (done.returncode, done.stderr) == (1, "settings: no such file\n")


def test_a_running_thread_is_waited_for_before_the_process_ends():
    done = ended(
        "import workflows.cli.ending as ending\n"
        "release = threading.Event()\n"
        "def work():\n"
        "    release.wait()\n"
        "    print('thread finished', flush=True)\n"
        "threading.Thread(target=work).start()\n"
        "decide = ending.waits_for_threads\n"
        "def deciding():  # the thread is let go only once end() has seen it running\n"
        "    waiting = decide()\n"
        "    release.set()\n"
        "    return waiting\n"
        "ending.waits_for_threads = deciding\n"
        "end(4)\n"
    )
    assert (done.returncode, done.stdout) == (4, "thread finished\n")


def test_the_installed_mlops_command_is_the_one_that_ends_so():
    from importlib.metadata import entry_points

    (command,) = entry_points(group="console_scripts", name="mlops")
    assert command.value == "workflows.cli.app:main"
