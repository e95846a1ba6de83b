"""The warm starter forks real step processes: exit codes, signals, logs, environment, sessions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workflows.local.warm_start import StarterGone, WarmStarter, is_step

HELPER = [sys.executable, "-m", "tests.local.warm_helper"]


@pytest.fixture
def starter(tmp_path):
    started = WarmStarter(tmp_path / "warm-start.log")
    yield started
    started.close()


def start(starter: WarmStarter, tmp_path: Path, *args: str, name: str = "step") -> tuple:
    log = tmp_path / f"{name}.log"
    env = {**os.environ, "HELPER_VALUE": "from-the-executor"}
    return starter.start([*HELPER, *args], env, str(tmp_path), log), log


def test_exit_codes_logs_environment_and_folder(starter, tmp_path):
    ok, log = start(starter, tmp_path, "exit", "0", name="ok")
    bad, bad_log = start(starter, tmp_path, "exit", "65", name="bad")
    crashed, crash_log = start(starter, tmp_path, "raise", name="crash")
    assert (ok.wait(30), bad.wait(30), crashed.wait(30)) == (0, 65, 1)
    text = log.read_text()
    assert f"out: cwd={tmp_path} env=from-the-executor session=True" in text
    assert "err: to stderr" in text
    assert "RuntimeError: boom" in crash_log.read_text()
    assert len({ok.pid, bad.pid, crashed.pid, starter.process.pid, os.getpid()}) == 5


def test_a_step_has_its_own_temporary_folder_and_may_keep_stdout_apart(starter, tmp_path):
    """The starter's libraries asked ``tempfile`` for a folder on import; the step asks again, under its TMPDIR."""
    assert starter.ready.wait(300)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    log, stdout = tmp_path / "step.log", tmp_path / "step.out"
    env = {**os.environ, "TMPDIR": str(scratch)}
    assert starter.start([*HELPER, "tempdir"], env, str(tmp_path), log, stdout=stdout).wait(30) == 0
    assert f"tempdir={scratch}" in stdout.read_text()
    assert log.read_text() == "err: to stderr\n"


def test_a_request_may_wait_for_the_libraries_it_needs(tmp_path):
    """``after``: forked once the starter has imported its preloads up to that one, not before."""
    fresh = WarmStarter(tmp_path / "warm-start.log")
    try:
        out = tmp_path / "child.out"
        child = fresh.start([*HELPER, "imported", "numpy", "pandas"], dict(os.environ), str(tmp_path),
                            tmp_path / "child.log", stdout=out, after="pandas")  # fmt: skip
        assert child.wait(120) == 0
        assert out.read_text().splitlines()[-1] == "numpy=True pandas=True"
    finally:
        fresh.close()


def test_a_hold_pauses_the_imports_until_the_next_step(tmp_path):
    """The parameter check's ``hold``: the starter imports up to that library, then nothing while the
    check runs, so the first step is not kept waiting by SciPy's or PyTorch's import."""
    fresh = WarmStarter(tmp_path / "warm-start.log")
    try:
        env, where = dict(os.environ), str(tmp_path)
        check = fresh.start([*HELPER, "sleep", "60"], env, where, tmp_path / "check.log", after="pandas",
                            hold="boto3")  # fmt: skip
        time.sleep(3)  # unpaused, the starter would be well past joblib (0.02 s after boto3) by now
        out = tmp_path / "first.out"
        first = fresh.start([*HELPER, "imported", "boto3", "joblib", "torch"], env, where,
                            tmp_path / "first.log", stdout=out, after="boto3")  # fmt: skip
        assert first.wait(120) == 0
        assert out.read_text().splitlines()[-1] == "boto3=True joblib=False torch=False"
        os.kill(check.pid, signal.SIGKILL)
        assert check.wait(30) == -signal.SIGKILL
        assert fresh.ready.wait(300)  # the first step ended the pause
    finally:
        fresh.close()


def test_the_parameter_checks_libraries_are_preloaded_in_the_order_it_names_them():
    """A name not in ``PRELOAD`` would make the check wait for every import, or pause the starter at once."""
    from workflows.local.parameter_check import FIRST_STEP_NEEDS, STEP_MODULES_NEED
    from workflows.local.warm_start import PRELOAD

    assert PRELOAD.index(STEP_MODULES_NEED) < PRELOAD.index(FIRST_STEP_NEEDS) < PRELOAD.index("torch")


def test_a_hold_ends_soon_after_its_child_when_no_step_comes(tmp_path):
    fresh = WarmStarter(tmp_path / "warm-start.log")
    try:
        check = fresh.start([*HELPER, "exit", "0"], dict(os.environ), str(tmp_path), tmp_path / "check.log",
                            after="pandas", hold="boto3")  # fmt: skip
        assert check.wait(120) == 0
        assert fresh.ready.wait(300)  # every library imported after all, with no request after the check
    finally:
        fresh.close()


def test_every_preload_imports_and_names_what_is_there():
    """The starter ignores a preload that fails (the step's own import reports it): a misspelt one would
    be silently lost, so each is imported here, its function called, in a fresh interpreter. None may
    import a module the starter's children run as __main__: runpy would warn in that child's log."""
    run_as_main = [
        "workflows.local.cost_tracking", "workflows.local.parameter_check", "steps.ingest",
        "steps.validate_data", "steps.features", "steps.train", "steps.evaluate", "steps.register",
        "steps.promote", "steps.deploy", "steps.notify", "steps.drift",
    ]  # fmt: skip
    script = (
        "import sys\n"
        "from workflows.local.warm_start import PRELOAD, preload\n"
        "for entry in PRELOAD:\n"
        "    preload(entry)\n"
        "print(len(PRELOAD))\n"
        f"print([name for name in {run_as_main!r} if name in sys.modules])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    count, imported = done.stdout.splitlines()[-2:]
    assert int(count) > 0
    assert imported == "[]"


def test_a_step_finds_mlflows_distribution_map_built(starter, tmp_path):
    """Built once in the starter, not in each step that logs or loads a model (0.8 s each)."""
    assert starter.ready.wait(300)
    out = tmp_path / "step.out"
    assert starter.start([*HELPER, "distributions"], dict(os.environ), str(tmp_path), tmp_path / "step.log",
                         stdout=out).wait(30) == 0  # fmt: skip
    assert out.read_text().splitlines()[-1] == "mapped=True"


def test_a_step_finds_mlflows_schema_head_known_and_right(starter, tmp_path):
    """Found once in the starter (alembic loads MLflow's 68 migration scripts), not in each store opened;
    so is MLflow's registry of model-registry stores (installed entry points read)."""
    assert starter.ready.wait(300)
    out = tmp_path / "step.out"
    assert starter.start([*HELPER, "schema-head"], dict(os.environ), str(tmp_path), tmp_path / "step.log",
                         stdout=out).wait(60) == 0  # fmt: skip
    assert out.read_text().splitlines()[-2:] == ["remembered=1 same=True", "store_registry=True"]


def test_signals_reach_the_step_and_its_group(starter, tmp_path):
    killed, _ = start(starter, tmp_path, "sleep", "60", name="killed")
    terminated, _ = start(starter, tmp_path, "sleep", "60", name="terminated")
    time.sleep(0.5)
    assert os.getsid(killed.pid) == killed.pid  # its own session, as Popen(start_new_session=True)
    os.killpg(killed.pid, signal.SIGKILL)
    os.kill(terminated.pid, signal.SIGTERM)
    assert killed.wait(30) == -signal.SIGKILL
    assert terminated.wait(30) == -signal.SIGTERM


def test_wait_times_out_like_popen(starter, tmp_path):
    sleeper, _ = start(starter, tmp_path, "sleep", "60")
    with pytest.raises(subprocess.TimeoutExpired):
        sleeper.wait(0.2)
    os.killpg(sleeper.pid, signal.SIGKILL)
    assert sleeper.wait(30) == -signal.SIGKILL


def test_a_dead_starter_is_reported_not_hung(starter, tmp_path):
    sleeper, _ = start(starter, tmp_path, "sleep", "60")
    starter.process.kill()
    with pytest.raises(StarterGone):
        sleeper.wait(30)
    os.killpg(sleeper.pid, signal.SIGKILL)
    with pytest.raises(OSError):
        start(starter, tmp_path, "exit", "0", name="late")


def test_only_project_steps_are_forked():
    assert is_step(["/venv/bin/python", "-m", "steps.train", "--epochs", "3"])
    assert not is_step(["python", "-c", "pass"])
    assert not is_step(["python", "-m", "http.server"])
    assert not is_step(["bash", "-m", "steps.train"])


def replies(stdout, wanted: int, deadline: float = 60.0) -> list[dict]:
    """The starter's next ``wanted`` messages other than ``ready``, or as many as came by the deadline."""
    import json
    import selectors

    found, selector = [], selectors.DefaultSelector()
    selector.register(stdout, selectors.EVENT_READ)
    ends = time.monotonic() + deadline
    while len(found) < wanted and selector.select(max(0.0, ends - time.monotonic())):
        message = json.loads(stdout.readline())
        if "ready" not in message:
            found.append(message)
    return found


def test_requests_that_arrive_in_one_read_are_all_answered(tmp_path):
    """Two steps started at once can reach the starter in one read: both are forked, both reported."""
    import json

    starter = subprocess.Popen(
        [sys.executable, "-m", "workflows.local.warm_start"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    requests = [
        {"id": n, "module": HELPER[2], "argv": ["exit", str(n)], "env": dict(os.environ), "cwd": str(tmp_path),
         "log": str(tmp_path / f"{n}.log")}
        for n in (1, 2)
    ]  # fmt: skip
    starter.stdin.write(b"".join(json.dumps(r).encode() + b"\n" for r in requests))  # one write, one read
    starter.stdin.flush()
    got = replies(starter.stdout, 4)
    starter.stdin.close()
    assert starter.wait(30) == 0  # at the executor's end, it exits (no teardown)
    pids = {m["id"]: m["pid"] for m in got if "id" in m}
    codes = {m["pid"]: m["code"] for m in got if "code" in m}
    assert {n: codes.get(pid) for n, pid in pids.items()} == {1: 1, 2: 2}


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads where the starter's stderr points")
def test_a_starter_begun_before_its_run_moves_its_log_into_the_run(tmp_path):
    started = WarmStarter(None)  # mlops run starts it before the run's folder exists
    try:
        kept = tmp_path / "run" / "logs" / "warm-start.log"
        started.keep_log(kept)
        step, _ = start(started, tmp_path, "exit", "0")  # requests are handled in order: the move is done
        assert step.wait(30) == 0
        assert os.readlink(f"/proc/{started.process.pid}/fd/2") == str(kept)
        started.keep_log(tmp_path / "other.log")  # a child run sharing the starter keeps the first run's log
        assert started.log == kept
    finally:
        started.close()
    assert started.process.returncode is not None


class CountingStarter:
    """Stands in for the starter process in the command's own logic: what it was told."""

    begun: list[CountingStarter] = []

    def __init__(self, log) -> None:
        self.closed = 0
        CountingStarter.begun.append(self)

    def close(self) -> None:
        self.closed += 1


@pytest.mark.parametrize(("warm", "passed"), [("true", True), ("false", False)])
def test_mlops_run_begins_the_starter_before_its_settings_and_ends_it_if_they_turn_it_off(
    monkeypatch, warm, passed
):
    from workflows.cli import runs

    handed: list = []
    CountingStarter.begun.clear()
    monkeypatch.setattr("workflows.local.warm_start.WarmStarter", CountingStarter)
    monkeypatch.setattr(runs, "run_with", lambda starter, *_: handed.append(starter) or (None, 0))
    monkeypatch.setenv("MLOPS_LOCAL_WARM_START", warm)
    runs.run_locally("training", {}, 1, None)
    (begun,) = CountingStarter.begun
    assert handed == [begun if passed else None]
    assert begun.closed == 1  # at the end of the run, or at once when warm starts are off


def test_a_bad_setting_ends_the_starter_begun_before_it(monkeypatch):
    from steps.errors import StepError
    from workflows.cli import runs

    CountingStarter.begun.clear()
    monkeypatch.setattr("workflows.local.warm_start.WarmStarter", CountingStarter)
    monkeypatch.setenv("MLOPS_LOCAL_WARM_START", "maybe")
    with pytest.raises((StepError, ValueError)):
        runs.run_locally("training", {}, 1, None)
    assert [s.closed for s in CountingStarter.begun] == [1]
