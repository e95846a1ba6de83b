"""Ending a local run early, as ``argo stop`` and ``argo terminate`` do, and what tasks that never ran become.

``mlops run`` runs the workflow in a thread and keeps the main thread for signals. The first Ctrl-C
(SIGINT) or SIGTERM is ``argo stop``: no new task starts, each running step gets SIGTERM (it exits
75 with its writes whole; train keeps its checkpoint) and, after Kubernetes' default grace period,
SIGKILL; the exit handler still runs; the run ends ``Failed`` with Argo's message for a stopped
workflow, resumable with ``mlops run --resume``. A second signal is ``argo terminate``: every step's
process group, the warm starter and the steps it forked are killed at once, the record is saved
``Failed`` and the process exits. Steps run in their own sessions, so only the executor sees the
terminal's Ctrl-C; a step's group is killed once the step ends, as a pod's containers are.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflows.local.executor import LocalRun
    from workflows.local.record import RunRecord

# Argo's words: the workflow's message once stopped (operator.go), a running pod's node (pod
# reconciliation, with its two spaces), a pod not yet created (createWorkflowPod), a task whose
# depends cannot be met (dag.go).
STOP_MESSAGE = "Stopped with strategy 'Stop' (stopped by user)"
TERMINATE_MESSAGE = "Stopped with strategy 'Terminate' (killed by a second signal)"
NODE_STOPPED = "workflow shutdown with strategy:  Stop"
NODE_NOT_STARTED = "workflow shutdown with strategy: Stop"
NODE_TERMINATED = "workflow shutdown with strategy:  Terminate"
OMITTED = "omitted: depends condition not met"
# Argo creates no node for a task left unstarted when a failFast DAG fails or the deadline passes.
NOT_STARTED_AFTER_FAILURE = "omitted: not started after a failure (failFast)"
NOT_STARTED_AFTER_DEADLINE = "omitted: not started before the workflow's deadline"
GRACE_SECONDS = 30.0  # Kubernetes' default terminationGracePeriodSeconds


def _signal_group(pgid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, number)


def end_group(pid: int) -> None:
    """SIGKILL what is left of a finished step's process group (its session), as a pod's end does."""
    _signal_group(pid, signal.SIGKILL)


def kill_process(process: Any) -> None:
    """SIGKILL a running step and its group (the pid too: a forked step may not have its own group yet)."""
    _signal_group(process.pid, signal.SIGKILL)
    if getattr(process, "returncode", None) is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(process.pid, signal.SIGKILL)


def _terminate(process: Any) -> None:
    """SIGTERM to the step's own process, as the kubelet sends it to a container's main process only:
    its children (git in a deferred push) must not be cut short while the step finishes its write."""
    if getattr(process, "returncode", None) is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(process.pid, signal.SIGTERM)


def started_while_stopping(run: LocalRun, process: Any) -> None:
    """A step that started as the run stopped gets what the running ones got (called under run.lock)."""
    if run.stopped_by_user and not run.in_exit_handler:
        _terminate(process)
    elif run.deadline_hit or run.killed:
        kill_process(process)


def request_stop(run: LocalRun) -> list[str]:
    """``argo stop``: SIGTERM the running steps, start no new task; the exit handler still runs.

    Returns the tasks signalled, with child runs' tasks as ``child/task``. A stop that arrives while
    the exit handler runs lets it finish (Argo's Stop never stops exit-handler pods)."""
    with run.lock:
        if run.in_exit_handler or run.stopped_by_user:
            return []
        run.stopped_by_user = True
        run.stopping.set()
        running = dict(run.processes)
        children = list(run.child_runs)
        for process in running.values():
            _terminate(process)
    if running:
        timer = threading.Timer(GRACE_SECONDS, _after_grace, (list(running.values()),))
        timer.daemon = True
        timer.start()
    names = list(running)
    for child in children:
        names += [f"{child.record.name}/{name}" for name in request_stop(child)]
    return names


def _after_grace(processes: list[Any]) -> None:
    for process in processes:
        if getattr(process, "returncode", None) is None:
            kill_process(process)


def _children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if int(stat.read_text().rpartition(")")[2].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def kill_starter(pid: int) -> None:
    """Kill the warm starter and every step it forked, reported to the executor yet or not: frozen
    first so that it forks no more, then its children (each in its own group, or still in the
    starter's), then its group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGSTOP)
    for child in _children_of(pid):
        _signal_group(child, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child, signal.SIGKILL)
    _signal_group(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def kill_now(run: LocalRun) -> None:
    """``argo terminate``: kill every process of the run and its child runs, and save the record
    ``Failed``. Keeps the run's locks, so nothing starts or saves after: the caller exits next."""
    run.stopping.set()
    run.launch_lock.acquire(timeout=10)  # no step half-started: each one running is in run.processes
    run.killed = True
    for child in list(run.child_runs):
        kill_now(child)
    if run.starter is not None:
        kill_starter(run.starter.process.pid)
    for process in list(run.processes.values()):
        kill_process(process)
    if not run.lock.acquire(timeout=10):
        return
    from workflows.local.record import now_iso

    nodes = [*run.record.nodes.values(), *run.record.hooks.values()]
    nodes += [run.record.exit_handler] if run.record.exit_handler else []
    for node in nodes:
        if node.phase in ("Running", "Pending"):
            was_running = node.phase == "Running"
            node.phase = "Failed" if was_running else "Omitted"
            node.message = NODE_TERMINATED if was_running else "omitted: not started, the run was terminated"
            node.finished_at = now_iso()
    run.record.phase, run.record.message = "Failed", TERMINATE_MESSAGE
    run.record.finished_at = now_iso()
    with contextlib.suppress(
        Exception
    ):  # the run is being killed: a record that cannot be written stays as it was
        run.save()


def settle_unstarted(run: LocalRun, tasks: dict[str, dict], graph: dict[str, set[str]]) -> None:
    """Give the tasks that never ran a phase once the DAG stops scheduling: ``Omitted`` when their
    depends cannot be met, as Argo's DAG does; ``Failed`` as Argo's stopped workflow marks a pod it
    will not create; ``Omitted`` with the reason for those failFast or the deadline left unstarted."""
    from workflows.local.dag import depends_met
    from workflows.local.record import DONE, now_iso

    changed = True
    while changed:
        changed = False
        for name, task in tasks.items():
            node = run.record.nodes[name]
            if node.phase != "Pending" or any(
                run.record.nodes[d].phase not in DONE for d in graph[name] if d in tasks
            ):
                continue
            if not depends_met(run, task, tasks):
                node.phase, node.message = "Omitted", OMITTED
            elif run.stopped_by_user:
                node.phase, node.message = "Failed", NODE_NOT_STARTED
            else:
                node.phase = "Omitted"
                node.message = NOT_STARTED_AFTER_DEADLINE if run.deadline_hit else NOT_STARTED_AFTER_FAILURE
            node.finished_at, changed = now_iso(), True


class SignalStop:
    """Runs a LocalRun in a worker thread while the main thread answers SIGINT and SIGTERM."""

    def __init__(self, run: LocalRun, say: Callable[[str], None], before_exit: Callable[[], None]) -> None:
        self.run, self.say, self.before_exit = run, say, before_exit
        self.signum: int | None = None
        self.killing = False

    def exit_code(self) -> int | None:
        """128 + the signal that stopped the run, as a shell reports a process ended by it; else None
        (a signal while only the exit handler ran stops nothing)."""
        return 128 + self.signum if self.signum is not None and self.run.stopped_by_user else None

    def __call__(self) -> RunRecord:
        if threading.current_thread() is not threading.main_thread():
            return self.run.run()  # signals reach only the main thread: nothing to answer here
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["record"] = self.run.run()
            except BaseException as exc:  # raised again in the main thread, as if run there
                outcome["error"] = exc

        worker = threading.Thread(target=work, name="local-run", daemon=True)
        previous = {number: signal.signal(number, self.handle) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            worker.start()
            worker.join()  # signal handlers run while the main thread waits here
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["record"]

    def handle(self, number: int, frame: object) -> None:
        # The work runs in a thread: a handler can be entered again, between any two bytecodes of itself.
        if self.signum is None:
            self.signum = number
            threading.Thread(target=self.stop, args=(number,), name="stop", daemon=True).start()
        elif not self.killing:
            self.killing = True
            threading.Thread(target=self.kill, args=(number,), name="kill", daemon=True).start()

    def stop(self, number: int) -> None:
        signalled = request_stop(self.run)
        if self.run.in_exit_handler and not signalled:
            what = "the exit handler is running and finishes first"
        elif signalled:
            what = f"sent SIGTERM to {', '.join(signalled)}; the exit handler runs next"
        else:
            what = "no task is running; the exit handler runs next"
        name = signal.Signals(number).name
        self.say(f"{name}: stopping {self.run.record.name}: {what} (Ctrl-C again to kill at once)")

    def kill(self, number: int) -> None:
        self.say(f"{signal.Signals(number).name} again: killing {self.run.record.name} and its steps now")
        kill_now(self.run)
        with contextlib.suppress(Exception):
            self.before_exit()
        os._exit(128 + number)
