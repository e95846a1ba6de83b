"""mlops cache: the step cache's entries (``ls``), why a step missed (``why``), old entries dropped (``prune``)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from steps.errors import BadInput
from workflows.cli.support import contract_errors

cache_app = typer.Typer(
    help="The step cache: list entries, explain a miss, prune old entries.", no_args_is_help=True
)
DURATION = re.compile(r"^(\d+)([smhd])$")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _root() -> str:
    from steps.cache_index import cache_root
    from workflows.settings import load_settings

    return cache_root(load_settings().storage_root)


def _when(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%d %H:%M:%S")


def duration_seconds(text: str) -> int:
    """``30d``, ``12h``, ``15m``, ``90s`` in seconds."""
    found = DURATION.match(text.strip())
    if not found:
        raise BadInput(f"--older-than {text!r}: give a number and a unit, such as 30d, 12h, 15m or 90s")
    return int(found.group(1)) * SECONDS[found.group(2)]


@cache_app.command("ls")
@contract_errors
def ls_command() -> None:
    """Every entry: step, key, when stored, the run it came from, its outputs.

    Example: mlops cache ls
    """
    from steps.cache_index import entries

    for entry in entries(_root()):
        print(
            f"{entry['step'].replace('_', '-'):<14} {entry['key'][:12]}  {_when(entry.get('created', 0))}"
            f"  {len(entry['outputs'])} outputs  from {entry.get('run_dir')}"
        )


@cache_app.command("why")
@contract_errors
def why_command(
    run: Annotated[str, typer.Argument(help="a run's name (under the storage root's runs/) or its folder")],
    step: Annotated[str, typer.Argument(help="a step of that run, such as features")],
) -> None:
    """Whether the step was a cache hit and, for a miss, which parts of its key differ from the nearest
    earlier entry of that step (the one with the fewest differing parts).

    Example: mlops cache why training-x7k2q features
    """
    from steps import storage
    from steps.cache import CACHE_RECORD
    from steps.cache_index import entries
    from steps.cache_key import differences
    from workflows.settings import load_settings

    folder = Path(run) if Path(run).is_dir() else Path(load_settings().runs_root) / run
    uri = storage.join(str(folder), step.replace("_", "-"), CACHE_RECORD)
    if not storage.exists(uri):
        raise BadInput(
            f"{uri}: no cache record: the step did not succeed in this run, or ran with the cache off"
        )
    record = storage.read_json(uri)
    if record.get("hit"):
        print(f"hit: key {record['key'][:12]}, outputs of {record.get('from_run')}")
        return
    module = step.replace("-", "_")
    earlier = [
        e
        for e in entries(_root(), module)
        if e["key"] != record["key"] and e.get("created", 0) < record.get("at", 0)
    ]
    if not earlier:
        print(f"miss: key {record['key'][:12]}; no other entry of step {step} to compare with")
        return
    # Fewest differing parts first; among equals, the latest.
    nearest = min(reversed(earlier), key=lambda e: len(differences(record["parts"], e["parts"])))
    print(
        f"miss: key {record['key'][:12]}; nearest entry {nearest['key'][:12]} from {nearest.get('run_dir')}"
    )
    for line in differences(record["parts"], nearest["parts"]):
        print(f"  differs: {line}")


@cache_app.command("prune")
@contract_errors
def prune_command(
    older_than: Annotated[
        str, typer.Option(help="drop entries stored longer ago than this: 30d, 12h")
    ] = "30d",
) -> None:
    """Drop the entries stored longer ago than --older-than, with their outputs.

    Example: mlops cache prune --older-than 30d
    """
    from steps.cache_index import prune

    dropped = prune(_root(), duration_seconds(older_than), time.time())
    print(f"dropped {len(dropped)} entries older than {older_than}")
