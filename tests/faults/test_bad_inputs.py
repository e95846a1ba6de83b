"""The bad-input corpus: each malformed input or out-of-range parameter gives one clear line naming
what is wrong and exit 65, and the registry (champion included) and the GitOps repository are
left exactly as they were."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import MODEL, run_chain, run_step
from workflows.local.sample_data import generate

pytestmark = [pytest.mark.e2e, pytest.mark.faults]
ROWS = 2000


def sample() -> pd.DataFrame:
    return generate(ROWS, seed=1)


def parquet(*frames: pd.DataFrame):
    def make(folder: Path) -> str:
        folder.mkdir(parents=True)
        for number, frame in enumerate(frames):
            frame.to_parquet(folder / f"part-{number}.parquet", index=False)
        return str(folder)

    return make


def raw(name: str, data: bytes):
    def make(folder: Path) -> str:
        folder.mkdir(parents=True)
        (folder / name).write_bytes(data)
        return str(folder)

    return make


def changed(**columns) -> pd.DataFrame:
    frame = sample()
    for column, value in columns.items():
        frame[column] = value(frame) if callable(value) else value
    return frame


def csv_with_typo() -> bytes:
    frame = sample()
    frame["amount"] = frame["amount"].astype(object)
    frame.loc[17, "amount"] = "twelve"
    return frame.to_csv(index=False).encode()


def csv_with_repeated_header() -> bytes:
    lines = sample().to_csv(index=False).splitlines()
    lines[0] = lines[0].replace("hour", "amount")
    return "\n".join(lines).encode()


def latin1_csv() -> bytes:
    frame = changed(merchant_category=lambda f: f["merchant_category"] + "é")
    return frame.to_csv(index=False).encode("latin-1")


def truncated_parquet() -> bytes:
    data = sample().to_parquet(index=False)
    return data[: len(data) // 2]


def with_infinity() -> pd.DataFrame:
    frame = sample()
    frame.loc[5, "amount"] = np.inf
    return frame


def three_classes(frame: pd.DataFrame) -> np.ndarray:
    return np.where(np.arange(len(frame)) % 3 == 0, 2, frame["target"])


def text_in_second_partition() -> pd.DataFrame:
    return changed(hour=lambda f: f["hour"].astype(str) + "h")


def missing_uri(folder: Path) -> str:
    return str(folder / "does-not-exist")


GOOD = parquet(sample())
FREE_TEXT = parquet(changed(note=lambda f: [("y" * 5000) + str(i) for i in range(len(f))]))
FEATURES_WITH_NOTE = "amount,hour,merchant_category,note"

# case: (data maker, or None to run only the failing step on good data; extra step arguments;
#        failing step; what the one line must say)
CASES = {
    "missing target column": (parquet(sample().drop(columns=["target"])), {}, "ingest", "column 'target': missing"),
    "text in a numeric CSV column": (raw("export.csv", csv_with_typo()), {}, "ingest", "column 'amount', row 18: 'twelve' is not a number"),
    "0-byte file": (raw("part-0.parquet", b""), {}, "ingest", "part-0.parquet: empty file (0 bytes)"),
    "truncated Parquet": (raw("part-0.parquet", truncated_parquet()), {}, "ingest", "part-0.parquet: not a readable Parquet file"),
    "non-UTF-8 CSV": (raw("export.csv", latin1_csv()), {}, "ingest", "export.csv: not UTF-8 text (byte"),
    "duplicated column in a CSV header": (raw("export.csv", csv_with_repeated_header()), {}, "ingest", "column 'amount' appears more than once"),
    "column without a name": (parquet(sample().rename(columns={"amount": ""})), {}, "ingest", "column 3 has no name"),
    "schema changes between partitions": (parquet(sample(), text_in_second_partition()), {}, "ingest", "part-1.parquet: column 'hour' holds text where"),
    "unparseable timestamp": (parquet(changed(event_time="not a time")), {}, "ingest", "column 'event_time', row 1: 'not a time' is not a timestamp"),
    "no data files": (raw("README.txt", b"nothing here"), {}, "ingest", "no data files (.parquet, .pq, .csv) found"),
    "data URI does not exist": (missing_uri, {}, "ingest", "does-not-exist: does not exist"),
    "all-NaN column": (parquet(changed(distance_from_home_km=np.nan)), {}, "validate_data", "column 'distance_from_home_km': rule not-all-missing"),
    "infinite values": (parquet(with_infinity()), {}, "validate_data", "column 'amount': rule finite: 1 infinite values (first at row 6)"),
    "one-class label": (parquet(changed(target=0)), {}, "validate_data", "column 'target': rule both-classes"),
    "label with three classes": (parquet(changed(target=three_classes)), {}, "validate_data", "rule binary: found 3 classes (0, 1, 2)"),
    "fractional label": (parquet(changed(target=0.5)), {}, "validate_data", "rule binary: found 1 classes (0.5)"),
    "text label": (parquet(changed(target=lambda f: np.where(f["target"] == 1, "yes", "no"))), {}, "validate_data", "the label must be 0/1, found text such as 'no'"),
    "no labelled rows": (parquet(changed(target=np.nan)), {}, "validate_data", "column 'target': rule min-rows: 0 rows"),
    "too few rows": (parquet(sample().head(20)), {}, "validate_data", "rule min-rows: 20 rows, need at least 200"),
    "huge constant string column": (parquet(changed(note="x" * 100_000)), {}, "validate_data", "every value is 'xxxx"),
    "huge free-text column as a feature": (FREE_TEXT, {"validate_data": ["--feature-columns", FEATURES_WITH_NOTE]}, "validate_data", "column 'note': rule categorical-cardinality: 2,004 distinct values (max 100)"),
    "negative epochs": (None, {"train": ["--epochs", "-3"]}, "train", "parameter --epochs: Input should be greater than or equal to 1"),
    "zero learning rate": (None, {"train": ["--lr", "0"]}, "train", "parameter --lr: Input should be greater than 0"),
    "hidden sizes not numbers": (None, {"train": ["--hidden-sizes", "64,abc"]}, "train", "parameter --hidden-sizes.1: Input should be a valid integer"),
    "min-auc above 1": (None, {"evaluate": ["--min-auc", "1.5"]}, "evaluate", "parameter --min-auc: Input should be less than or equal to 1"),
    "splits leave nothing to train": (GOOD, {"ingest": ["--validation-fraction", "0.45", "--test-fraction", "0.45"]}, "ingest", "parameters: validation-fraction + test-fraction must leave at least 20% to train"),
}  # fmt: skip


def gitops_state(env: dict[str, str]) -> str:
    """The GitOps repository's refs (empty when no deploy ever ran)."""
    repo = Path(env["MLOPS_STORAGE_ROOT"]) / "gitops.git"
    if not repo.exists():
        return ""
    return subprocess.run(["git", "--git-dir", str(repo), "show-ref"], capture_output=True, text=True).stdout


def test_the_corpus_has_at_least_twenty_cases():
    assert len(CASES) >= 20 and {step for _, step, _, _ in LATE_CASES.values()} == {
        "register",
        "promote",
        "deploy",
    }


@pytest.fixture(scope="module")
def prepared(registry, tmp_path_factory) -> Path:
    """Good data taken through features once: a parameter case runs only the step it targets."""
    folder = tmp_path_factory.mktemp("prepared")
    data_uri = GOOD(folder / "data")
    for step, args in (
        ("ingest", ["--data-uri", data_uri]),
        ("validate_data", []),
        ("features", []),
        ("train", ["--epochs", "1"]),
    ):
        done = run_step(step, "--run-dir", str(folder / "run"), *args, env=registry.env)
        assert done.returncode == 0, done.stderr[-2000:]
    return folder / "run"


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_exit_65_and_nothing_good_is_touched(
    case, champion_run, registry, prepared, tmp_path
):
    make, extra_args, failing_step, message = CASES[case]
    before, repo_before = registry.snapshot(), gitops_state(registry.env)
    if make is None:  # a bad parameter of one step, on data already taken that far
        run_dir = tmp_path / "run"
        shutil.copytree(prepared, run_dir)
        done = run_step(failing_step, "--run-dir", str(run_dir), *extra_args[failing_step], env=registry.env)
        step = failing_step
    else:
        data_uri = make(tmp_path / "data")
        args = {**extra_args, "ingest": ["--data-uri", data_uri, *extra_args.get("ingest", [])]}
        step, done = run_chain(tmp_path / "run", registry.env, args)
    assert step == failing_step, done.stderr[-2000:]
    assert done.returncode == 65, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    errors = done.error_lines()
    assert len(errors) == 1, done.stderr[-2000:]
    assert errors[0].startswith(f"{failing_step}: error: ") and message in errors[0], errors[0]
    assert len(errors[0]) < 400  # one readable line, whatever the input held
    assert done.outputs == {}
    assert registry.snapshot() == before
    assert gitops_state(registry.env) == repo_before


# ---- bad input that reaches register, promote and deploy: a good run until then, so that a step that took
# the input would move the registry or the GitOps repository and "left exactly as they were" can fail ----


def cut_short(step: str):
    def corrupt(run_dir: Path) -> None:
        path = run_dir / step / "result.json"
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])

    return corrupt


def without(step: str, field: str):
    def corrupt(run_dir: Path) -> None:
        path = run_dir / step / "result.json"
        path.write_text(json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != field}))

    return corrupt


def naming_version(version: str):
    def corrupt(run_dir: Path) -> None:
        path = run_dir / "register" / "result.json"
        path.write_text(json.dumps(json.loads(path.read_text()) | {"version": version}))

    return corrupt


def untouched(run_dir: Path) -> None:
    pass


# case: (what is done to the good run folder, failing step, its arguments, what the one line must say)
LATE_CASES = {
    "evaluate's result cut short": (cut_short("evaluate"), "register", [], "evaluate/result.json: not a readable result"),
    "evaluate's result without its decision": (without("evaluate", "decision"), "register", [], "evaluate/result.json: no field 'decision'"),
    "register's result naming an unknown version": (naming_version("999"), "promote", [], f"model '{MODEL}' has no version '999'"),
    "unknown version given to promote": (untouched, "promote", ["--model-name", MODEL, "--version", "999"], f"model '{MODEL}' has no version '999'"),
    "register's result cut short": (cut_short("register"), "deploy", [], "register/result.json: not a readable result"),
    "unknown version given to deploy": (untouched, "deploy", ["--model-name", MODEL, "--version", "999"], f"model '{MODEL}' has no version '999'"),
}  # fmt: skip


@pytest.fixture(scope="module")
def registered(champion_run, registry, prepared, tmp_path_factory) -> Path:
    """A run taken through register with a promote decision: promote and deploy would move things."""
    run_dir = tmp_path_factory.mktemp("registered") / "run"
    shutil.copytree(prepared, run_dir)
    for step, args in (("evaluate", ["--min-auc", "0", "--min-delta", "-1"]), ("register", [])):
        done = run_step(step, "--run-dir", str(run_dir), *args, env=registry.env)
        assert done.returncode == 0, done.stderr[-2000:]
    assert done.result["decision"] == "promote"  # the premise: with good input, promote moves the champion
    return run_dir


@pytest.mark.parametrize("case", LATE_CASES)
def test_bad_input_reaching_the_registry_or_gitops_changes_neither(case, registry, registered, tmp_path):
    corrupt, step, args, message = LATE_CASES[case]
    run_dir = tmp_path / "run"
    shutil.copytree(registered, run_dir)
    corrupt(run_dir)
    before, repo_before = registry.snapshot(), gitops_state(registry.env)
    done = run_step(step, "--run-dir", str(run_dir), *args, env=registry.env)
    assert done.returncode == 65, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    errors = done.error_lines()
    assert len(errors) == 1 and errors[0].startswith(f"{step}: error: ") and message in errors[0], done.stderr
    assert registry.snapshot() == before
    assert gitops_state(registry.env) == repo_before
