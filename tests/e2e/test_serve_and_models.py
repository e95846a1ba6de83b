"""`mlops serve` answers predictions for raw rows; `mlops models` lists, promotes and rolls back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import mlflow
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


def served_version(registry) -> str | None:
    """The version the serving manifest in the local GitOps repository names."""
    from steps import serving_manifest

    bare = f"{registry.env['MLOPS_STORAGE_ROOT']}/gitops.git"
    path = f"serving/{MODEL}/inference-service.yaml"
    shown = subprocess.run(
        ["git", "--git-dir", bare, "show", f"main:{path}"], capture_output=True, text=True, check=False
    )
    return serving_manifest.read(shown.stdout, path).version if shown.returncode == 0 else None


def test_models_list_promote_and_rollback(champion_run, registry, tmp_path):
    client = MlflowClient(registry.url)
    listed = mlops(registry.env, "models", "list")
    assert listed.returncode == 0, listed.stderr
    assert "champion" in listed.stdout and "promote" in listed.stdout
    current = client.get_model_version_by_alias(MODEL, "champion")
    champion = current.version
    created: list[str] = []
    try:
        # A copy of the champion (its run, its weights) is refused: it would redeploy the same weights.
        mlflow.set_tracking_uri(registry.url)
        copy = str(mlflow.register_model(current.source, MODEL).version)
        created.append(copy)
        refused = mlops(registry.env, "models", "promote", copy)
        assert refused.returncode == 65 and "has the same weights as champion" in refused.stderr, (
            refused.stderr
        )
        # The champion's files in a run of their own, tagged with other weights, is another version to promote.
        run = client.create_run(client.get_experiment_by_name(MODEL).experiment_id)
        client.set_tag(run.info.run_id, "mlops.weights_digest", "0ther0ther0ther0")
        files = mlflow.artifacts.download_artifacts(
            current.source, dst_path=str(tmp_path), tracking_uri=registry.url
        )
        client.log_artifacts(run.info.run_id, files, "model")
        source = f"{client.get_run(run.info.run_id).info.artifact_uri}/model"
        other = str(client.create_model_version(MODEL, source, run_id=run.info.run_id).version)
        created.append(other)
        promoted = mlops(registry.env, "models", "promote", other)
        assert promoted.returncode == 0, promoted.stderr
        assert client.get_model_version_by_alias(MODEL, "champion").version == other
        assert served_version(registry) == other  # promote deploys: registry and serving together
        rolled = mlops(registry.env, "models", "rollback")
        assert rolled.returncode == 0, rolled.stderr
        assert f"-> version {champion} (was {other})" in rolled.stderr
        assert client.get_model_version_by_alias(MODEL, "champion").version == str(champion)
        assert served_version(registry) == str(champion)
        missing = mlops(registry.env, "models", "promote", "999")
        assert missing.returncode == 65 and "has no version '999'" in missing.stderr
    finally:  # the session's champion and registry as they were, whatever failed above
        client.set_registered_model_alias(MODEL, "champion", champion)
        for version in created:
            client.delete_model_version(MODEL, version)


def test_serve_refuses_wrongly_typed_values_and_unseen_nulls_naming_the_column(
    server, champion_run, sample_data
):
    first = pd.read_parquet(next(sample_data.glob("*.parquet"))).head(1).drop(columns=["event_time"])
    row = json.loads(first.to_json(orient="records"))[0]

    def score(**changed) -> tuple[int, dict]:
        return post(f"{server}/invocations", json.dumps({"dataframe_records": [row | changed]}).encode())

    assert score()[0] == 200
    assert score(amount="abc") == (
        422,
        {"error": "column 'amount' takes numbers: got a string ('abc') in row 0"},
    )
    assert score(amount=None) == (
        422,
        {"error": "column 'amount' takes numbers and had no missing values in training: got null in row 0"},
    )
    assert score(device=5) == (422, {"error": "column 'device' takes strings: got a number (5) in row 0"})
    status, body = score(customer_age=None)  # missing in training too: imputed as the model learned
    assert status == 200 and 0 <= body["predictions"][0] <= 1
    spec = json.loads((champion_run["run_dir"] / "features" / "spec.json").read_text())
    # As features recorded them: the sample data has missing ages in train, and never a missing amount.
    assert "customer_age" in spec["nullable"] and "amount" not in spec["nullable"]
