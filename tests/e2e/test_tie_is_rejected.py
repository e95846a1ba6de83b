"""The same data and seed again: a bit-identical model, which does not beat the champion and is
neither promoted nor deployed, whatever min-delta says (the weights digest is the champion's)."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from tests.conftest import MODEL, _result, champion_args, run_chain, run_step

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def rerun(champion_run, registry, sample_data, tmp_path_factory) -> dict:
    """The champion's training again: same data, same parameters, same seed."""
    run_dir = tmp_path_factory.mktemp("runs") / "same-again"
    args = champion_args(sample_data)
    step, done = run_chain(run_dir, registry.env, args)
    assert (step, done.returncode) == ("promote", 0), done.stderr[-3000:]
    return {"run_dir": run_dir, "promote": done}


def test_the_same_model_again_does_not_beat_the_champion_and_stays_challenger(champion_run, registry, rerun):
    first, again = _result(champion_run["run_dir"], "train"), _result(rerun["run_dir"], "train")
    assert again["weights_digest"] == first["weights_digest"]  # bit-identical: the premise
    evaluated = _result(rerun["run_dir"], "evaluate")
    auc = f"{evaluated['auc']:.4f}"
    assert evaluated["decision"] == "reject"
    assert evaluated["reason"] == f"test AUC {auc} does not beat champion {auc} + min-delta 0.0000"
    client = MlflowClient(registry.url)
    assert client.get_model_version_by_alias(MODEL, "champion").version == champion_run["register"]["version"]
    assert rerun["promote"].result["promoted"] is False
    nothing = run_step("deploy", "--run-dir", str(rerun["run_dir"]), env=registry.env)
    assert nothing.returncode == 65 and "the evaluation decided reject: nothing to deploy" in nothing.stderr


def test_the_champions_weights_are_rejected_even_when_min_delta_would_let_them_through(
    champion_run, registry, rerun
):
    digest = _result(champion_run["run_dir"], "train")["weights_digest"]
    done = run_step("evaluate", "--run-dir", str(rerun["run_dir"]), "--min-delta", "-0.5", env=registry.env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.result["decision"] == "reject"
    assert (
        done.result["reason"] == f"the champion has the same weights (digest {digest}): nothing new to deploy"
    )
