"""A champion trained on other columns (a second dataset under the same model name, issue 13 #2).

The sample data trains champion v1; a dataset with other columns then meets it. ``evaluate``
rejects (exit 0, not a crash), and ``promote``, ``drift`` and ``mlops serve`` state the fact in the
same sentence; with ``--replace-incompatible-champion true`` the new model replaces the champion on
min-auc alone and its version records the schema change. Real MLflow on sqlite, every step a real
subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from steps.schema import REMEDY, ColumnComparison
from tests.conftest import ROOT, free_port, local_env, run_chain, run_step
from workflows.local.serve import SERVE_REMEDY

pytestmark = pytest.mark.e2e

NAME = "columns-e2e"
TUMOUR_COLUMNS = ["mean_radius", "mean_texture", "mean_smoothness", "worst_area"]
FAST = {"train": ["--epochs", "3", "--batch-size", "128", "--patience", "3", "--hidden-sizes", "16"]}


def tumour_data(rows: int, seed: int) -> pd.DataFrame:
    """A small diagnostic dataset (breast-cancer-like): other columns than the fraud data, same label name."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({c: rng.normal(size=rows) for c in TUMOUR_COLUMNS})
    score = 1.5 * frame["mean_radius"] + frame["worst_area"] - 0.5 * frame["mean_smoothness"]
    frame["target"] = (score + rng.normal(scale=0.7, size=rows) > 0.4).astype(int)
    return frame


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """Champion v1 from the sample data; the tumour data ingested and featurised, ready to train."""
    from workflows.local.sample_data import generate, write_partitions

    root = tmp_path_factory.mktemp("columns")
    env = local_env(root) | {"MLOPS_MODEL_NAME": NAME, "MLOPS_EXPERIMENT": NAME}
    write_partitions(generate(2500, seed=3), str(root / "fraud"), 1)
    (root / "tumour").mkdir()
    tumour_data(1500, seed=4).to_parquet(root / "tumour" / "part-0.parquet", index=False)
    args = FAST | {
        "ingest": ["--data-uri", str(root / "fraud")],
        "evaluate": ["--min-auc", "0"],
    }  # any champion will do
    step, done = run_chain(root / "first", env, args)
    assert (step, done.returncode) == ("promote", 0), done.stderr[-3000:]
    assert done.result["champion_version"] == "1"
    base = root / "tumour-base"
    for step, args in (
        ("ingest", ["--data-uri", str(root / "tumour")]),
        ("validate_data", []),
        ("features", []),
    ):
        done = run_step(step, "--run-dir", str(base), *args, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
    return {"root": root, "env": env, "tumour_base": base}


def train_on_tumours(world: dict, run: str) -> Path:
    """A run folder of the tumour data, trained (its own MLflow run), from the shared ingest and features."""
    run_dir = world["root"] / run
    shutil.copytree(world["tumour_base"], run_dir)
    done = run_step("train", "--run-dir", str(run_dir), *FAST["train"], env=world["env"])
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir


def champion_inputs(world: dict, version: str) -> list[str]:
    import mlflow
    from mlflow.models import get_model_info

    mlflow.set_tracking_uri(world["env"]["MLFLOW_TRACKING_URI"])
    return get_model_info(f"models:/{NAME}/{version}").signature.inputs.input_names()


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def serve_tumour_rows(env: dict[str, str]) -> tuple[int, dict]:
    """``mlops serve`` (the champion) as a real server, asked to score rows of the tumour data."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "workflows.cli", "serve", "--port", str(port)], env=os.environ | env,
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=1):
                    break
            except OSError:
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline, "mlops serve did not answer /health in 90 s"
                time.sleep(0.3)
        rows = tumour_data(3, seed=9)[TUMOUR_COLUMNS]
        return post(f"{base}/invocations", {"dataframe_split": json.loads(rows.to_json(orient="split"))})
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def rejected(world) -> dict:
    """While v1 (fraud columns) is champion: the tumour run evaluated without the replace flag,
    registered and promoted; drift and ``mlops serve`` given the tumour data."""
    run_dir, env = train_on_tumours(world, "tumour-rejected"), world["env"]
    found = {"evaluate": run_step("evaluate", "--run-dir", str(run_dir), "--min-auc", "0.5", env=env)}
    for step in ("register", "promote"):
        found[step] = run_step(step, "--run-dir", str(run_dir), env=env)
    for step, done in found.items():
        assert done.returncode == 0, f"{step}: {done.stderr[-3000:]}"
    current = world["root"] / "tumour"
    found["current"] = current
    found["drift"] = run_step(
        "drift", "--run-dir", str(world["root"] / "drift"), "--current-uri", str(current), env=env
    )
    found["serve"] = serve_tumour_rows(env)
    found["change"] = ColumnComparison.model_validate(found["evaluate"].result["schema_change"])
    return found


@pytest.fixture(scope="module")
def replaced(world, rejected) -> dict:
    """After ``rejected``: another tumour run, with --replace-incompatible-champion true."""
    run_dir, env = train_on_tumours(world, "tumour-replaced"), world["env"]
    found = {
        "evaluate": run_step(
            "evaluate",
            "--run-dir",
            str(run_dir),
            "--min-auc",
            "0.5",
            "--replace-incompatible-champion",
            "true",
            env=env,
        )  # fmt: skip
    }
    for step in ("register", "promote"):
        found[step] = run_step(step, "--run-dir", str(run_dir), env=env)
    for step, done in found.items():
        assert done.returncode == 0, f"{step}: {done.stderr[-3000:]}"
    return found


def test_evaluate_rejects_a_champion_trained_on_other_columns_naming_them(world, rejected):
    evaluated = rejected["evaluate"]
    assert evaluated.error_lines() == []
    result = evaluated.result
    assert result["decision"] == "reject" and result["champion_version"] == "1"
    assert result["champion_auc"] is None and result["auc"] > 0.5  # the new model was still scored
    change = rejected["change"]
    assert change.missing == champion_inputs(world, "1")
    assert change.extra == TUMOUR_COLUMNS  # the label is not called extra
    listed_missing = ", ".join(repr(c) for c in change.missing[:6])
    assert result["reason"] == (
        f"champion v1 of '{NAME}' was trained on other columns: missing {listed_missing} (+3 more);"
        " extra 'mean_radius', 'mean_texture', 'mean_smoothness', 'worst_area';"
        " use another model-name, or retrain with -p replace-incompatible-champion=true to replace it"
    )
    assert result["reason"] == change.message(REMEDY)
    assert evaluated.outputs["decision"] == "reject"


def test_promote_after_the_reject_states_the_same_fact_and_keeps_the_champion(world, rejected):
    change = rejected["change"]
    promoted = rejected["promote"]
    assert promoted.result["promoted"] is False and promoted.result["champion_version"] == "1"
    assert f"not promoted: the evaluation decided reject ({change.message()})" in promoted.stderr
    registered = rejected["register"].result
    assert registered["decision"] == "reject"
    from mlflow import MlflowClient

    client = MlflowClient(world["env"]["MLFLOW_TRACKING_URI"])
    version = client.get_model_version(NAME, registered["version"])
    assert version.tags["mlops.decision_reason"] == change.message()
    assert "mlops.schema_change" not in version.tags  # it replaced nothing


def test_drift_refuses_current_data_of_other_columns_in_the_same_sentence(rejected):
    done = rejected["drift"]
    assert done.returncode == 65, done.stderr[-3000:]
    expected = f"drift: error: {rejected['change'].message()} (current data at {rejected['current']})"
    assert done.error_lines() == [expected]


def test_serve_refuses_rows_of_other_columns_in_the_same_sentence(rejected):
    status, body = rejected["serve"]
    assert status == 422
    assert body["error"] == rejected["change"].message(SERVE_REMEDY)
    assert body["error"].startswith(rejected["change"].sentence() + "; send rows with its columns")


def test_replace_incompatible_champion_promotes_on_min_auc_and_tags_the_version(world, rejected, replaced):
    evaluated, registered, promoted = replaced["evaluate"], replaced["register"], replaced["promote"]
    change = ColumnComparison.model_validate(evaluated.result["schema_change"])
    assert change == rejected["change"]  # the same champion, the same columns
    assert evaluated.result["decision"] == "promote"
    assert evaluated.result["reason"] == (
        f"test AUC {evaluated.result['auc']:.4f} >= min-auc 0.5000; {change.sentence()};"
        " replacing it (replace-incompatible-champion=true)"
    )
    version = registered.result["version"]
    assert promoted.result["champion_version"] == version and promoted.result["previous_champion"] == "1"
    assert f"{NAME}@champion -> version {version} (was 1); {change.sentence()}" in promoted.stderr

    from mlflow import MlflowClient

    client = MlflowClient(world["env"]["MLFLOW_TRACKING_URI"])
    champion = client.get_model_version_by_alias(NAME, "champion")
    assert str(champion.version) == version
    assert champion.tags["mlops.schema_change"] == change.sentence()
    assert champion.tags["mlops.previous_champion"] == "1"
    assert champion_inputs(world, version) == TUMOUR_COLUMNS
