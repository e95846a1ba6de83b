"""Warm starts: the local executor's steps forked from a process that has imported their libraries.

A step in a new interpreter spends seconds importing pandas, scikit-learn, PyTorch and MLflow
before its first line of work, and a training run starts nine of them. The starter is one
single-threaded process per run (``python -m workflows.local.warm_start``) that imports those
libraries once, one at a time between requests, and forks each step from itself: the step is
still its own process, in its own session, with its own environment, working folder and log,
started as ``python -m steps.<name>`` would start it (``runpy``), and its exit code or signal is
reported back. Only the libraries are shared, copy-on-write; no step code runs in the starter.

Protocol, one JSON object per line: the executor writes ``{"id", "module", "argv", "env", "cwd",
"log", "stdout", "after", "hold"}`` (``stdout`` null: into the log too; ``after``, optional, the last library
of ``PRELOAD`` the child needs imported before it is forked); the starter answers ``{"id", "pid"}`` once
forked and ``{"pid", "code"}`` when the step ends (``code`` as ``subprocess`` gives it: negative for
a signal), and says ``{"ready": true}`` once its libraries are imported. ``{"starter_log": path}``
moves the starter's own log there (``mlops run`` starts the starter before the run, and its folder,
exist, so its imports overlap the command's own start).
A request waits for the import in progress, never for the rest unless it names them with ``after``.
``hold``, optional, names a later library to import up to before pausing for the next step (``warm_hold``).

The starter never computes numbers (it may read files: MLflow's map of distributions): GNU OpenMP has
no fork handler, so a child of a process that has run a parallel region hangs in its own first
one. It sets how OpenMP threads wait before importing anything (``steps.threads``), and each step
sets its own thread count.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import itertools
import json
import os
import queue
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from steps.threads import prepare_environment
from workflows.local.warm_hold import Hold

if TYPE_CHECKING:
    from workflows.local.executor import LocalRun

# What the steps import, heaviest last so that the first steps (ingest, validate) wait least.
PRELOAD = (
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "pyarrow.dataset",  # pandas.read_parquet's, in every step that reads a split
    "pydantic_settings",
    "boto3",
    "joblib",
    "scipy.stats",
    "sklearn.compose",
    "sklearn.metrics",
    "sklearn.preprocessing",
    "sklearn.impute",  # the preprocessor's imputer: features fits it, train and evaluate unpickle it
    "torch",
    "torch.optim",
    "torch._dynamo",
    "mlflow",
    "mlflow.pyfunc",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    # What opening the sqlite store imports beyond those, in each step that uses MLflow (0.04 s a step)
    "sqlalchemy.dialects.sqlite",
    "alembic.command",
    "mlflow.store.tracking.sqlalchemy_workspace_store",
    "mlflow.store.model_registry.sqlalchemy_workspace_store",
    "mlflow.tracing.processor.otel",
    "mlflow.tracing.export.utils",
    "workflows.local.warm_mlflow:remember_schema_head",  # its migrations' head, read by each store opened
    # MLflow's registry of model-registry stores, made (entry points read) at a process's first client
    "mlflow.tracking._model_registry.utils:_get_store_registry",
    "matplotlib.pyplot",  # evaluate's plots (0.8 s); the backend is chosen at the first figure, in the step
    # ``module:function``, called once imported. MLflow maps modules to installed distributions to check a
    # model's requirements when train logs it and evaluate loads it: 0.8 s in each step, built once here.
    "mlflow.utils.requirements_utils:_init_packages_to_modules_map",
    # What the cost recorder that ``mlops run`` forks at its end imports (not the recorder itself: runpy
    # warns when the module it runs as __main__ was imported before).
    "workflows.argo.ledger",
    "workflows.local.ledger",
)
STEP_MODULE_PREFIX = "steps."


def is_step(command: list[str]) -> bool:
    """``python -m steps.<name> ...``: this project's step contract, safe to fork from the starter."""
    return (
        len(command) >= 3
        and Path(command[0]).name.startswith("python")
        and command[1] == "-m"
        and command[2].startswith(STEP_MODULE_PREFIX)
    )


# ---- the starter process ----------------------------------------------------------------------


def _run_step(request: dict[str, Any]) -> None:
    """In the forked child: become the step's process, run the module as __main__, exit with its code."""
    os.setsid()
    gc.enable()  # for the step's own objects; the starter's stay frozen (serve)
    signal.set_wakeup_fd(-1)
    for number in (signal.SIGCHLD, signal.SIGPIPE):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    appending = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    log = os.open(request["log"], appending, 0o644)
    out = os.open(request["stdout"], appending, 0o644) if request.get("stdout") else log
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(log, 2)
    os.closerange(3, 1024)
    code = 1
    try:
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - fd 0 lives as long as the process
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        if request.get("cwd"):
            os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # a library asked on import in the starter: the step's TMPDIR is its own
        sys.argv = [request["module"], *request["argv"]]
        # As `python -m <module>` would (steps/__init__ guards a step); unblocks the SIGTERM held since the fork.
        if request["module"].startswith(STEP_MODULE_PREFIX):
            from steps.stopping import on_sigterm_exit

            on_sigterm_exit(request["module"])
        else:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        import runpy

        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if not isinstance(done.code, int | None):
            print(done.code, file=sys.stderr)
    except BaseException:  # what an uncaught exception does to an interpreter: traceback, exit 1
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def preload(entry: str) -> None:
    """Import one ``PRELOAD`` entry: a module, or ``module:function`` to call once it is imported."""
    module, _, function = entry.partition(":")
    imported = importlib.import_module(module)
    if function:
        getattr(imported, function)()


def _move_log(path: str) -> None:
    """The starter's log (fds 1 and 2) from here on at ``path``, with what it wrote before."""
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    with contextlib.suppress(OSError):  # until now an anonymous temporary file, else nothing to copy
        os.lseek(2, 0, os.SEEK_SET)
        while chunk := os.read(2, 1 << 16):
            os.write(log, chunk)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)


def serve() -> None:
    """The starter's loop: fork on request, report exits, import the next library when idle."""
    # OpenMP reads how its threads wait when it loads, here, and every forked step inherits it.
    prepare_environment()
    # The libraries' ~600k objects are frozen before each fork (Python's gc docs): a step's collections
    # then never walk them, which would copy every page of the shared heap (2.5 s of CPU in a step).
    gc.disable()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever a library prints on import must not corrupt the protocol
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ, "request")
    selector.register(wake_read, selectors.EVENT_READ, "child")
    pending = list(PRELOAD)
    unread = b""  # requests read but not yet handled: one read may bring several lines
    hold = Hold()

    def say(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    def import_next() -> None:
        with contextlib.suppress(Exception):  # a library that does not import is the step's error
            preload(pending.pop(0))
        if not pending:
            say({"ready": True})

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            hold.child_ended(pid)
            say({"pid": pid, "code": os.waitstatus_to_exitcode(status)})

    while True:
        for key, _ in selector.select(timeout=hold.timeout(pending)):
            if key.data == "child":
                os.read(wake_read, 4096)
                reap()
                continue
            chunk = os.read(0, 1 << 16)
            if not chunk:  # the executor is gone: so is the starter (running steps go on, as Popen's would)
                out.flush()
                os._exit(0)  # no interpreter teardown: seconds with PyTorch and MLflow loaded
            *lines, unread = (unread + chunk).split(b"\n")
            for request in map(json.loads, lines):
                if "starter_log" in request:
                    _move_log(request["starter_log"])
                    continue
                while request.get("after") in pending:  # what the child needs, rather than import it twice
                    import_next()
                # Held from before the fork until the child's own handler is in place: no SIGTERM is lost.
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
                gc.freeze()
                pid = os.fork()
                if pid == 0:
                    _run_step(request)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
                hold.forked(pid, request.get("hold"))
                say({"id": request["id"], "pid": pid})
        reap()
        if hold.may_import(pending):
            import_next()


# ---- the executor's side ----------------------------------------------------------------------


class StarterGone(RuntimeError):
    """The starter process ended; its steps' exits can no longer be known."""


class WarmProcess:
    """A step forked by the starter, with the part of ``subprocess.Popen`` the executor uses."""

    def __init__(self, pid: int, starter: WarmStarter) -> None:
        self.pid, self.starter, self.returncode = pid, starter, None
        self.args = [f"warm:{pid}"]

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self.starter.exited(self.pid).wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        self.returncode = self.starter.exit_code(self.pid)
        return self.returncode


class WarmStarter:
    """The executor's handle on one starter process; its log at ``log``, or, with none, in an anonymous
    temporary file until ``keep_log`` names where."""

    def __init__(self, log: Path | None) -> None:
        self.log = log
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") if log is not None else tempfile.TemporaryFile() as errors:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "workflows.local.warm_start"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                start_new_session=True,
            )
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.forked: dict[int, Any] = {}
        self.events: dict[int, threading.Event] = {}
        self.codes: dict[int, int] = {}
        self.gone = False
        self.ready = threading.Event()  # set once every library is imported; until then, exec
        self.reader = threading.Thread(target=self._read, name="warm-start-reader", daemon=True)
        self.reader.start()

    def _event(self, pid: int) -> threading.Event:
        with self.lock:
            return self.events.setdefault(pid, threading.Event())

    def _read(self) -> None:
        for line in self.process.stdout:
            message = json.loads(line)
            if "ready" in message:
                self.ready.set()
            elif "id" in message:
                self.forked[message["id"]].put(message["pid"])
            else:
                self.codes[message["pid"]] = message["code"]
                self._event(message["pid"]).set()
        with self.lock:
            self.gone = True
            events = list(self.events.values())
            waiting = list(self.forked.values())
        for event in events:
            event.set()
        for reply in waiting:
            reply.put(None)

    def _send(self, message: dict[str, Any]) -> None:
        """One request line; the caller holds ``self.lock``."""
        if self.gone or self.process.stdin.closed:  # closed here: its reader may not have seen the end yet
            raise OSError("the warm starter has ended")
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def keep_log(self, path: Path) -> None:
        """Move the starter's log to ``path`` (once: a starter shared with child runs keeps the first run's)."""
        if self.log is not None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock, contextlib.suppress(OSError):
            self._send({"starter_log": str(path)})
            self.log = path

    def start(
        self,
        command: list[str],
        env: dict[str, str],
        cwd: str | None,
        log: Path,
        stdout: Path | None = None,
        after: str | None = None,
        hold: str | None = None,
    ) -> WarmProcess:
        """Fork ``python -m steps.<name> args`` from the starter, its stderr (and stdout, unless ``stdout``
        is given) to ``log``, once the starter has imported ``PRELOAD`` up to ``after`` (if given); with
        ``hold``, the starter then imports up to that one and pauses until the next step is asked for;
        raises OSError if it cannot."""
        request_id = next(self.ids)
        reply: queue.Queue = queue.Queue()
        request = {"id": request_id, "module": command[2], "argv": command[3:], "env": env, "cwd": cwd,
                   "log": str(log), "stdout": str(stdout) if stdout else None, "after": after,
                   "hold": hold}  # fmt: skip
        with self.lock:
            self.forked[request_id] = reply  # before the request: the reader may see the reply at once
            try:
                self._send(request)
            except OSError:
                del self.forked[request_id]
                raise
        pid = reply.get()
        with self.lock:
            del self.forked[request_id]
        if pid is None:
            raise OSError("the warm starter ended before starting the step")
        return WarmProcess(pid, self)

    def exited(self, pid: int) -> threading.Event:
        return self._event(pid)

    def exit_code(self, pid: int) -> int:
        if pid not in self.codes:
            raise StarterGone(f"the warm starter ended while step process {pid} ran")
        return self.codes[pid]

    def close(self) -> None:
        """End the starter. No step of the run is left to report (one a second Ctrl-C left running goes
        on in its own session); its exit, mid-import or with PyTorch loaded, would take seconds."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        self.process.kill()
        self.process.wait()


@contextlib.contextmanager
def run_starter(run: LocalRun) -> Iterator[None]:
    """With warm starts on, the starter of a run's steps while it runs: the one passed as ``warm_start``
    (``mlops run`` starts it first for the project's workflows, and closes it after the cost is settled
    through it; child runs share it), else one of the run's own, started by its first step
    (``starter_for``): a workflow of containers alone never imports PyTorch and MLflow for nothing."""
    given = run.warm_start if isinstance(run.warm_start, WarmStarter) else None
    if given is not None:
        given.keep_log(run.run_dir / "logs" / "warm-start.log")
        run.starter = given
    try:
        yield
    finally:
        if given is None and run.starter is not None:
            run.starter.close()
        run.starter = None


def starter_for(run: LocalRun) -> WarmStarter | None:
    """The starter to fork the run's step from: the run's, started now if this is its first step.
    Called under ``run.launch_lock``, as every step's start is: two first steps start one starter."""
    if run.starter is None and run.warm_start is True:
        run.starter = WarmStarter(run.run_dir / "logs" / "warm-start.log")
    return run.starter


if __name__ == "__main__":
    serve()
