"""The step contract: typed parameters in, typed result out, exit codes that say what failed.

Every step module defines a pydantic ``Params`` model, a ``Result`` model and one function
``fn(params, settings) -> Result``; ``run_step`` turns that into the command line
``python -m steps.<name> --flag value ...``. Parameters are validated before any work starts,
each result field is written as an Argo output parameter (one file per field in
``$MLOPS_OUTPUTS_DIR``), and errors map to the exit codes of ``steps.errors``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ClassVar, NoReturn, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from steps.errors import (
    EXIT_OK,
    BadInput,
    StepError,
    shown,
)
from steps.stopping import (
    Stopped,
    deferred,
    on_sigterm_ignore,
    on_sigterm_raise,
    step_module_of_this_process,
)
from steps.threads import thread_choice


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


T = TypeVar("T")
# A list flag as Argo passes it: one string, comma-separated ("64,32").
CommaList = Annotated[list[T], BeforeValidator(_split_commas)]


class StepParams(BaseModel):
    """Base of every step's parameters: every step works inside one run folder."""

    model_config = ConfigDict(extra="forbid")
    # Parameters that say where or whether, not what: left out of the step cache's key (steps.cache_key).
    NOT_IN_CACHE_KEY: ClassVar[frozenset[str]] = frozenset({"run_dir", "cache"})

    run_dir: str = ".mlops/runs/manual"
    cache: bool = Field(True, description="reuse the result of an identical earlier run (steps.cache)")


class StepResult(BaseModel):
    """Base of every step's result; each field becomes an output parameter file."""


# A line the step leaves for the node's message (the local executor shows it), beside its output files.
MESSAGE_FILE = ".message"
P = TypeVar("P", bound=StepParams)
R = TypeVar("R", bound=StepResult)


def flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def log(step: str, message: str) -> None:
    """Progress goes to stderr so stdout stays free for the result."""
    print(f"[{step}] {message}", file=sys.stderr, flush=True)


def parse_params(params_type: type[P], argv: list[str], prog: str) -> P:
    """Parse ``--flag value`` pairs into the params model; pydantic does the typing."""
    parser = argparse.ArgumentParser(prog=prog, description=params_type.__doc__)
    for name, info in params_type.model_fields.items():
        # A required field has no default to show (pydantic's is the PydanticUndefined sentinel);
        # pydantic, not argparse, refuses it missing, so the message names the flag the contract's way.
        if info.is_required():
            shown_default = "required"
        elif info.default_factory is not None:
            shown_default = f"default: {info.get_default(call_default_factory=True) or 'none'}"
        else:
            shown_default = f"default: {info.default if info.default is not None else 'unset'}"
        parser.add_argument(
            flag(name),
            dest=name,
            default=None,
            metavar=name.upper(),
            help=f"{info.description or ''} ({shown_default})".strip(),
        )
    try:
        namespace, unknown = parser.parse_known_args(argv)
    except SystemExit as exc:
        if exc.code == 0:  # --help
            raise
        raise BadInput("invalid command line (see --help)") from None
    if unknown:
        raise BadInput(f"unknown parameter {unknown[0]!r} (see --help)")
    given = {k: v for k, v in vars(namespace).items() if v is not None}
    try:
        return params_type.model_validate(given)
    except ValidationError as exc:
        raise BadInput(describe_validation_error(exc, flag)) from None


def describe_validation_error(exc: ValidationError, name_of: Callable[[str], str]) -> str:
    """The first problem of a pydantic error as one line naming the parameter."""
    first = exc.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    if not first["loc"]:  # a rule across parameters: its message names them
        return f"parameters: {message}"
    where = ".".join(str(p) for p in first["loc"])
    given = first.get("input")
    got = "" if isinstance(given, dict) else f" (got {shown(given)})"
    return f"parameter {name_of(where)}: {message}{got}"


def step_folder(run_dir: str, step: str) -> str:
    """``<run-dir>/<task name>``: where a step keeps what it writes (``validate_data`` -> ``validate-data``)."""
    from steps.storage import join

    return join(run_dir, step.replace("_", "-"))


class EarlierResult(dict):
    """An earlier step's result; a field it lacks is bad input naming the file, not a KeyError."""

    def __init__(self, values: dict[str, Any], uri: str, step: str) -> None:
        super().__init__(values)
        self.uri, self.step = uri, step

    def __missing__(self, key: str) -> Any:
        raise BadInput(f"{self.uri}: no field '{key}'; run step '{self.step}' again to rewrite it")


def earlier_result(run_dir: str, step: str) -> EarlierResult:
    """The result an earlier step of this run wrote, for flags a user left out."""
    from steps.storage import exists, join, read_bytes

    uri = join(step_folder(run_dir, step), "result.json")
    if not exists(uri):
        raise BadInput(f"{run_dir}: no result of step '{step}' in this run folder; run it first")
    try:
        values = json.loads(read_bytes(uri))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(
            f"{uri}: not a readable result ({exc}); run step '{step}' again to rewrite it"
        ) from None
    if not isinstance(values, dict):
        raise BadInput(
            f"{uri}: not a readable result (not a JSON object); run step '{step}' again to rewrite it"
        )
    return EarlierResult(values, uri, step)


def resident_mib() -> float:
    """Resident memory now (Linux's /proc; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def usage(started: float, start_rss: float) -> dict[str, Any]:
    """What this step cost: wall and CPU seconds, and memory (what a pod's requests should cover):
    resident once its modules were imported, and the peak of the whole process."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "wall_seconds": round(time.perf_counter() - started, 3),
        "cpu_seconds": round(own.ru_utime + own.ru_stime, 3),
        "start_rss_mib": start_rss,
        "peak_rss_mib": round(own.ru_maxrss / 1024, 1),  # Linux reports KiB
        "threads": thread_choice(),  # what the numeric libraries were allowed, and why
    }


def write_outputs(result: StepResult | dict[str, Any], outputs_dir: Path) -> None:
    """One file per field, as Argo's ``valueFrom.path`` output parameters expect."""
    outputs_dir.mkdir(parents=True, exist_ok=True)
    values = result if isinstance(result, dict) else result.model_dump(mode="json")
    for name, value in values.items():
        # Argo reads a parameter file as text: None is an empty value, not the word "null".
        text = "" if value is None else value if isinstance(value, str) else json.dumps(value)
        target = outputs_dir / name.replace("_", "-")
        tmp = target.with_suffix(".tmp")
        try:
            tmp.write_text(text)
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)


def run_step(
    name: str,
    params_type: type[P],
    fn: Callable[[P, Any], R],
    argv: list[str] | None = None,
) -> None:
    """Entry point of ``python -m steps.<name>``: parse, run, write outputs, exit with the contract's code.

    From its first line to its last, SIGTERM ends the step with exit 75 and one line naming where
    it stopped (``steps.stopping``); what it wrote is whole or absent, and a retry does the work once."""
    on_sigterm_raise(name)
    started, start_rss = time.perf_counter(), resident_mib()
    try:
        from steps.settings import load_settings

        settings = load_settings()
        params = parse_params(params_type, sys.argv[1:] if argv is None else argv, f"steps.{name}")
        from steps import cache

        cached = cache.before(name, params, settings)
        hit = cached is not None and cached.entry is not None
        values = cached.entry["result"] if hit else fn(params, settings).model_dump(mode="json")
        outputs_dir = Path(os.environ.get("MLOPS_OUTPUTS_DIR", "/tmp/outputs"))
        with deferred("writing the results"):
            write_outputs(values, outputs_dir)
            from steps.storage import join, write_json

            folder = step_folder(params.run_dir, name)
            write_json(join(folder, "result.json"), values)
            write_json(join(folder, "usage.json"), usage(started, start_rss) | {"cached": hit})
            print(json.dumps(values, separators=(",", ":")), flush=True)
        on_sigterm_ignore()  # everything is written and reported: a stop now changes nothing
        if cached is not None:
            cached.remember(values, outputs_dir)
    except (StepError, Stopped) as exc:
        on_sigterm_ignore()
        print(f"{name}: error: {exc}", file=sys.stderr, flush=True)
        leave(name, exc.exit_code)
    except KeyboardInterrupt:
        leave(name, 130)
    except Exception:  # an unexpected failure is a bug: keep the traceback for whoever fixes it
        on_sigterm_ignore()
        traceback.print_exc()
        leave(name, 1)
    leave(name, EXIT_OK)


def leave(name: str, code: int) -> NoReturn:
    """Exit with ``code``. A process started as ``python -m steps.<name>`` skips the interpreter's
    teardown, 1-2 s with PyTorch and MLflow loaded, of every step's pod: it ends as a step forked by
    the local executor's warm starter ends. Everything the step wrote is closed by now."""
    if step_module_of_this_process(getattr(sys, "orig_argv", [])) == f"steps.{name}":
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os._exit(code)
    sys.exit(code)  # main() called from other code (a test): its caller decides
