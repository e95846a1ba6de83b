"""Retrain data: what a drift-started retrain learns from.

``--retrain-data reference+current`` (the default): the champion's training data, found through
its ``mlops.data_uri`` lineage tag, plus the current window, exact duplicate rows dropped, written
whole to ``retrain-data/retrain.parquet``. A window of recent data is often small or holds one
class; a model retrained on it alone forgets what it knew (or is refused by validate-data), so the
retrain learns from both. ``current``: the current window alone. Anything else is a data URI
(folder, file or s3:// prefix) the retrain reads as it is. Outputs the URI the retrain's
``data-uri`` gets.

When the champion's training data cannot be found (no champion, no lineage tag, the data gone) or
has other columns than the current window, the step refuses (65) in one line that names what is
missing and the remedy, ``-p retrain-data=current``: falling back to the window alone would
retrain on less than the user asked for, silently.
"""

from __future__ import annotations

import sys

import pandas as pd
from pydantic import Field

from steps import storage
from steps.contract import StepParams, StepResult, log, run_step, step_folder
from steps.errors import BadInput
from steps.ingest import read_dataset, value_kind

REFERENCE_AND_CURRENT = "reference+current"
CURRENT = "current"
TIME_COLUMN = "event_time"
REMEDY = "to retrain on the current window alone, pass -p retrain-data=current"


class RetrainDataParams(StepParams):
    """Assemble the data a drift-started retrain learns from."""

    current_uri: str = Field(..., description="the current window (load-current's snapshot)")
    retrain_data: str = Field(
        REFERENCE_AND_CURRENT,
        description="reference+current (the champion's training data plus the window), current, or a data URI",
    )
    model_name: str | None = Field(None, description="default MLOPS_MODEL_NAME")
    champion_version: str = Field("", description="the version drift compared with; empty: the champion now")


class RetrainDataResult(StepResult):
    uri: str
    rows: int | None  # rows written; None when a URI or the window is passed on as it is
    source: str  # reference+current, current or uri
    reference_uri: str | None = None
    reference_rows: int | None = None
    current_rows: int | None = None
    duplicates_dropped: int | None = None


def combine(
    reference: pd.DataFrame, current: pd.DataFrame, reference_uri: str, current_uri: str
) -> tuple[pd.DataFrame, int]:
    """The reference rows then the current rows, in the reference's column order, exact duplicate rows
    dropped (a window that overlaps the training data counts each row once); and how many were dropped.

    Both must have the same columns holding the same kinds of values: a window of another shape is a
    schema change, which the retrain should see alone."""
    where = f"the champion's training data ({reference_uri})"
    window = f"the current window ({current_uri})"
    missing = [c for c in reference.columns if c not in current.columns]
    if missing:
        raise BadInput(f"column '{missing[0]}': in {where} but not in {window}; {REMEDY}")
    extra = [c for c in current.columns if c not in reference.columns]
    if extra:
        raise BadInput(f"column '{extra[0]}': in {window} but not in {where}; {REMEDY}")
    for column in reference.columns:
        if reference[column].notna().any() and current[column].notna().any():
            before, now = value_kind(reference[column]), value_kind(current[column])
            if before != now:
                raise BadInput(
                    f"column '{column}': {now} values in {window} where {where} holds {before} values; {REMEDY}"
                )
    both = pd.concat([reference, current[list(reference.columns)]], ignore_index=True)
    unique = both.drop_duplicates(ignore_index=True)
    return unique, len(both) - len(unique)


def champion_data_uri(settings, name: str, version: str) -> tuple[str, str]:
    """(the champion's training data URI from its lineage tag, its version); bad input when unknown."""
    from mlflow.exceptions import MlflowException

    from steps.tracking import connect, tracking_errors

    with tracking_errors("finding the champion's training data"):
        client = connect(settings)
        try:
            found = (
                client.get_model_version(name, version)
                if version
                else client.get_model_version_by_alias(name, "champion")
            )
        except MlflowException:
            which = f"version {version}" if version else "champion"
            raise BadInput(
                f"model {name!r} has no {which}: there is no training data to add the window to; {REMEDY}"
            ) from None
    uri = found.tags.get("mlops.data_uri")
    if not uri:
        raise BadInput(
            f"{name} version {found.version} has no mlops.data_uri lineage tag: its training data is unknown; {REMEDY}"
        )
    return uri, str(found.version)


def retrain_data(params: RetrainDataParams, settings) -> RetrainDataResult:
    """The URI of the data the retrain learns from; for reference+current, written to
    ``retrain-data/retrain.parquet``."""
    choice = params.retrain_data.strip()
    if choice == CURRENT:
        log("retrain-data", f"retraining on the current window alone: {params.current_uri}")
        return RetrainDataResult(uri=params.current_uri, rows=None, source=CURRENT)
    if not choice:
        raise BadInput(
            f"parameter --retrain-data: empty; use {REFERENCE_AND_CURRENT}, {CURRENT} or a data URI"
        )
    if choice != REFERENCE_AND_CURRENT:
        storage.check_data_uri(choice, settings.allowed_data_prefixes, "retrain-data")
        try:
            files = storage.list_files(choice)
        except BadInput as exc:
            raise BadInput(
                f"parameter --retrain-data: {choice!r} is not {REFERENCE_AND_CURRENT}, {CURRENT} or a data URI ({exc})"
            ) from None
        log("retrain-data", f"retraining on {choice} ({len(files)} files) as given")
        return RetrainDataResult(uri=choice, rows=None, source="uri")

    name = params.model_name or settings.model_name
    reference_uri, version = champion_data_uri(settings, name, params.champion_version)
    try:
        reference, _ = read_dataset(reference_uri, keep_text={TIME_COLUMN})
    except BadInput as exc:
        raise BadInput(
            f"{name} version {version}'s training data (its mlops.data_uri) cannot be read: {exc}; {REMEDY}"
        ) from None
    current, _ = read_dataset(params.current_uri, keep_text={TIME_COLUMN})
    combined, dropped = combine(reference, current, reference_uri, params.current_uri)
    uri = storage.join(step_folder(params.run_dir, "retrain_data"), "retrain.parquet")
    storage.write_table(combined, uri)
    log(
        "retrain-data",
        f"{len(reference):,} rows of version {version}'s training data ({reference_uri}) + {len(current):,}"
        f" current rows - {dropped:,} duplicates = {len(combined):,} rows",
    )
    return RetrainDataResult(
        uri=uri,
        rows=len(combined),
        source=REFERENCE_AND_CURRENT,
        reference_uri=reference_uri,
        reference_rows=len(reference),
        current_rows=len(current),
        duplicates_dropped=dropped,
    )


def main(argv: list[str] | None = None) -> None:
    run_step("retrain_data", RetrainDataParams, retrain_data, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
