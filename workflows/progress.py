"""What a local run shows: a live table of the DAG's tasks in a terminal, plain lines elsewhere,
and the summary table at the end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from workflows.local import LocalRun, Node, RunRecord

STYLE = {
    "Succeeded": "green",
    "Failed": "red",
    "Error": "red",
    "Running": "yellow",
    "Skipped": "dim",
    "Omitted": "dim",
}


def _row(node: Node) -> tuple[Text, ...]:
    phase = Text(node.phase + (" (kept)" if node.reused else ""), style=STYLE.get(node.phase, ""))
    message = node.message.splitlines()[0][:80] if node.message else ""
    return Text(node.name), phase, Text(str(len(node.attempts))), Text(f"{node.duration:.1f}s"), Text(message)


def table(record: RunRecord) -> Table:
    view = Table(title=f"{record.name}: {record.phase}", title_justify="left")
    for column in ("task", "status", "attempts", "duration", "message"):
        view.add_column(column)
    for node in record.nodes.values():
        view.add_row(*_row(node))
    if record.exit_handler is not None:
        view.add_row(*_row(record.exit_handler))
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
        nodes = [*record.nodes.values(), *([record.exit_handler] if record.exit_handler else [])]
        for node in nodes:
            state = (node.phase, len(node.attempts))
            if self.seen.get(node.name) != state and node.phase != "Pending":
                self.seen[node.name] = state
                detail = f" attempt {len(node.attempts)}" if len(node.attempts) > 1 else ""
                self.console.print(f"  {node.name}: {node.phase}{detail}", highlight=False)
