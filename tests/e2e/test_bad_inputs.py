"""Bad inputs: each gives one clear line and exit 65, and the registry is left as it was."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.e2e.conftest import run_chain
from workflows.sample_data import generate

pytestmark = pytest.mark.e2e


def _write(folder: Path, frame: pd.DataFrame) -> str:
    folder.mkdir(parents=True)
    frame.to_parquet(folder / "part-0.parquet", index=False)
    return str(folder)


def missing_target(folder: Path) -> str:
    return _write(folder, generate(2000, seed=1).drop(columns=["target"]))


def non_numeric_feature(folder: Path) -> str:
    """A CSV export with one typo in a numeric column (Parquet cannot even hold it)."""
    frame = generate(2000, seed=1)
    frame["amount"] = frame["amount"].astype(object)
    frame.loc[17, "amount"] = "twelve"
    folder.mkdir(parents=True)
    frame.to_csv(folder / "export.csv", index=False)
    return str(folder)


def empty_file(folder: Path) -> str:
    folder.mkdir(parents=True)
    (folder / "part-0.parquet").write_bytes(b"")
    return str(folder)


def all_nan_column(folder: Path) -> str:
    frame = generate(2000, seed=1)
    frame["distance_from_home_km"] = np.nan
    return _write(folder, frame)


def one_class_target(folder: Path) -> str:
    frame = generate(2000, seed=1)
    frame["target"] = 0
    return _write(folder, frame)


def missing_uri(folder: Path) -> str:
    return str(folder / "does-not-exist")


def good_data(folder: Path) -> str:
    return _write(folder, generate(2000, seed=1))


CASES = {
    "missing target column": (missing_target, {}, "ingest", "column 'target': missing"),
    "non-numeric feature": (
        non_numeric_feature,
        {},
        "ingest",
        "column 'amount', row 18: 'twelve' is not a number",
    ),
    "empty file": (empty_file, {}, "ingest", "part-0.parquet: empty file (0 bytes)"),
    "all-NaN column": (
        all_nan_column,
        {},
        "validate_data",
        "column 'distance_from_home_km': rule not-all-missing",
    ),
    "one-class target": (one_class_target, {}, "validate_data", "column 'target': rule both-classes"),
    "data URI does not exist": (missing_uri, {}, "ingest", "does-not-exist: does not exist"),
    "negative epochs": (
        good_data,
        {"train": ["--epochs", "-3"]},
        "train",
        "parameter --epochs: Input should be greater than or equal to 1",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_exit_65_and_the_registry_is_untouched(case, champion_run, registry, tmp_path):
    make, extra_args, failing_step, message = CASES[case]
    data_uri = make(tmp_path / "data")
    before = registry.snapshot()
    step, done = run_chain(tmp_path / "run", registry.env, {"ingest": ["--data-uri", data_uri], **extra_args})
    assert step == failing_step, done.stderr
    assert done.returncode == 65, done.stderr
    assert "Traceback" not in done.stderr
    errors = done.error_lines()
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith(f"{failing_step}: error: ") and message in errors[0], errors[0]
    assert done.outputs == {}
    assert registry.snapshot() == before
