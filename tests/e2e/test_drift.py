"""The drift step against the champion's training data, with Evidently's data drift preset."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import MODEL, run_step
from workflows.local.sample_data import generate, write_partitions

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def current_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("current")
    write_partitions(generate(6000, seed=21, start="2026-04-01"), str(root / "steady"), 2)
    write_partitions(generate(6000, seed=21, drift=1.0, start="2026-04-01"), str(root / "drifted"), 2)
    return root


@pytest.fixture(scope="module")
def drifted(champion_run, registry, current_data, tmp_path_factory):
    """One check of the drifted data, the first of this champion (its kept reference profile removed), that the
    tests below read: a drift check takes tens of seconds, so each is run once."""
    import shutil

    shutil.rmtree(Path(registry.env["MLOPS_STORAGE_ROOT"], "cache", "drift-reference"), ignore_errors=True)
    folder = tmp_path_factory.mktemp("drifted")
    done = check(registry, folder, current_data / "drifted")
    assert done.returncode == 0, done.stderr
    from mlflow import MlflowClient

    client = MlflowClient(registry.url)
    experiment = client.get_experiment_by_name("drift")
    [logged] = client.search_runs(
        [experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1
    )
    return done, folder / "run" / "drift", logged


def report_verdicts(html: str) -> dict[str, str]:
    """Each column's "Data Drift" cell ("Detected" or "Not Detected") in the table Evidently's page embeds."""
    rows = re.findall(r'"column_name": "([^"]+)"(?:(?!"column_name").)*?"data_drift": "([^"]+)"', html, re.S)
    return dict(rows)


def check(registry, tmp_path, current, *extra):
    return run_step(
        "drift", "--run-dir", str(tmp_path / "run"), "--current-uri", str(current), *extra, env=registry.env
    )


def test_steady_data_does_not_drift(champion_run, registry, current_data, tmp_path):
    done = check(registry, tmp_path, current_data / "steady")
    assert done.returncode == 0, done.stderr
    assert done.result["drifted"] is False and done.outputs["drifted"] == "false"
    assert done.result["champion_version"] == champion_run["register"]["version"]


def test_the_current_data_defaults_to_the_drift_current_uri_setting(
    champion_run, registry, current_data, tmp_path
):
    """Run by hand without --current-uri, drift reads MLOPS_DRIFT_CURRENT_URI, as a scheduled check does."""
    env = registry.env | {"MLOPS_DRIFT_CURRENT_URI": str(current_data / "steady")}
    done = run_step("drift", "--run-dir", str(tmp_path / "run"), env=env)
    assert done.returncode == 0, done.stderr
    assert done.result["drifted"] is False
    details = json.loads((tmp_path / "run" / "drift" / "columns.json").read_text())
    assert details["current_uri"] == str(current_data / "steady")


def test_a_sampled_check_says_it_sampled(champion_run, registry, current_data, drifted, tmp_path):
    done = check(registry, tmp_path, current_data / "drifted", "--max-rows", "1000", "--seed", "3")
    assert done.returncode == 0, done.stderr
    details = json.loads((tmp_path / "run" / "drift" / "columns.json").read_text())
    assert details["sampled"] is True and details["seed"] == 3
    assert "sampled each side to at most 1,000 rows (seed 3)" in done.stderr
    unsampled = drifted[1] / "columns.json"  # the same data, every row
    assert json.loads(unsampled.read_text())["sampled"] is False


def test_drifted_data_is_reported_with_its_columns_and_an_html_report(drifted):
    done, folder, logged = drifted
    assert done.result["drifted"] is True and done.outputs["drifted"] == "true"
    assert {"amount", "prediction"} & set(done.result["drifted_columns"])
    # The report (drawn from every row here: 6,000 < its sample size) marks as drifted exactly the columns
    # the verdicts found drifted; the result names the strongest of them.
    marked = report_verdicts((folder / "report.html").read_text())
    verdicts = json.loads((folder / "columns.json").read_text())["columns"]
    assert set(marked) == {v["column"] for v in verdicts}, marked
    found = {v["column"] for v in verdicts if v["drifted"]}
    assert {c for c, verdict in marked.items() if verdict == "Detected"} == found
    assert set(done.result["drifted_columns"]) <= found
    assert logged.data.tags["mlops.drifted"] == "true"
    assert logged.data.metrics["drift_share"] == pytest.approx(done.result["drift_share"], abs=1e-6)


def test_verdicts_agree_with_evidently_called_directly(registry, current_data, sample_data, drifted):
    import mlflow.pyfunc
    from evidently import Report
    from evidently.presets import DataDriftPreset

    ours = json.loads((drifted[1] / "columns.json").read_text())

    mlflow.set_tracking_uri(registry.url)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
    features = model.metadata.get_input_schema().input_names()
    reference = pd.concat(pd.read_parquet(p) for p in sorted(sample_data.glob("*.parquet"))).drop_duplicates()
    current = pd.concat(pd.read_parquet(p) for p in sorted((current_data / "drifted").glob("*.parquet")))
    frames = []
    for frame in (reference, current):
        frame = frame[[*features, "target"]].reset_index(drop=True)
        frame["prediction"] = model.predict(frame[features])
        frames.append(frame)
    direct = Report([DataDriftPreset()]).run(current_data=frames[1], reference_data=frames[0]).dict()
    count = next(m["value"] for m in direct["metrics"] if m["config"]["type"].endswith("DriftedColumnsCount"))
    scores = {
        m["config"]["column"]: m["value"]
        for m in direct["metrics"]
        if m["config"]["type"].endswith("ValueDrift")
    }
    assert {c["column"]: c["score"] for c in ours["columns"]} == pytest.approx(scores)
    assert sum(c["drifted"] for c in ours["columns"]) == count["count"]
    assert ours["drift_share"] == pytest.approx(count["share"])


def test_a_second_check_uses_the_kept_reference_profile_and_judges_the_same(
    champion_run, registry, current_data, drifted, tmp_path
):
    """The first check of a champion reads its training data and keeps a profile of it; the next one
    reads the profile instead (steps.drift_reference), with the same verdicts and scores."""
    first, made_in, _ = drifted
    second = check(registry, tmp_path, current_data / "drifted")
    assert second.returncode == 0, second.stderr
    version = champion_run["register"]["version"]
    assert "kept from an earlier check" not in first.stderr
    assert f"reference profile of version {version} kept from an earlier check" in second.stderr
    made = json.loads((made_in / "columns.json").read_text())
    kept = json.loads((tmp_path / "run" / "drift" / "columns.json").read_text())
    assert kept == made


def test_bad_inputs_are_one_line_and_exit_65(champion_run, registry, current_data, tmp_path):
    no_amount = tmp_path / "no-amount"
    no_amount.mkdir()
    pd.read_parquet(next((current_data / "steady").glob("*.parquet"))).drop(columns=["amount"]).to_parquet(
        no_amount / "p.parquet"
    )
    cases = [
        ((no_amount,), "column 'amount': missing from the current data"),
        ((current_data / "steady", "--since", "2031-01-01"), "no rows between 2031-01-01 and the end"),
        ((current_data / "steady", "--model-name", "nobody"), "model 'nobody' has no champion"),
    ]
    for (current, *extra), message in cases:
        done = check(registry, tmp_path, current, *extra)
        assert done.returncode == 65, done.stderr
        errors = done.error_lines()
        assert len(errors) == 1 and message in errors[0], done.stderr
