"""Load current: fix the new data a drift check looks at, so drift and a retrain see the same rows.

Reads everything under ``--current-uri`` (optionally a window over ``event_time``) and writes it
as one Parquet file in the run folder; its URI is the output the later tasks use.
"""

from __future__ import annotations

import sys

import pandas as pd
from pydantic import Field

from steps import storage
from steps.contract import StepParams, StepResult, log, run_step, step_folder
from steps.errors import BadInput
from steps.ingest import read_dataset

TIME_COLUMN = "event_time"


class LoadCurrentParams(StepParams):
    """Snapshot the current data (a prefix, or a time window of it) into the run folder."""

    current_uri: str | None = Field(
        None, description="the new data: a folder, file or s3:// prefix; default MLOPS_DRIFT_CURRENT_URI"
    )
    since: str = Field("", description="only rows with event_time >= this (ISO); empty: no bound")
    until: str = Field("", description="only rows with event_time < this (ISO); empty: no bound")


class LoadCurrentResult(StepResult):
    uri: str
    rows: int


def _bound(value: str, flag: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except ValueError:
        raise BadInput(f"parameter {flag}: not an ISO date or time (got {value!r})") from None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp


def current_data_uri(given: str | None, settings) -> str:
    """The current data's URI: the one given, else the setting a scheduled drift check uses."""
    return given or settings.drift_current_uri


def window(frame: pd.DataFrame, current_uri: str, since: str, until: str) -> pd.DataFrame:
    """The rows between ``since`` and ``until`` (either may be empty); an empty window is bad input."""
    if not (since or until):
        return frame
    if TIME_COLUMN not in frame.columns:
        raise BadInput(f"parameter --since/--until: the current data has no '{TIME_COLUMN}' column")
    times = pd.to_datetime(frame[TIME_COLUMN], utc=True, errors="coerce")
    keep = pd.Series(True, index=frame.index)
    if since:
        keep &= times >= _bound(since, "--since")
    if until:
        keep &= times < _bound(until, "--until")
    if not keep.any():
        raise BadInput(f"{current_uri}: no rows between {since or 'the start'} and {until or 'the end'}")
    return frame[keep]


def load_current(params: LoadCurrentParams, settings) -> LoadCurrentResult:
    """Write the current window to ``load-current/current.parquet``."""
    params = params.model_copy(update={"current_uri": current_data_uri(params.current_uri, settings)})
    storage.check_data_uri(params.current_uri, settings.allowed_data_prefixes, "current-uri")
    frame, files = read_dataset(params.current_uri, keep_text={TIME_COLUMN})
    frame = window(frame, params.current_uri, params.since, params.until)
    uri = storage.join(step_folder(params.run_dir, "load_current"), "current.parquet")
    storage.write_table(frame.reset_index(drop=True), uri)
    log("load-current", f"{len(frame):,} rows from {len(files)} files under {params.current_uri}")
    return LoadCurrentResult(uri=uri, rows=len(frame))


def main(argv: list[str] | None = None) -> None:
    run_step("load_current", LoadCurrentParams, load_current, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
