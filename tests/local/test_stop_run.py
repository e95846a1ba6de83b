"""Stopping `mlops run`: Ctrl-C or SIGTERM is `argo stop`, a second signal is `argo terminate`.

Each test runs the real CLI on a small manifest whose step waits for a signal and leaves a `sleep`
child behind; it waits for events (the step's log line, the CLI's "stopping" line), never for time.
"No process outlives the run" is checked by pid for the step and its child, and for every process
that carries the run's environment marker (its steps are containers, so no warm starter is started:
tests/e2e/test_stop_training.py stops one).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.local.test_local_executor import workflow
from workflows.local import stop as local_stop
from workflows.local.executor import LocalRun

# The step: leaves a child running, answers SIGTERM by exiting 75 ("term") or not at all ("stubborn"),
# and passes at once when the test has written `let-it-pass` (for the resumed run).
STEP = """
import os, pathlib, signal, subprocess, sys
state, mode = pathlib.Path(sys.argv[1]), sys.argv[2]
if (state / "let-it-pass").exists():
    sys.exit(0)
def on_term(*_):
    (state / "got-sigterm").write_text("yes")
    if mode == "term":
        os._exit(75)
signal.signal(signal.SIGTERM, on_term)  # before child.pid: the tests stop the step once that file exists
child = subprocess.Popen(["sleep", "600"])
(state / "child.pid").write_text(str(child.pid))
print("ready", flush=True)
while True:
    signal.pause()
"""
RECORD_STATUS = "import pathlib, sys; pathlib.Path(sys.argv[1], 'exit-status').write_text(sys.argv[2])"


def manifest(path: Path) -> Path:
    def container(code: str, *args: str) -> dict:
        return {"image": "python:3.11", "command": ["python", "-c", code], "args": list(args)}

    state = "{{workflow.parameters.state}}"
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "stoppable-"},
        "spec": {
            "entrypoint": "main",
            "onExit": "record",
            "arguments": {"parameters": [{"name": "state"}, {"name": "mode", "value": "term"}]},
            "templates": [
                {"name": "main", "dag": {"tasks": [
                    {"name": "hang", "template": "hang"},
                    {"name": "after", "template": "quick", "depends": "hang"},
                ]}},
                {"name": "hang", "container": container(STEP, state, "{{workflow.parameters.mode}}"),
                 "retryStrategy": {"limit": 2, "retryPolicy": "Always"}},
                {"name": "quick", "container": container("pass")},
                {"name": "record", "container": container(RECORD_STATUS, state, "{{workflow.status}}")},
            ],
        },
    }  # fmt: skip
    path.write_text(yaml.safe_dump(doc))
    return path


def marked(mark: str) -> dict[int, str]:
    """Live (not zombie) processes carrying the run's environment marker: pid -> command line."""
    found = {}
    needle = f"MLOPS_TEST_RUN_MARK={mark}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state not in ("Z", "X"):
            found[int(entry.name)] = command
    return found


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def starters_of(mark: str, cli_pid: int) -> list[int]:
    """Warm starters: the CLI's children running workflows.local.warm_start (steps it forks share its command line)."""
    return [
        pid
        for pid, command in marked(mark).items()
        if "workflows.local.warm_start" in command and parent_of(pid) == cli_pid
    ]


def starter_of(mark: str, cli_pid: int) -> int:
    [pid] = starters_of(mark, cli_pid)
    return pid


def end_all(mark: str) -> None:
    """After a failed test: kill whatever of the run is left, so that it burdens no other test."""
    for pid in marked(mark):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def gone(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" in status.read_text()
    except OSError:
        return True


def wait_until_gone(mark: str, seconds: float = 60) -> dict[int, str]:
    """Wait for the marked processes to end (a SIGKILLed process needs a moment to be scheduled and die)."""
    deadline = time.monotonic() + seconds
    while (left := marked(mark)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.fixture
def cleanup():
    marks: list[str] = []
    yield marks
    for mark in marks:
        end_all(mark)


class Output:
    """A process's output, read as it comes by a thread: wait for a line without blocking forever."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process, self.text, self.ended = process, "", False
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self.changed:
                self.text += line
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def wait_for(self, text: str, seconds: float = 120) -> str:
        with self.changed:
            if (
                not self.changed.wait_for(lambda: text in self.text or self.ended, seconds)
                or text not in self.text
            ):
                raise AssertionError(f"no {text!r} in the output:\n{self.text}")
            return self.text

    def all(self, seconds: float = 120) -> str:
        """Everything, once the process has exited; raises TimeoutExpired if it does not."""
        self.process.wait(seconds)
        with self.changed:
            self.changed.wait_for(lambda: self.ended, seconds)
            return self.text


class Cli:
    """`mlops run MANIFEST` as a real process, in its own process group, as a shell starts a job."""

    def __init__(self, tmp_path: Path, mode: str) -> None:
        self.tmp_path, self.mark = tmp_path, uuid.uuid4().hex
        self.state = tmp_path / "state"
        self.state.mkdir()
        self.path = manifest(tmp_path / "stoppable.yaml")
        self.runs = tmp_path / ".mlops" / "runs"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_") and k != "COLUMNS"}
        self.env = env | {"MLOPS_STORAGE_ROOT": str(tmp_path / ".mlops"), "MLOPS_TEST_RUN_MARK": self.mark}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "workflows.cli", "run", str(self.path),
             "-p", f"state={self.state}", "-p", f"mode={mode}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env, cwd=ROOT,
            start_new_session=True,
        )  # fmt: skip
        self.output = Output(self.process)

    def record(self) -> dict:
        [path] = self.runs.glob("*/run.json")
        return json.loads(path.read_text())

    def wait_for_the_step(self, seconds: float = 120) -> dict:
        """The hang step's running attempt, once its log says it is ready for signals."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.process.poll() is None:
            for path in self.runs.glob("*/run.json"):
                attempts = json.loads(path.read_text())["nodes"]["hang"]["attempts"]
                if attempts and attempts[-1].get("pid") and attempts[-1].get("log"):
                    log = Path(attempts[-1]["log"])
                    if log.exists() and "ready" in log.read_text():
                        return attempts[-1]
            time.sleep(0.05)
        raise AssertionError(f"the step never got ready:\n{self.output.text}")

    def assert_no_starter(self) -> None:
        assert starters_of(self.mark, self.process.pid) == []  # no step of ours to fork: PyTorch not imported

    def ctrl_c(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)  # what the terminal does to the foreground job

    def resume(self, name: str) -> subprocess.CompletedProcess:
        (self.state / "let-it-pass").write_text("yes")
        return subprocess.run(
            [sys.executable, "-m", "workflows.cli", "run", str(self.path), "--resume", name],
            capture_output=True, text=True, env=self.env, cwd=ROOT, timeout=300, check=False,
        )  # fmt: skip


def assert_nothing_outlives(cli: Cli, pids: list[int]) -> None:
    assert wait_until_gone(cli.mark) == {}
    assert [pid for pid in pids if not gone(pid)] == []


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_a_first_signal_stops_the_run_as_argo_stop_and_it_resumes(tmp_path, how, cleanup):
    cli = Cli(tmp_path, "term")
    cleanup.append(cli.mark)
    attempt = cli.wait_for_the_step()
    child = int((cli.state / "child.pid").read_text())
    cli.assert_no_starter()
    if how == "ctrl-c":
        cli.ctrl_c()
    else:
        os.kill(cli.process.pid, signal.SIGTERM)  # `kill -TERM` of mlops alone
    output = cli.output.all()

    expected = {"ctrl-c": 128 + signal.SIGINT, "sigterm": 128 + signal.SIGTERM}[how]
    assert cli.process.returncode == expected, output
    assert "stopping" in output and "sent SIGTERM to hang" in output
    run = cli.record()
    assert (run["phase"], run["message"]) == ("Failed", local_stop.STOP_MESSAGE)
    hang, after = run["nodes"]["hang"], run["nodes"]["after"]
    assert (hang["phase"], hang["message"]) == ("Failed", local_stop.NODE_STOPPED)
    assert [a["exit_code"] for a in hang["attempts"]] == [75]  # stopped: not retried
    assert (after["phase"], after["message"]) == ("Omitted", local_stop.OMITTED)
    assert run["exit_handler"]["phase"] == "Succeeded"
    assert (cli.state / "exit-status").read_text() == "Failed"
    assert f"--resume {run['name']}" in output
    assert "stopped by user" in output
    assert_nothing_outlives(cli, [attempt["pid"], child])

    resumed = cli.resume(run["name"])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    run = cli.record()
    assert run["phase"] == "Succeeded" and run["nodes"]["after"]["phase"] == "Succeeded"
    assert [a["exit_code"] for a in run["nodes"]["hang"]["attempts"]] == [0]


def test_a_second_ctrl_c_kills_at_once_and_the_run_still_resumes(tmp_path, cleanup):
    cli = Cli(tmp_path, "stubborn")
    cleanup.append(cli.mark)
    attempt = cli.wait_for_the_step()
    child = int((cli.state / "child.pid").read_text())
    cli.assert_no_starter()
    cli.ctrl_c()
    cli.output.wait_for("stopping")
    deadline = time.monotonic() + 60
    while not (cli.state / "got-sigterm").exists():  # the step got its SIGTERM and goes on regardless
        assert cli.process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    cli.ctrl_c()
    output = cli.output.all(60)

    assert cli.process.returncode == 128 + signal.SIGINT, output
    assert "killing" in output
    run = cli.record()
    assert (run["phase"], run["message"]) == ("Failed", local_stop.TERMINATE_MESSAGE)
    assert (run["nodes"]["hang"]["phase"], run["nodes"]["hang"]["message"]) == (
        "Failed",
        local_stop.NODE_TERMINATED,
    )
    assert run["nodes"]["after"]["phase"] == "Omitted"
    assert not (cli.state / "exit-status").exists()  # terminate runs no exit handler
    assert_nothing_outlives(cli, [attempt["pid"], child])

    resumed = cli.resume(run["name"])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert cli.record()["phase"] == "Succeeded"
    assert (cli.state / "exit-status").read_text() == "Succeeded"


def test_a_step_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path, monkeypatch, cleanup):
    monkeypatch.setattr(local_stop, "GRACE_SECONDS", 0.5)
    cleanup.append(uuid.uuid4().hex)
    monkeypatch.setenv("MLOPS_TEST_RUN_MARK", cleanup[-1])
    (tmp_path / "state").mkdir()
    doc = yaml.safe_load(manifest(tmp_path / "m.yaml").read_text())
    run = LocalRun(
        doc, {"state": str(tmp_path / "state"), "mode": "stubborn"}, str(tmp_path / "runs"),
        locks_dir=str(tmp_path / "locks"),
    )  # fmt: skip
    worker = threading.Thread(target=run.run, daemon=True)
    worker.start()
    try:
        log = Path(run.run_dir) / "logs" / "hang.attempt-1.log"
        deadline = time.monotonic() + 120
        while not (log.exists() and "ready" in log.read_text() and "hang" in run.processes):
            assert worker.is_alive() and time.monotonic() < deadline
            time.sleep(0.05)
        child = int((tmp_path / "state" / "child.pid").read_text())
        assert local_stop.request_stop(run) == ["hang"]
        worker.join(60)
        assert not worker.is_alive()
    finally:  # whatever failed: no retry, no step left behind
        run.stopping.set()
        for process in list(run.processes.values()):
            local_stop.kill_process(process)
        worker.join(60)
    hang = run.record.nodes["hang"]
    assert (hang.phase, hang.attempts[-1].exit_code) == ("Failed", 128 + signal.SIGKILL)
    assert (tmp_path / "state" / "got-sigterm").exists()  # SIGTERM first, SIGKILL after the grace
    assert (run.record.phase, run.record.exit_handler.phase) == ("Failed", "Succeeded")
    deadline = time.monotonic() + 30
    while not gone(child) and time.monotonic() < deadline:  # SIGKILLed with the step's group
        time.sleep(0.05)
    assert gone(child)


def test_a_stop_reaches_the_steps_of_a_child_run(tmp_path, monkeypatch, cleanup):
    """A resource task's child Workflow runs in this process: stopping the parent stops it too."""
    cleanup.append(uuid.uuid4().hex)
    monkeypatch.setenv("MLOPS_TEST_RUN_MARK", cleanup[-1])
    (tmp_path / "state").mkdir()
    child = yaml.safe_load(manifest(tmp_path / "child.yaml").read_text())
    child["kind"], child["metadata"] = "WorkflowTemplate", {"name": "child"}
    child["spec"]["arguments"]["parameters"][0]["value"] = str(tmp_path / "state")
    create = "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: child-}\nspec:\n  workflowTemplateRef: {name: child}\n"
    start = {"name": "start", "resource": {"action": "create", "manifest": create,
             "successCondition": "status.phase == Succeeded", "failureCondition": "status.phase in (Failed, Error)"}}  # fmt: skip
    parent = workflow([{"name": "start", "template": "start"}], [start])
    run = LocalRun(
        parent,
        {},
        str(tmp_path / "runs"),
        locks_dir=str(tmp_path / "locks"),
        load_template={"child": child}.get,
    )
    worker = threading.Thread(target=run.run, daemon=True)
    worker.start()
    try:
        deadline = time.monotonic() + 120
        while not (
            run.child_runs
            and "hang" in run.child_runs[0].processes
            and (tmp_path / "state" / "child.pid").exists()
        ):
            assert worker.is_alive() and time.monotonic() < deadline
            time.sleep(0.05)
        step = run.child_runs[0].processes["hang"].pid
        assert local_stop.request_stop(run) == [f"{run.child_runs[0].record.name}/hang"]
        worker.join(120)
        assert not worker.is_alive()
    finally:
        for each in (run, *run.child_runs):
            each.stopping.set()
            for process in list(each.processes.values()):
                local_stop.kill_process(process)
        worker.join(60)
    child_record = run.child_runs[0].record
    assert (child_record.phase, child_record.message) == ("Failed", local_stop.STOP_MESSAGE)
    assert child_record.nodes["hang"].attempts[-1].exit_code == 75
    assert child_record.exit_handler.phase == "Succeeded"
    assert (run.record.phase, run.record.nodes["start"].message) == ("Failed", local_stop.NODE_STOPPED)
    assert wait_until_gone(cleanup[-1]) == {} and gone(step)
