"""The watch ledger's claims: a watcher killed between claiming an object and recording its run does
not keep that object from ever being trained on. Its stale claim is retaken, once, by the next
watcher: at once when the claimer ran on this host and is gone, after ``stale_after`` seconds
without a heartbeat when it ran elsewhere. Time is driven by the test (an injected clock, mtimes);
the race is real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from steps import storage
from tests.conftest import ROOT
from workflows.local.watch import Ledger, poll

T0 = 1_800_000_000.0

KILLED_CLAIMER = """
import os, signal, sys
from pathlib import Path
from workflows.local.watch import Ledger
assert Ledger(Path(sys.argv[1])).claim(sys.argv[2], sys.argv[3])
os.kill(os.getpid(), signal.SIGKILL)  # killed before recording its run
"""

LIVING_CLAIMER = """
import sys
from pathlib import Path
from workflows.local.watch import Ledger
assert Ledger(Path(sys.argv[1])).claim(sys.argv[2], sys.argv[3])
print("claimed", flush=True)
sys.stdin.read()  # alive until the test closes stdin; then it exits, its run never recorded
"""

RACER = """
import json, os, sys
from pathlib import Path
from workflows.local.watch import Ledger, poll
landing, folder, runs = sys.argv[1:4]

def start_run(uri):
    with open(runs, "a") as out:
        out.write(f"{os.getpid()}\\n")
    return f"run-{os.getpid()}", "Succeeded"

print("ready", flush=True)
sys.stdin.readline()
said = []
poll(landing, Ledger(Path(folder)), start_run, [], said.append)
print(json.dumps(said), flush=True)
"""


@pytest.fixture
def landing(tmp_path) -> Path:
    """A folder with one data file, settled (not written for an hour)."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    data = folder / "2026-11-22.parquet"
    data.write_bytes(b"PAR1")
    os.utime(data, (time.time() - 3600,) * 2)
    return folder


def the_object(landing: Path) -> tuple[str, str]:
    [found] = storage.list_versions(str(landing))
    return found


def python(code: str, *args: object, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], cwd=ROOT, text=True, **popen)


def killed_claim(folder: Path, landing: Path) -> int:
    """Claim the landing's object from a process that is then killed; its pid (reaped: gone)."""
    claimer = python(KILLED_CLAIMER, folder, *the_object(landing))
    assert claimer.wait(timeout=120) == -signal.SIGKILL
    return claimer.pid


def claim_file(folder: Path) -> Path:
    [path] = folder.glob("*.json")
    return path


def rewrite(path: Path, mtime: float, **fields) -> None:
    """Change a claim as another host (or an older version) would have left it, keeping its mtime."""
    entry = json.loads(path.read_text()) | fields
    path.write_text(json.dumps(entry))
    os.utime(path, (mtime, mtime))


class Runs:
    def __init__(self) -> None:
        self.started: list[str] = []

    def __call__(self, uri: str) -> tuple[str, str]:
        self.started.append(uri)
        return f"run-{len(self.started)}", "Succeeded"


def test_a_claim_left_by_a_killed_watcher_is_retaken_and_trained_on_once(tmp_path, landing):
    folder = tmp_path / "ledger"
    pid = killed_claim(folder, landing)
    assert json.loads(claim_file(folder).read_text())["state"] == "claimed"  # left behind, no run recorded

    runs, said = Runs(), []
    assert poll(str(landing), Ledger(folder), runs, [], said.append) == ["run-1"]
    uri, _ = the_object(landing)
    assert runs.started == [uri]
    assert said[0] == f"retaking {uri}: its claimer (pid {pid} on this host) is gone and recorded no run"
    [entry] = Ledger(folder).entries()
    assert (entry["state"], entry["run"], entry["generation"], entry["pid"]) == (
        "done",
        "run-1",
        1,
        os.getpid(),
    )
    assert entry["retaken"]["pid"] == pid

    assert poll(str(landing), Ledger(folder), runs, [], said.append) == []  # its run is recorded: done
    assert runs.started == [uri]


def test_a_living_claimer_keeps_its_claim_however_old_and_loses_it_when_gone(tmp_path, landing):
    folder = tmp_path / "ledger"
    claimer = python(
        LIVING_CLAIMER, folder, *the_object(landing), stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert claimer.stdout.readline() == "claimed\n"
        os.utime(claim_file(folder), (T0 - 86400,) * 2)  # a day without a heartbeat: this host knows better
        runs = Runs()
        assert poll(str(landing), Ledger(folder, clock=lambda: T0), runs, [], lambda line: None) == []
    finally:
        claimer.stdin.close()  # the claimer exits without recording a run
        assert claimer.wait(timeout=120) == 0
    assert poll(str(landing), Ledger(folder, clock=lambda: T0), runs, [], lambda line: None) == ["run-1"]


def test_a_reused_pid_does_not_keep_a_claim_alive(tmp_path, landing):
    folder = tmp_path / "ledger"
    Ledger(folder).claim(*the_object(landing))
    path = claim_file(folder)
    rewrite(path, time.time(), pid=os.getpid(), started="1")  # this pid now names a process started later
    runs, said = Runs(), []
    assert poll(str(landing), Ledger(folder), runs, [], said.append) == ["run-1"]
    assert said[0].endswith(f"its claimer (pid {os.getpid()} on this host) is gone and recorded no run")


def test_a_claim_from_another_host_is_retaken_when_its_heartbeat_stops(tmp_path, landing):
    folder, now = tmp_path / "ledger", [T0]
    ledger = Ledger(folder, stale_after=300, clock=lambda: now[0])
    assert ledger.claim(*the_object(landing))
    rewrite(claim_file(folder), T0, host="build-7", boot="another-boot", pid=4242)
    runs, said = Runs(), []

    now[0] = T0 + 300  # as old as the timeout: not yet
    assert poll(str(landing), ledger, runs, [], said.append) == []
    ledger.beat(claim_file(folder))  # its claimer is heard of again (as build-7 would refresh it)
    now[0] += 299
    assert poll(str(landing), ledger, runs, [], said.append) == []
    now[0] += 2
    assert poll(str(landing), ledger, runs, [], said.append) == ["run-1"]
    uri, _ = the_object(landing)
    assert (
        said[-3]
        == f"retaking {uri}: its claimer (pid 4242 on build-7) recorded no run and was last heard of 301 s ago"
    )
    [entry] = ledger.entries()
    assert entry["retaken"] == {"pid": 4242, "host": "build-7", "at": T0, "why": said[-3].split(": ", 1)[1]}


def test_an_unreadable_claim_is_retaken_after_the_timeout(tmp_path, landing):
    folder, now = tmp_path / "ledger", [T0]
    ledger = Ledger(folder, stale_after=300, clock=lambda: now[0])
    ledger.claim(*the_object(landing))
    path = claim_file(folder)
    path.write_text("")  # cut short, as an older watcher's claim could be
    os.utime(path, (T0, T0))
    runs, said = Runs(), []
    assert poll(str(landing), ledger, runs, [], said.append) == []
    assert ledger.entries() == []  # unreadable: not listed, not an error
    now[0] += 301
    assert poll(str(landing), ledger, runs, [], said.append) == ["run-1"]
    assert said[0].endswith(": an unreadable claim, untouched for 301 s")


def test_the_claimer_refreshes_its_claim_while_its_run_goes_on(tmp_path, landing):
    folder, now = tmp_path / "ledger", [T0]
    ledger = Ledger(folder, stale_after=0.04, clock=lambda: now[0])  # a heartbeat every 10 ms
    beaten, real_beat = threading.Event(), ledger.beat

    def beat(path: Path) -> None:
        real_beat(path)
        beaten.set()

    ledger.beat = beat
    seen = []

    def start_run(uri: str) -> tuple[str, str]:
        now[0] = T0 + 1000
        beaten.clear()
        assert beaten.wait(timeout=60)
        seen.append(claim_file(folder).stat().st_mtime)
        return "run-1", "Succeeded"

    assert poll(str(landing), ledger, start_run, [], lambda line: None) == ["run-1"]
    assert seen == [T0 + 1000]  # a watcher elsewhere would find it fresh


def test_watchers_racing_for_one_stale_claim_retake_it_once(tmp_path, landing):
    folder, runs = tmp_path / "ledger", tmp_path / "runs.txt"
    killed_claim(folder, landing)
    racers = [
        python(RACER, landing, folder, runs, stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(8)
    ]
    try:
        assert [racer.stdout.readline() for racer in racers] == ["ready\n"] * 8
        for racer in racers:  # all at once, as near as processes allow
            racer.stdin.write("go\n")
            racer.stdin.flush()
        said = [json.loads(racer.communicate(timeout=120)[0]) for racer in racers]
    finally:
        for racer in racers:
            if racer.poll() is None:
                racer.kill()
                racer.wait()
    assert [racer.returncode for racer in racers] == [0] * 8
    [winner] = runs.read_text().splitlines()
    retakers = [lines for lines in said if lines and lines[0].startswith("retaking ")]
    assert len(retakers) == 1 and sum(bool(lines) for lines in said) == 1, said
    [entry] = Ledger(folder).entries()
    assert (entry["state"], entry["run"], entry["generation"]) == ("done", f"run-{winner}", 1)
