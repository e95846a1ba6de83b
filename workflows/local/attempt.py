"""One attempt of a task's template: its log and outputs folder, then its process, or its child workflow.

A container (or script) template's attempt is a subprocess of its command and args after ``{{...}}``
substitution, with the template's env, in this project's Python (or forked by the warm starter),
in its own session; ``activeDeadlineSeconds`` kills its process group, and its output parameters
are read from the files it wrote. A resource template's attempt is a child run (``child``).
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from steps.contract import MESSAGE_FILE
from workflows.argo.expressions import ExpressionError
from workflows.local import artifacts, child, config_sources, memoize, sandbox, script, volumes
from workflows.local import stop as local_stop
from workflows.local.loops import file_name, task_of
from workflows.local.record import Attempt, Node, Phase, ended, now_iso
from workflows.local.substitution import substitute
from workflows.local.warm_start import StarterGone, WarmProcess, is_step, starter_for

if TYPE_CHECKING:
    from workflows.local.executor import LocalRun

DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
# executor.go CaptureScriptResult: one trailing newline trimmed, then only the last 256 kB of stdout kept.
RESULT_LIMIT = 256 * (1 << 10)
WORKFLOW_DEADLINE_MESSAGE = "Max duration limit exceeded"


def run_attempt(
    run: LocalRun, node: Node, template: dict, scope: dict[str, str], number: int
) -> tuple[Attempt, dict[str, str]]:
    """One run of the template's process: the attempt's record and its output parameters.

    The attempt joins the node's record as it starts, so run.json shows what is running."""
    name = node.name if node is not run.record.exit_handler else "onExit"
    attempt = Attempt(number=number + 1, started_at=now_iso())
    with run.lock:
        node.attempts.append(attempt)
    outputs_dir = run.run_dir / "outputs" / file_name(name)
    log_path = run.run_dir / "logs" / f"{file_name(name)}.attempt-{number + 1}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    attempt.log = str(log_path)
    outputs_dir.mkdir(parents=True, exist_ok=True)
    for old in outputs_dir.iterdir():
        old.unlink()
    if "resource" in template:
        return child.child_workflow(run, node, template, scope, attempt)
    memoized = "memoize" in template and number == 0  # workflows.local.memoize
    hit = memoize.lookup(run, node, template, scope, attempt) if memoized else None
    if hit is not None:
        return hit
    done = run_container(run, name, template, scope, attempt, outputs_dir, log_path)
    if "memoize" in template and done[0].phase == Phase.Succeeded:
        memoize.store(run, node, template, scope, *done)
    return done


def run_container(
    run: LocalRun,
    name: str,
    template: dict,
    scope: dict[str, str],
    attempt: Attempt,
    outputs_dir: Path,
    log_path: Path,
) -> tuple[Attempt, dict[str, str]]:
    """A container template's process, started, waited for (up to its deadline) and its outputs read."""
    try:
        if (
            "script" in template
        ):  # a script template: a container with its source staged (workflows.local.script)
            container = script.staged(template["script"], scope, run.run_dir / "scripts" / file_name(name))
        else:
            container = substitute(template["container"], scope)
        if "podSpecPatch" in template:
            attempt.pod_spec_patch = substitute(template["podSpecPatch"], scope)
        deadline = deadline_of(template, scope)
    except ExpressionError as exc:
        return ended(attempt, Phase.Error, None, str(exc))
    declared = (template.get("outputs") or {}).get("parameters") or []
    remote_root = os.path.commonpath([p["valueFrom"]["path"] for p in declared]) if declared else None
    if remote_root and len(declared) == 1:
        remote_root = os.path.dirname(remote_root)
    plan = None
    if sandbox.reason(template):  # a filesystem of its own (workflows.local.sandbox); no env remapping then
        try:
            plan = sandbox_of(run, name, template, container, attempt, scope)
            artifacts.stage_inputs(template, scope, plan)
        except config_sources.SourceError as exc:  # a ConfigMap or Secret named by {{...}}, missing
            return ended(attempt, Phase.Error, None, str(exc))
        except (OSError, ValueError, tarfile.TarError) as exc:
            return ended(attempt, Phase.Error, None, f"could not prepare the task's filesystem: {exc}")
    env = dict(os.environ)
    for number, variable in enumerate(container.get("env") or []):
        if "valueFrom" in variable:  # a ConfigMap's or Secret's key (workflows.local.config_sources)
            kind = "script" if "script" in template else "container"
            try:
                value = config_sources.env_value(variable["valueFrom"], f"{kind}.env[{number}].valueFrom")
            except config_sources.SourceError as exc:
                return ended(attempt, Phase.Error, None, str(exc))
            if value is not None:  # an optional one absent: not set by this variable, as kubelet skips it
                env[variable["name"]] = value
            continue
        value = str(variable.get("value", ""))
        remapped = plan is None and remote_root and value == remote_root
        env[variable["name"]] = str(outputs_dir) if remapped else value
    env["PYTHONUNBUFFERED"] = "1"
    command = [*(container.get("command") or []), *(container.get("args") or [])]
    if command and command[0] in ("python", "python3"):
        command[0] = sys.executable  # this project's interpreter and virtual environment
    attempt.command = command
    started = time.monotonic()
    capture = task_of(name) in run.capture_results  # an item's result too, for the fan-in
    with log_path.open("wb") as log:
        with run.launch_lock:
            try:
                if run.killed:
                    raise OSError("the run was killed")
                cwd = container.get("workingDir") or None
                process = launch(run, command, log, env, None if plan else cwd, capture, plan)
                attempt.warm = isinstance(process, WarmProcess)
            except (OSError, subprocess.SubprocessError) as exc:  # a sandbox that could not be entered too
                return ended(attempt, Phase.Error, None, f"could not start {command[:1]}: {exc}")
            tee = StdoutTee(process.stdout, log) if capture else None
            attempt.pid = process.pid
            with run.lock:
                run.processes[name] = process
                run.save()
                if run.stopping.is_set():
                    local_stop.started_while_stopping(run, process)
        try:
            code = process.wait(timeout=deadline)
            message = ""
        except subprocess.TimeoutExpired:
            run.kill(process)
            code, message = process.wait(), DEADLINE_MESSAGE
        except StarterGone as exc:
            run.kill(process)
            return ended(attempt, Phase.Error, None, str(exc))
        finally:
            with run.lock:
                run.processes.pop(name, None)
            local_stop.end_group(process.pid)  # what the step left running ends with it, as in a pod
        if tee is not None:  # captured whatever the exit, as argoexec's wait does after the main container
            attempt.result = tee.result()
    attempt.duration_seconds = round(time.monotonic() - started, 3)
    if run.stopping.is_set() and code != 0:
        return ended(
            attempt,
            Phase.Failed,
            code if code >= 0 else 128 - code,
            WORKFLOW_DEADLINE_MESSAGE if run.deadline_hit else local_stop.NODE_STOPPED,
        )
    if message:  # a container killed by a signal exits 128+N, the exitCode Kubernetes reports
        return ended(attempt, Phase.Failed, code if code >= 0 else 128 - code, message)
    if code < 0:
        return ended(attempt, Phase.Error, 128 - code, f"killed by signal {-code}")
    if code != 0:  # argoexec's wait saves the output parameters whatever the main container's exit (wait.go)
        # those written, up to the first missing
        saved = read_outputs(declared, remote_root, outputs_dir, plan)[0]
        return ended(attempt, Phase.Failed, code, f"Error (exit code {code})", saved)
    outputs, missing = read_outputs(declared, remote_root, outputs_dir, plan)
    if missing is not None:
        return ended(attempt, Phase.Error, 0, f"output parameter '{missing}' was not produced")
    attempt.artifacts, failed = artifacts.save_outputs(run, name, template, scope, plan)
    if failed:  # executor.go SaveArtifacts: a required artifact missing errs the node
        return ended(attempt, Phase.Error, 0, failed)
    note = outputs_dir / MESSAGE_FILE  # a line the step left for its node's message ("cached ...")
    return ended(attempt, Phase.Succeeded, 0, note.read_text().strip() if note.is_file() else "", outputs)


def deadline_of(template: dict, scope: dict[str, str]) -> int | None:
    """The template's ``activeDeadlineSeconds``, substituted. As workflowpod.go's ``intstr.Int64`` reads it,
    one that is no integer is an error before any pod starts ("value '...' cannot be resolved to an int")."""
    raw = template.get("activeDeadlineSeconds")
    if not raw:
        return None
    text = str(substitute(str(raw), scope))
    try:
        return int(text) or None
    except ValueError:
        raise ExpressionError(f"value '{text}' cannot be resolved to an int") from None


def launch(
    run: Any,
    command: list[str],
    log: BinaryIO,
    env: dict[str, str],
    cwd: str | None,
    capture: bool = False,
    plan: sandbox.Plan | None = None,
):
    """Start a step's process: forked by the warm starter when it is one of our steps, else exec'd.

    With ``capture`` its stdout comes through a pipe (a StdoutTee copies it to the log), so it is exec'd; with a
    sandbox ``plan`` it is exec'd inside it (the warm starter forks on the host only)."""
    starter = starter_for(run) if is_step(command) and not capture and plan is None else None
    if starter is not None and not starter.gone:
        return starter.start(command, env, cwd, Path(log.name))
    stdout, stderr = (subprocess.PIPE, log) if capture else (log, subprocess.STDOUT)
    enter = functools.partial(sandbox.enter, plan) if plan is not None else None
    if not is_step(command):
        return subprocess.Popen(
            command, stdout=stdout, stderr=stderr, env=env, start_new_session=True, cwd=cwd, preexec_fn=enter
        )
    # A step starts with SIGTERM held (the mask survives exec) until steps/__init__ installs the
    # contract's handler: a stop during interpreter start-up still exits 75, not -15.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        return subprocess.Popen(
            command, stdout=stdout, stderr=stderr, env=env, start_new_session=True, cwd=cwd, preexec_fn=enter
        )
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


class StdoutTee:
    """A process's stdout copied to its log as it comes, its last bytes kept for ``outputs.result``."""

    def __init__(self, stream: BinaryIO, log: BinaryIO) -> None:
        self.kept = bytearray()
        self.thread = threading.Thread(target=self.copy, args=(stream, log.fileno()), daemon=True)
        self.thread.start()

    def copy(self, stream: BinaryIO, log: int) -> None:
        with stream:
            for chunk in iter(lambda: stream.read1(1 << 16), b""):
                os.write(log, chunk)  # the log's own descriptor: stderr appends to the same file
                self.kept += chunk
                del self.kept[: max(0, len(self.kept) - RESULT_LIMIT - 1)]

    def result(self) -> str:
        """The stdout as Argo keeps it, once the process (and whatever held its stdout) has ended."""
        self.thread.join()
        out = bytes(self.kept)
        out = out[:-1] if out.endswith(b"\n") else out
        # Go keeps the bytes; encoding/json, which stores them, writes invalid UTF-8 as U+FFFD.
        return out[-RESULT_LIMIT:].decode("utf-8", errors="replace")


def read_outputs(
    declared: list[dict], remote_root: str | None, outputs_dir: Path, plan: sandbox.Plan | None = None
) -> tuple[dict[str, str], str | None]:
    """The output parameters the step wrote under its outputs folder (the template's paths, moved
    from ``remote_root`` to it; in a sandbox, where its mounts put them), or their defaults: (those read,
    the first with neither, or None)."""
    outputs = {}
    for parameter in declared:
        path = str(parameter["valueFrom"]["path"])
        if plan is not None:  # in the attempt's own filesystem
            local = plan.host_path(path)
        else:
            local = Path(path.replace(remote_root, str(outputs_dir), 1) if remote_root else path)
        if local.exists():  # executor.go SaveParameters trims one trailing newline
            outputs[parameter["name"]] = local.read_text().removesuffix("\n")
        elif "default" in parameter["valueFrom"]:
            outputs[parameter["name"]] = str(parameter["valueFrom"]["default"])
        else:
            return outputs, parameter["name"]
    return outputs, None


def sandbox_of(
    run: LocalRun, name: str, template: dict, container: dict, attempt: Attempt, scope: dict[str, str]
) -> sandbox.Plan:
    """The attempt's filesystem: its folders under ``<run>/sandbox/<node>/attempt-N``, recorded on the attempt."""
    folder = run.run_dir / "sandbox" / file_name(name) / f"attempt-{attempt.number}"
    attempt.sandbox = str(folder)
    return sandbox.plan_for(
        template, container, folder, run.run_dir,
        lambda mount: volumes.host_folder(run.run_dir, folder, run.spec, template, mount, scope),
        lambda mount: volumes.read_only(run.spec, template, mount),
    )  # fmt: skip
