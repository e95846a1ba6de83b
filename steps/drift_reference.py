"""What a drift check needs of the champion's training data, kept between checks.

The reference stays the same for as long as the champion does, yet every check read it, removed its
duplicates, fingerprinted it, predicted it with the champion and sorted each column. A ``Profile``
holds what the tests and the report use instead: each numeric column's finite values sorted, its
standard deviation, the value counts of columns with few values, the row count, the columns and
whether the data changed since training, and the report's sample of it with the predictions. It is
kept under ``<storage root>/cache/drift-reference/<model>/<key>.npz`` (the sample beside it as
Parquet), where the key hashes all it was made from: the champion's name, version and run, the
content of every reference file (sha256 locally, ETag and size on S3), the report's seed, and the
source of the code that reads and summarises it with the library versions. So a new champion,
changed data or changed code all make a new profile; an unreadable one is a miss, and one that cannot
be written is noted and changes nothing. Older profiles of the model are removed when one is kept.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from steps import storage
from steps.contract import log
from steps.drift_stats import LARGE_REFERENCE, finite

FORMAT = 1
FOLDER = ("cache", "drift-reference")
# Value counts are kept for columns with at most this many distinct values (what Jensen-Shannon needs).
MAX_COUNTED = 1000
# The code whose change changes what a profile holds.
SOURCES = ("ingest.py", "drift_reference.py", "drift_stats.py")


@dataclass
class Profile:
    rows: int  # described here: as read, or its sample for a sampled check
    read: int  # as read, duplicates removed
    columns: list[str]  # of the reference as read
    changed_since_training: bool
    shown: pd.DataFrame  # the report's sample, with the predictions
    ordered: dict[str, np.ndarray] = field(default_factory=dict)  # finite values, sorted, as float
    spread: dict[str, float] = field(
        default_factory=dict
    )  # np.std of the finite values, as Evidently takes it
    counts: dict[str, pd.Series] = field(default_factory=dict)  # value -> count, few-valued columns only
    sizes: dict[str, int] = field(default_factory=dict)  # finite values per column
    frame: pd.DataFrame | None = None  # the reference itself, when it was read for this check

    def answers(self, column: str, kind: str) -> bool:
        """Whether the default test of this column (of this kind in the current data) needs only the profile."""
        if self.sizes.get(column, 0) <= LARGE_REFERENCE:
            return False  # Evidently's small-reference tests, or a column the reference lacks
        return column in (self.ordered if kind == "num" else self.counts if kind == "cat" else ())


def summarise(frame: pd.DataFrame, changed: bool, shown: pd.DataFrame, read: pd.DataFrame) -> Profile:
    """The profile of the checked columns of a reference (with its predictions) taken from the frame
    ``read``; it keeps the frame."""
    profile = Profile(len(frame), len(read), list(read.columns), changed, shown, frame=frame)
    for column in frame.columns:
        values = finite(frame[column])
        profile.sizes[column] = len(values)
        if values.dtype.kind in "fiu":
            ordered = profile.ordered[column] = np.sort(np.asarray(values.to_numpy(), dtype=float))
            profile.spread[column] = float(np.std(values))
            if (
                np.count_nonzero(np.diff(ordered)) >= MAX_COUNTED
            ):  # many values: no counts (sorting counted them)
                continue
        counts = values.value_counts()
        if len(counts) <= MAX_COUNTED:
            profile.counts[column] = counts
    return profile


def key(name: str, champion, data_content: dict[str, str], seed: int, report_rows: int) -> str:
    """What a profile is made from, hashed: any change makes another key."""
    here = Path(__file__).resolve().parent
    parts = {
        "format": FORMAT,
        "champion": [name, str(champion.version), str(champion.run_id or "")],
        "data": data_content,
        "report": [seed, report_rows],
        "code": {s: hashlib.sha256((here / s).read_bytes()).hexdigest() for s in SOURCES},
        "libraries": {lib: metadata.version(lib) for lib in ("numpy", "pandas", "pyarrow")},
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def folder_uri(storage_root: str, name: str) -> str:
    return storage.join(storage_root, *FOLDER, re.sub(r"[^A-Za-z0-9_.-]", "_", name))


def load(storage_root: str, name: str, profile_key: str) -> Profile | None:
    """The kept profile of this key, or None."""
    folder = folder_uri(storage_root, name)
    uri = storage.join(folder, f"{profile_key}.npz")
    try:
        if not storage.exists(uri):
            return None
        with np.load(io.BytesIO(storage.read_bytes(uri)), allow_pickle=False) as kept:
            meta = json.loads(str(kept["meta"]))
            ordered = {c: kept[f"ordered/{i}"] for i, c in enumerate(meta["ordered"])}
        shown = pd.read_parquet(
            io.BytesIO(storage.read_bytes(storage.join(folder, f"{profile_key}.parquet")))
        )
    except Exception as exc:  # a torn or foreign file is a miss: the reference is read again
        log("drift", f"kept reference profile not used: {type(exc).__name__}: {exc}")
        return None
    counts = {
        c: pd.Series(n, index=pd.Index(values), dtype="int64") for c, (values, n) in meta["counts"].items()
    }
    return Profile(
        meta["rows"], meta["read"], meta["columns"], meta["changed"], shown, ordered, meta["spread"], counts,
        meta["sizes"],
    )  # fmt: skip


def store(storage_root: str, name: str, profile_key: str, profile: Profile) -> None:
    """Keep the profile (the sample first: the .npz, written whole, is what says a profile is there)
    and remove the model's older ones."""
    folder = folder_uri(storage_root, name)
    meta = {
        "rows": profile.rows, "read": profile.read, "columns": profile.columns, "changed": profile.changed_since_training,
        "ordered": list(profile.ordered), "spread": profile.spread, "sizes": profile.sizes,
        "counts": {c: [_plain(s.index), s.tolist()] for c, s in profile.counts.items()},
    }  # fmt: skip
    arrays = {f"ordered/{i}": values for i, values in enumerate(profile.ordered.values())}
    try:
        sample = io.BytesIO()
        profile.shown.to_parquet(sample)
        storage.write_bytes(storage.join(folder, f"{profile_key}.parquet"), sample.getvalue())
        kept = io.BytesIO()
        np.savez(kept, meta=np.array(json.dumps(meta)), **arrays)
        storage.write_bytes(storage.join(folder, f"{profile_key}.npz"), kept.getvalue())
        _remove_others(folder, profile_key)
    except Exception as exc:  # the check itself succeeded: a profile that cannot be kept changes nothing
        log("drift", f"reference profile not kept: {type(exc).__name__}: {exc}")


def _plain(index: pd.Index) -> list:
    return [v.item() if isinstance(v, np.generic) else v for v in index]


def _remove_others(folder: str, profile_key: str) -> None:
    from steps import storage_files

    for rel in storage_files.walk(folder):
        if not rel.startswith(profile_key) and "/" not in rel:
            storage_files.delete(storage.join(folder, rel))
