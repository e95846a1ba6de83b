"""What a local run shows: a live table of the DAG's tasks in a terminal, plain lines elsewhere,
the summary table at the end and, for a run that failed, each failed step's error lines and log."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from workflows.local.executor import LocalRun
    from workflows.local.record import Node, RunRecord

STYLE = {
    "Succeeded": "green",
    "Failed": "red",
    "Error": "red",
    "Running": "yellow",
    "Skipped": "dim",
    "Omitted": "dim",
}
FAILED = ("Failed", "Error")
# Argo's message for a false `when` quotes the condition, which holds quotes of its own.
WHEN_FALSE = re.compile(r"^when '(.*)' evaluated false$", re.DOTALL)
ERROR_LINES_SHOWN = 5
PLAIN_WIDTH = 160  # when output is not a terminal and COLUMNS is unset: no path or name cut at 80


def console() -> Console:
    """The console a run prints to; wider than rich's 80 columns when writing to a file or a pipe."""
    out = Console()
    if not out.is_terminal and not os.environ.get("COLUMNS"):
        out = Console(width=PLAIN_WIDTH)
    return out


def display_name(node: Node, record: RunRecord) -> str:
    return f"onExit ({node.template})" if node is record.exit_handler else node.name


def display_message(message: str) -> str:
    first = message.splitlines()[0] if message else ""
    when = WHEN_FALSE.match(first)
    return f"when {when.group(1)} is false" if when else first


def _row(node: Node, record: RunRecord) -> tuple[Text, ...]:
    phase = Text(node.phase + (" (kept)" if node.reused else ""), style=STYLE.get(node.phase, ""))
    return (
        Text(display_name(node, record)),
        phase,
        Text(str(len(node.attempts))),
        Text(f"{node.duration:.1f}s"),
        Text(display_message(node.message)),
    )


def _nodes(record: RunRecord) -> list[Node]:
    return [*record.nodes.values(), *record.hooks.values(), *filter(None, [record.exit_handler])]


def table(record: RunRecord) -> Table:
    view = Table(title=f"{record.name}: {record.phase}", title_justify="left")
    rows = [_row(node, record) for node in _nodes(record)]
    # Every column but the message as wide as its longest cell: only the message wraps.
    for index, column in enumerate(("task", "status", "attempts", "duration")):
        widest = max([len(column), *(len(row[index].plain) for row in rows)])
        view.add_column(column, no_wrap=True, min_width=widest)
    view.add_column("message", overflow="fold", min_width=12)
    for row in rows:
        view.add_row(*row)
    return view


class Progress:
    """Called on every change of the run; redraws the table or prints the tasks that changed."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = Live(console=console, auto_refresh=False, transient=True) if console.is_terminal else None
        self.seen: dict[str, tuple[str, int]] = {}

    def __enter__(self) -> Progress:
        if self.live:
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.live.stop()

    def __call__(self, run: LocalRun) -> None:
        record = run.record
        if self.live:
            self.live.update(table(record), refresh=True)
            return
        for node in _nodes(record):
            # A task is Running from when it is scheduled; its first attempt joining changes nothing shown.
            state = (node.phase, max(len(node.attempts), 1))
            if self.seen.get(node.name) == state or node.phase == "Pending":
                continue
            self.seen[node.name] = state
            detail = ""
            if node.phase == "Running" and len(node.attempts) > 1:
                last = node.attempts[-2]
                detail = (
                    f" attempt {len(node.attempts)} (attempt {last.number}: {last.message or last.phase})"
                )
            elif node.phase not in ("Running", "Succeeded") and node.message:
                detail = f" - {display_message(node.message).removeprefix('omitted: ')}"
            self.console.print(f"  {display_name(node, record)}: {node.phase}{detail}", highlight=False)


# ---- why a run failed ------------------------------------------------------------------------


def error_lines(log: Path) -> list[str]:
    """The lines of a step's log that say what went wrong: the step's ``<step>: error:`` lines and
    exception lines (as notify picks its first error), else the log's last lines."""
    from steps.notify import ERROR_LINE

    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return []
    found = [line for line in lines if ERROR_LINE.search(line)] or lines[-3:]
    return list(dict.fromkeys(found))[:ERROR_LINES_SHOWN]


def failure_report(record: RunRecord, runs_root: Path, indent: str = "") -> Iterator[str]:
    """For each failed task: its message, its error lines and its log's path; a failed child run's
    own failures below it."""
    for node in _nodes(record):
        if node.phase not in FAILED or (not node.attempts and not node.children):
            continue
        yield f"{indent}{display_name(node, record)} {node.phase.lower()}: {display_message(node.message)}"
        attempt = node.attempts[-1] if node.attempts else None
        if attempt is not None and attempt.log and Path(attempt.log).exists():
            for line in error_lines(Path(attempt.log)):
                yield f"{indent}  {line}"
            yield f"{indent}  log: {attempt.log}"
        for child in node.children:
            path = runs_root / child / "run.json"
            if not path.exists() or len(indent) > 8:
                continue
            from workflows.local.record import RunRecord

            child_record = RunRecord.from_json(json.loads(path.read_text()))
            if child_record.phase in FAILED:
                yield f"{indent}  child run {child} {child_record.phase.lower()} (run record {path}):"
                yield from failure_report(child_record, runs_root, indent + "    ")
