"""What a run will cost, before it starts: the last successful runs of the same template (their ``cost.json``),
per row of the data they ingested (``rows_in`` of ingest's ``result.json``), times the rows of the data given.

A run whose history or data has no row count is estimated by its history's plain average, and says so.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from steps import storage
from steps.errors import StepError
from workflows.argo.ledger import COST_FILE, Ledger
from workflows.local.ledger import read_cost, step_results
from workflows.local.record import Phase, load_record

HISTORY = 3  # the last successful runs an estimate averages
ROWS_RESULT = "rows_in"  # ingest's result.json: the rows read from the data (steps.ingest.IngestResult)


@dataclass(frozen=True)
class Estimate:
    """A projected run: its totals (``cost``, ``gpu_hours``) and what they were projected from."""

    totals: dict[str, float]
    runs: list[str]
    rows: int | None  # the given data's rows, when the projection is scaled by them

    def basis(self) -> str:
        runs = ", ".join(self.runs)
        if self.rows is None:
            return f"the average of runs {runs}; not scaled by rows"
        return f"{self.rows:,} rows at the per-row cost of runs {runs}"


def rows_ingested(run_dir: Path) -> int | None:
    """The rows a finished run's ingest step read (``rows_in`` in its ``result.json``), if it recorded them."""
    try:
        record = load_record(run_dir)
    except (StepError, ValueError, KeyError, TypeError):
        return None
    for folder, result in step_results(list(record.nodes.values())):
        if folder.rstrip("/").endswith("/ingest") and isinstance(result.get(ROWS_RESULT), int):
            return int(result[ROWS_RESULT])
    return None


def count_rows(data_uri: str) -> int | None:
    """Rows of the data files under ``data_uri``: Parquet from its footer, CSV by its lines less the header;
    None when the data cannot be read (ingest then says why, in its own words)."""
    import pyarrow.parquet as pq

    try:
        total = 0
        for uri in storage.list_files(data_uri):
            if storage.resolve(uri).lower().endswith(".csv"):
                lines = storage.read_bytes(uri).splitlines()
                total += max(0, sum(1 for line in lines if line.strip()) - 1)
            elif storage.is_s3(uri):
                total += pq.ParquetFile(io.BytesIO(storage.read_bytes(uri))).metadata.num_rows
            else:
                total += pq.ParquetFile(storage.resolve(uri)).metadata.num_rows
        return total
    except Exception:  # unreadable data is ingest's to report; the estimate just goes unscaled
        return None


def history(runs_root: Path, template: str) -> list[tuple[Ledger, int | None]]:
    """The last ``HISTORY`` successful runs of ``template`` that left a ledger, oldest first, with their rows."""
    found = []
    for path in runs_root.glob(f"*/{COST_FILE}"):
        try:
            ledger = read_cost(path.parent)
        except (ValueError, KeyError, TypeError):
            continue  # a ledger from an older layout: no basis for an estimate
        if ledger is not None and ledger.template == template and ledger.phase == Phase.Succeeded:
            found.append((ledger, rows_ingested(path.parent)))
    return sorted(found, key=lambda pair: pair[0].started_at)[-HISTORY:]


def estimate(runs_root: Path, template: str, data_uri: str | None) -> Estimate | None:
    """The projected totals of a run of ``template`` on ``data_uri``; None with no successful run to go by."""
    past = history(runs_root, template)
    if not past:
        return None
    return project(past, count_rows(data_uri) if data_uri else None)


def project(past: list[tuple[Ledger, int | None]], rows: int | None) -> Estimate:
    """The totals of ``past`` (ledgers with their rows) per row times ``rows``; their plain average when
    ``rows`` or any past run's rows are unknown. Shared by the local gate and the cluster's (mlops submit)."""
    scaled = rows is not None and all(past_rows for _, past_rows in past)
    projected = {}
    for key in ("cost", "gpu_hours"):
        if scaled:
            per_row = [ledger.totals()[key] / past_rows for ledger, past_rows in past if past_rows]
            projected[key] = sum(per_row) / len(per_row) * rows
        else:
            projected[key] = sum(ledger.totals()[key] for ledger, _ in past) / len(past)
    return Estimate(projected, [ledger.run for ledger, _ in past], rows if scaled else None)
