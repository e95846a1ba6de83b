"""The training steps in order, as subprocesses, against a real MLflow server on loopback."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from tests.conftest import MODEL, _result, run_chain

pytestmark = pytest.mark.e2e


def test_first_pass_registers_a_champion(champion_run, registry):
    assert champion_run["evaluate"]["decision"] == "promote"
    assert "no champion yet" in champion_run["evaluate"]["reason"]
    client = MlflowClient(registry.url)
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert champion.version == champion_run["register"]["version"]
    assert champion.tags["mlops.data_fingerprint"]
    assert champion.tags["mlops.workflow_name"] == "pass1"
    run = client.get_run(champion.run_id)
    assert run.data.metrics["test_roc_auc"] >= 0.6
    assert {"evaluation/roc_curve.png", "evaluation/confusion_matrix.png"} <= {
        a.path for a in client.list_artifacts(champion.run_id, "evaluation")
    }
    history = client.get_metric_history(champion.run_id, "val_auc")
    epochs_run = _result(champion_run["run_dir"], "train")["epochs_run"]
    assert [m.step for m in history] == list(range(1, epochs_run + 1))


def test_champion_predicts_from_raw_columns(champion_run, registry, sample_data):
    import mlflow.pyfunc
    import pandas as pd

    mlflow.set_tracking_uri(registry.url)
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
    raw = pd.read_parquet(next(sample_data.glob("*.parquet"))).head(20)
    probabilities = model.predict(raw[model.metadata.get_input_schema().input_names()])
    assert len(probabilities) == 20 and ((probabilities >= 0) & (probabilities <= 1)).all()


def test_a_worse_model_becomes_challenger_and_leaves_the_champion(
    champion_run, registry, sample_data, tmp_path
):
    before = MlflowClient(registry.url).get_model_version_by_alias(MODEL, "champion").version
    args = {
        "ingest": ["--data-uri", str(sample_data)],
        "train": ["--epochs", "1", "--lr", "0.00001", "--hidden-sizes", "2"],
        "evaluate": ["--min-auc", "0.0"],
    }
    step, done = run_chain(tmp_path / "pass2", registry.env, args)
    assert (step, done.returncode) == ("promote", 0), done.stderr[-3000:]
    client = MlflowClient(registry.url)
    assert client.get_model_version_by_alias(MODEL, "champion").version == before
    challenger = client.get_model_version_by_alias(MODEL, "challenger")
    assert challenger.version == _result(tmp_path / "pass2", "register")["version"] != before
    assert challenger.tags["mlops.decision"] == "reject"
    assert "does not beat champion" in challenger.tags["mlops.decision_reason"]
    assert done.result["promoted"] is False and done.result["champion_version"] == before
    assert "not promoted: the evaluation decided reject" in done.stderr


def test_register_again_creates_no_second_version(champion_run, registry):
    from tests.conftest import run_step

    versions_before = registry.snapshot()[MODEL]["versions"]
    again = run_step("register", "--run-dir", str(champion_run["run_dir"]), env=registry.env)
    assert again.returncode == 0, again.stderr
    assert again.result["version"] == champion_run["register"]["version"]
    assert registry.snapshot()[MODEL]["versions"] == versions_before
