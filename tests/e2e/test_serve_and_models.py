"""`mlops serve` answers predictions for raw rows; `mlops models` lists, promotes and rolls back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.conftest import MODEL, ROOT, free_port

pytestmark = pytest.mark.e2e


def post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def server(champion_run, registry):
    port = free_port()
    env = os.environ | registry.env
    process = subprocess.Popen(
        [sys.executable, "-m", "workflows.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=1):
                break
        except OSError:
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.3)
    yield base
    process.terminate()
    process.wait(timeout=20)


def test_serve_scores_raw_rows_and_refuses_bad_bodies(server, champion_run, sample_data):
    with urllib.request.urlopen(f"{server}/health") as response:
        health = json.loads(response.read())
    assert health == {
        "status": "ok",
        "model": MODEL,
        "version": champion_run["register"]["version"],
        "alias": "champion",
    }
    rows = pd.read_parquet(next(sample_data.glob("*.parquet"))).head(5)
    rows["event_time"] = rows["event_time"].astype(str)  # raw rows, extra columns and all
    status, body = post(
        f"{server}/invocations",
        json.dumps({"dataframe_records": json.loads(rows.to_json(orient="records"))}).encode(),
    )
    assert status == 200 and len(body["predictions"]) == 5 and all(0 <= p <= 1 for p in body["predictions"])
    status, body = post(
        f"{server}/invocations",
        json.dumps({"dataframe_split": {"columns": ["amount"], "data": [[3.0]]}}).encode(),
    )
    assert status == 422 and body["error"].startswith("missing column 'hour'")
    status, body = post(f"{server}/invocations", b"{nope")
    assert status == 400 and body["error"] == "the body is not valid JSON"
    with urllib.request.urlopen(f"{server}/metrics") as response:
        metrics = response.read().decode()
    version = champion_run["register"]["version"]
    assert f'predictions_total{{model="{MODEL}",version="{version}"}} 5.0' in metrics
    assert f'prediction_errors_total{{kind="bad_request",model="{MODEL}",version="{version}"}} 2.0' in metrics
    assert "prediction_latency_seconds_bucket" in metrics


def mlops(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "workflows.cli", *args],
        env=os.environ | env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_models_list_promote_and_rollback(champion_run, registry):
    client = MlflowClient(registry.url)
    listed = mlops(registry.env, "models", "list")
    assert listed.returncode == 0, listed.stderr
    assert "champion" in listed.stdout and "promote" in listed.stdout
    current = client.get_model_version_by_alias(MODEL, "champion")
    champion = current.version
    # Another version of the same model to promote (whatever other tests registered).
    import mlflow

    mlflow.set_tracking_uri(registry.url)
    other = str(mlflow.register_model(current.source, MODEL).version)
    promoted = mlops(registry.env, "models", "promote", other)
    assert promoted.returncode == 0, promoted.stderr
    assert client.get_model_version_by_alias(MODEL, "champion").version == other
    rolled = mlops(registry.env, "models", "rollback")
    assert rolled.returncode == 0, rolled.stderr
    assert f"-> version {champion} (was {other})" in rolled.stderr
    assert client.get_model_version_by_alias(MODEL, "champion").version == str(champion)
    missing = mlops(registry.env, "models", "promote", "999")
    assert missing.returncode == 65 and "has no version '999'" in missing.stderr
