"""Ingest: read every file under the data URI, make one consistent table, split it.

Every partition must have the same columns; text that should be numbers is converted, and a
stray non-number in a numeric column is reported by file, column and row. Exact duplicate rows
(replayed events) are dropped. ``--split auto`` splits by the time column (``--time-column``,
default ``event_time``) when the data has it (train on the past, test on the most recent),
otherwise seeded random; ``time``, ``random`` and ``stratified`` (seeded, each split keeping the
label's class shares) choose. Writes ``ingest/{train,validation,test}.parquet`` and
``ingest/metadata.json`` to the run folder.
"""

from __future__ import annotations

import hashlib
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from steps import storage
from steps.contract import StepParams, StepResult, log, run_step, step_folder
from steps.errors import BadInput, shown

SPLITS = ("train", "validation", "test")
# A text column is numeric when at most this share of its values fail to parse (the rest are typos).
STRAY_TEXT_SHARE = 0.05
PARSE_CHUNK = 8192
# Partitions read at once: enough to hide S3's per-request latency, few enough to bound memory.
READERS = 8


class IngestParams(StepParams):
    """Read a dataset (folder, file or s3:// prefix of Parquet/CSV) into train/validation/test splits."""

    data_uri: str | None = Field(None, description="dataset location; default MLOPS_DATA_URI")
    target_column: str | None = Field(None, description="label column; default MLOPS_TARGET_COLUMN")
    time_column: str = Field("event_time", description="the rows' time: split by it when present")
    split: Literal["auto", "time", "random", "stratified"] = Field(
        "auto",
        description="auto: by the time column when present, else random; stratified keeps the label's"
        " class shares in every split",
    )
    validation_fraction: float = Field(0.15, gt=0, lt=0.5)
    test_fraction: float = Field(0.15, gt=0, lt=0.5)
    seed: int = Field(42, ge=0)

    @model_validator(mode="after")
    def _room_to_train(self) -> IngestParams:
        if self.validation_fraction + self.test_fraction >= 0.8:
            raise ValueError("validation-fraction + test-fraction must leave at least 20% to train")
        return self


class IngestResult(StepResult):
    rows_in: int
    rows_out: int
    duplicates_dropped: int
    fingerprint: str
    split: str
    data_uri: str


def _coerce_text_numbers(frame: pd.DataFrame, uri: str, keep: set[str]) -> pd.DataFrame:
    """Turn text columns that hold numbers into numbers; a few stray words are an error, named."""
    for column in frame.columns:
        if column in keep or frame[column].dtype != object:
            continue
        values = frame[column]
        present = values.notna()
        if not present.any():
            frame[column] = pd.to_numeric(values, errors="coerce")
            continue
        parsed = _numbers_unless_text(values, STRAY_TEXT_SHARE * present.sum())
        if parsed is None:
            continue
        stray = present & parsed.isna()
        if not stray.any():
            frame[column] = parsed
        else:  # numbers with a few stray words: a typo, reported where it is
            row = int(np.flatnonzero(stray.to_numpy())[0])
            raise BadInput(
                f"{uri}: column '{column}', row {row + 1}: {shown(values.iloc[row])} is not a number"
            )
    return frame


def _numbers_unless_text(values: pd.Series, stray_allowed: float) -> pd.Series | None:
    """The values parsed as numbers, or None as soon as more of them fail than ``stray_allowed``
    (a text column then costs a few chunks of parsing, not all of it)."""
    parts, stray = [], 0
    for start in range(0, len(values), PARSE_CHUNK):
        chunk = values.iloc[start : start + PARSE_CHUNK]
        parsed = pd.to_numeric(chunk, errors="coerce")
        stray += int((chunk.notna() & parsed.isna()).sum())
        if stray > stray_allowed:
            return None
        parts.append(parsed)
    return pd.concat(parts) if len(parts) > 1 else parts[0]


def value_kind(series: pd.Series) -> str:
    """What a column holds, as partitions and datasets are compared: number, time or text."""
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "time"
    return "text"


def read_dataset(data_uri: str, keep_text: set[str]) -> tuple[pd.DataFrame, list[str]]:
    """All files under ``data_uri`` as one frame; partitions must agree on columns and kinds."""
    files = storage.list_files(data_uri)
    frames: list[pd.DataFrame] = []
    # Partitions download and parse in parallel (both release the GIL); checks go in file order,
    # so the first bad file reported is always the same one.
    with ThreadPoolExecutor(max_workers=min(READERS, len(files))) as pool:
        for uri, frame in zip(files, pool.map(storage.read_table, files), strict=True):
            _check_column_names(frame.columns, uri)
            frame = _coerce_text_numbers(frame, uri, keep_text)
            if frames:
                _check_same_schema(frames[0], files[0], frame, uri)
            frames.append(frame)
    combined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if combined.empty:
        raise BadInput(f"{data_uri}: the data has a header but no rows")
    return combined, files


def _check_column_names(columns: pd.Index, uri: str) -> None:
    for number, name in enumerate(columns, start=1):
        if not str(name).strip() or str(name).startswith("Unnamed: "):
            raise BadInput(f"{uri}: column {number} has no name")
    duplicated = columns[columns.duplicated()].tolist()
    if duplicated:
        raise BadInput(f"{uri}: column '{duplicated[0]}' appears more than once")


def _check_same_schema(first: pd.DataFrame, first_uri: str, frame: pd.DataFrame, uri: str) -> None:
    missing = [c for c in first.columns if c not in frame.columns]
    extra = [c for c in frame.columns if c not in first.columns]
    if missing or extra:
        what = f"missing '{missing[0]}'" if missing else f"unexpected column '{extra[0]}'"
        raise BadInput(f"{uri}: columns differ from {first_uri}: {what}")
    for column in first.columns:
        if first[column].notna().any() and frame[column].notna().any():
            before, now = value_kind(first[column]), value_kind(frame[column])
            if before != now:
                raise BadInput(f"{uri}: column '{column}' holds {now} where {first_uri} holds {before}")


def fingerprint(frame: pd.DataFrame) -> str:
    """A content hash that ignores row order and file layout: the same rows give the same fingerprint."""
    row_hashes = np.sort(pd.util.hash_pandas_object(frame, index=False).to_numpy())
    digest = hashlib.sha256(row_hashes.tobytes())
    digest.update(",".join(f"{c}:{t}" for c, t in frame.dtypes.astype(str).items()).encode())
    return digest.hexdigest()


def _parse_time(frame: pd.DataFrame, column: str) -> None:
    raw = frame[column]
    parsed = pd.to_datetime(raw, utc=True, errors="coerce", format="mixed")
    bad = raw.notna() & parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise BadInput(f"column '{column}', row {row + 1}: {shown(raw.iloc[row])} is not a timestamp")
    frame[column] = parsed


def split(frame: pd.DataFrame, params: IngestParams, how: str, target: str) -> dict[str, pd.DataFrame]:
    """Train on the past and test on the most recent rows (``time``), a seeded shuffle (``random``),
    or a seeded shuffle that keeps the label's class shares in every split (``stratified``)."""
    n = len(frame)
    n_test = round(n * params.test_fraction)
    n_val = round(n * params.validation_fraction)
    n_train = n - n_val - n_test
    if how == "stratified":
        return stratified(frame, target, params.seed, n_val, n_test)
    if how == "time":
        order = np.argsort(frame[params.time_column].to_numpy(), kind="stable")
    else:
        order = np.random.default_rng(params.seed).permutation(n)
    bounds = {"train": (0, n_train), "validation": (n_train, n_train + n_val), "test": (n_train + n_val, n)}
    return {name: frame.iloc[order[a:b]].reset_index(drop=True) for name, (a, b) in bounds.items()}


def stratified(
    frame: pd.DataFrame, target: str, seed: int, n_val: int, n_test: int
) -> dict[str, pd.DataFrame]:
    """Seeded splits of the sizes ``split`` gives, each with the label's class shares; rows keep
    their order within a split."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(frame))
    labels = frame[target].to_numpy()
    try:
        rest, test = train_test_split(rows, test_size=n_test, stratify=labels, random_state=seed)
        train, validation = train_test_split(rest, test_size=n_val, stratify=labels[rest], random_state=seed)
    except ValueError as exc:  # a class too small to be in every split, or a split too small for every class
        counts = ", ".join(f"{k}: {v:,}" for k, v in pd.Series(labels).value_counts().sort_index().items())
        raise BadInput(
            f"parameter --split: stratified cannot put every class of '{target}' in {n_val:,} validation"
            f" and {n_test:,} test rows (rows per class: {counts}); {str(exc).splitlines()[0][:120]}"
        ) from None
    parts = {"train": train, "validation": validation, "test": test}
    return {name: frame.iloc[np.sort(part)].reset_index(drop=True) for name, part in parts.items()}


def split_kind(params: IngestParams, columns: pd.Index) -> str:
    """The split ``--split`` asks for, ``auto`` resolved; ``time`` needs the time column."""
    has_time = params.time_column in columns
    if params.split == "auto":
        return "time" if has_time else "random"
    if params.split == "time" and not has_time:
        raise BadInput(
            f"parameter --split: time needs column '{params.time_column}', which the data lacks;"
            " name the time column with --time-column (-p time-column=...) or use --split random"
        )
    return params.split


def ingest(params: IngestParams, settings) -> IngestResult:
    """Read, coerce, de-duplicate and split the dataset at ``data_uri`` into the run folder."""
    data_uri = params.data_uri or settings.data_uri
    storage.check_data_uri(data_uri, settings.allowed_data_prefixes)
    target = params.target_column or settings.target_column
    frame, files = read_dataset(data_uri, keep_text={params.time_column})
    log("ingest", f"read {len(frame):,} rows from {len(files)} files under {data_uri}")
    if target not in frame.columns:
        raise BadInput(
            f"column '{target}': missing; the label column must be in the data (columns: {', '.join(map(str, frame.columns))})"
        )
    how = split_kind(params, frame.columns)
    has_time = params.time_column in frame.columns
    if has_time:
        _parse_time(frame, params.time_column)
    rows_in = len(frame)
    frame = frame.drop_duplicates(ignore_index=True)
    unlabelled = int(frame[target].isna().sum())
    if unlabelled:
        log("ingest", f"dropped {unlabelled:,} rows without a '{target}' value")
        frame = frame[frame[target].notna()].reset_index(drop=True)
    splits = split(frame, params, how, target)
    out = step_folder(params.run_dir, "ingest")
    for name, part in splits.items():
        storage.write_table(part, storage.join(out, f"{name}.parquet"))
    result = IngestResult(
        rows_in=rows_in,
        rows_out=len(frame),
        duplicates_dropped=rows_in - unlabelled - len(frame),
        fingerprint=fingerprint(frame),
        split=how,
        data_uri=data_uri,
    )
    metadata = result.model_dump() | {
        "files": files,
        "target_column": target,
        "time_column": params.time_column if has_time else None,
        "rows_unlabelled": unlabelled,
        "split_rows": {name: len(part) for name, part in splits.items()},
        "columns": {str(c): str(t) for c, t in frame.dtypes.items()},
    }
    storage.write_json(storage.join(out, "metadata.json"), metadata)
    log("ingest", f"split {result.split}: " + ", ".join(f"{k} {len(v):,}" for k, v in splits.items()))
    return result


def main(argv: list[str] | None = None) -> None:
    run_step("ingest", IngestParams, ingest, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
