"""The split as a workflow parameter (issue 13 #3): a time split that leaves one class in a split
is refused with the remedy, and ``split=stratified`` gets past it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from steps.errors import BadInput
from steps.ingest import IngestParams, ingest
from steps.validate_data import ValidateDataParams, validate_data
from tests.conftest import ROOT, local_env, run_step
from workflows.settings import Settings

SETTINGS = Settings()


def process_monitoring(rows: int = 1000, fault_share: float = 0.4, seed: int = 0) -> pd.DataFrame:
    """Sensor readings every minute: normal operation first, then the faults (a common shape)."""
    rng = np.random.default_rng(seed)
    faults = int(rows * fault_share)
    label = np.r_[np.zeros(rows - faults, dtype=int), np.ones(faults, dtype=int)]
    return pd.DataFrame(
        {
            "event_time": pd.date_range("2026-03-01", periods=rows, freq="min", tz="UTC"),
            "pressure": rng.normal(size=rows) + 1.5 * label,
            "temperature": rng.normal(size=rows) - label,
            "flow": rng.normal(size=rows),
            "target": label,
        }
    )


def write(tmp_path, frame: pd.DataFrame) -> str:
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(data / "part-0.parquet", index=False)
    return str(data)


def splits(run_dir: str) -> dict[str, pd.DataFrame]:
    return {n: pd.read_parquet(f"{run_dir}/ingest/{n}.parquet") for n in ("train", "validation", "test")}


def test_time_split_with_one_class_per_split_is_refused_with_the_remedy_then_stratified_passes(tmp_path):
    data = write(tmp_path, process_monitoring())
    env = local_env(tmp_path)
    run_dir = str(tmp_path / "by-time")
    done = run_step("ingest", "--run-dir", run_dir, "--data-uri", data, env=env)
    assert done.returncode == 0 and done.result["split"] == "time", done.stderr
    refused = run_step("validate_data", "--run-dir", run_dir, env=env)
    assert refused.returncode == 65
    assert refused.error_lines() == [
        "validate_data: error: column 'target': rule both-classes: the validation split has only class 1"
        " (and 1 more in validate-data/report.json); the split by 'event_time' puts all rows of a class"
        " on one side (e.g. every normal row before the first fault): use -p split=stratified"
        " (ingest --split stratified)"
    ]

    run_dir = str(tmp_path / "stratified")
    done = run_step("ingest", "--run-dir", run_dir, "--data-uri", data, "--split", "stratified", env=env)
    assert done.returncode == 0 and done.outputs["split"] == "stratified", done.stderr
    passed = run_step("validate_data", "--run-dir", run_dir, env=env)
    assert passed.returncode == 0, passed.stderr
    parts = splits(run_dir)
    assert {n: len(p) for n, p in parts.items()} == {"train": 700, "validation": 150, "test": 150}
    assert {n: p["target"].mean() for n, p in parts.items()} == pytest.approx(
        {"train": 0.4, "validation": 0.4, "test": 0.4}
    )
    assert all(p["event_time"].is_monotonic_increasing for p in parts.values())  # rows keep their order
    schema = json.loads((tmp_path / "stratified" / "validate-data" / "report.json").read_text())["schema"]
    assert schema["numeric"] == ["pressure", "temperature", "flow"]  # the time is not a feature


def test_stratified_split_is_seeded(tmp_path):
    data = write(tmp_path, process_monitoring(seed=1))

    def test_rows(folder: str, seed: int) -> pd.DataFrame:
        run_dir = str(tmp_path / folder)
        ingest(IngestParams(run_dir=run_dir, data_uri=data, split="stratified", seed=seed), SETTINGS)
        return splits(run_dir)["test"]

    assert test_rows("a", 1).equals(test_rows("b", 1))
    assert not test_rows("a", 1).equals(test_rows("c", 2))


def test_random_split_on_request_ignores_the_time_column_but_keeps_it_out_of_the_features(tmp_path):
    data = write(tmp_path, process_monitoring(fault_share=0.3))
    run_dir = str(tmp_path / "run")
    result = ingest(IngestParams(run_dir=run_dir, data_uri=data, split="random"), SETTINGS)
    assert result.split == "random"
    assert not splits(run_dir)["train"]["event_time"].is_monotonic_increasing
    validate_data(ValidateDataParams(run_dir=run_dir), SETTINGS)
    schema = json.loads((tmp_path / "run" / "validate-data" / "report.json").read_text())["schema"]
    assert schema["numeric"] == ["pressure", "temperature", "flow"]


def test_time_column_names_the_column_to_split_by(tmp_path):
    frame = process_monitoring(fault_share=0.1).rename(columns={"event_time": "recorded_at"})
    frame = frame.sample(frac=1, random_state=0)  # stored out of order: the split sorts by time
    run_dir = str(tmp_path / "run")
    result = ingest(
        IngestParams(run_dir=run_dir, data_uri=write(tmp_path, frame), time_column="recorded_at"), SETTINGS
    )
    assert result.split == "time"
    parts = splits(run_dir)
    assert parts["train"]["recorded_at"].max() < parts["validation"]["recorded_at"].min()
    assert parts["validation"]["recorded_at"].max() < parts["test"]["recorded_at"].min()


def test_time_split_without_the_time_column_names_the_parameters(tmp_path):
    data = write(tmp_path, process_monitoring().drop(columns=["event_time"]))
    with pytest.raises(BadInput) as caught:
        ingest(IngestParams(run_dir=str(tmp_path / "run"), data_uri=data, split="time"), SETTINGS)
    assert str(caught.value) == (
        "parameter --split: time needs column 'event_time', which the data lacks;"
        " name the time column with --time-column (-p time-column=...) or use --split random"
    )


def test_stratified_split_with_a_class_too_small_says_so(tmp_path):
    frame = process_monitoring(rows=300, fault_share=0.0)
    frame.loc[5, "target"] = 1
    data = write(tmp_path, frame)
    with pytest.raises(BadInput, match=r"^parameter --split: stratified cannot put every class of 'target'"):
        ingest(IngestParams(run_dir=str(tmp_path / "run"), data_uri=data, split="stratified"), SETTINGS)


def test_split_refused_by_name_at_the_command_line(tmp_path):
    done = run_step(
        "ingest", "--run-dir", str(tmp_path / "run"), "--split", "shuffled", env=local_env(tmp_path)
    )
    assert done.returncode == 65
    assert len(done.error_lines()) == 1 and "parameter --split:" in done.error_lines()[0]


def test_training_workflow_passes_split_and_time_column_to_ingest():
    manifest = yaml.safe_load((ROOT / "manifests" / "training.yaml").read_text())
    parameters = {p["name"]: p["value"] for p in manifest["spec"]["arguments"]["parameters"]}
    assert parameters["split"] == "auto" and parameters["time-column"] == "event_time"
    assert parameters["replace-incompatible-champion"] == "false"
    dag = next(t["dag"] for t in manifest["spec"]["templates"] if "dag" in t)
    tasks = {task["name"]: task for task in dag["tasks"]}
    wired = {
        task: {a["name"]: a["value"] for a in tasks[task]["arguments"]["parameters"]}
        for task in ("ingest", "evaluate")
    }
    assert wired["ingest"]["split"] == "{{workflow.parameters.split}}"
    assert wired["ingest"]["time-column"] == "{{workflow.parameters.time-column}}"
    assert wired["evaluate"]["replace-incompatible-champion"] == (
        "{{workflow.parameters.replace-incompatible-champion}}"
    )
    templates = {t["name"]: t for t in manifest["spec"]["templates"]}
    assert {"--split", "--time-column"} <= set(templates["ingest"]["container"]["args"])
    assert "--replace-incompatible-champion" in templates["evaluate"]["container"]["args"]
