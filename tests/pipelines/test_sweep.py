"""The compiled sweep: the fan-out over lanes of trials, a failed trial not stopping its lane, the
gates and the mutex as in training, and defaults that suggest accepts."""

from __future__ import annotations

import pytest
import yaml

from steps.sweep_space import read_space
from workflows.pipelines.compile import cluster_settings
from workflows.pipelines.sweep import sweep_template


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(yaml.safe_dump(sweep_template(cluster_settings()).to_dict()))["spec"]


def test_trials_fan_out_over_lanes_one_trial_at_a_time_per_lane(spec):
    templates = {t["name"]: t for t in spec["templates"]}
    tasks = {t["name"]: t for t in templates["sweep"]["dag"]["tasks"]}
    assert tasks["train-trials"]["withParam"] == "{{tasks.suggest.outputs.parameters.lanes}}"
    assert tasks["train-trials"]["template"] == "trial-lane"
    assert tasks["train-trials"]["arguments"]["parameters"] == [
        {"name": "trials", "value": "{{item.trials}}"}
    ]
    assert [tasks[n]["depends"] for n in ("suggest", "train-trials", "select", "evaluate")] == [
        "features",
        "suggest",
        "train-trials",
        "select",
    ]
    lane = templates["trial-lane"]
    assert lane["parallelism"] == 1  # a number: Argo takes no parameter here (argo-workflows #1780)
    (trial,) = lane["dag"]["tasks"]
    assert trial["withParam"] == "{{inputs.parameters.trials}}"
    assert trial["continueOn"] == {"failed": True, "error": True}  # select judges the success ratio
    assert {"name": "trial-id", "value": "{{item}}"} in trial["arguments"]["parameters"]
    train = templates["train-trial"]
    assert train["container"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert "asInt(lastRetry.exitCode) != 65" in train["retryStrategy"]["expression"]


def test_the_winner_goes_through_training_s_gates_under_the_model_s_mutex(spec):
    tasks = {t["name"]: t for t in next(t for t in spec["templates"] if t["name"] == "sweep")["dag"]["tasks"]}
    evaluate = {p["name"]: p["value"] for p in tasks["evaluate"]["arguments"]["parameters"]}
    assert evaluate["run-id"] == "{{tasks.select.outputs.parameters.run-id}}"
    assert evaluate["model-uri"] == "{{tasks.select.outputs.parameters.model-uri}}"
    for gated in ("promote", "deploy"):
        assert tasks[gated]["when"] == "'{{tasks.evaluate.outputs.parameters.decision}}' == 'promote'"
    assert spec["onExit"] == "notify"
    assert spec["synchronization"]["mutexes"][0]["name"] == "training-{{workflow.parameters.model-name}}"


def test_the_default_parameters_are_a_space_suggest_accepts(spec):
    defaults = {p["name"]: p["value"] for p in spec["arguments"]["parameters"]}
    assert {k: defaults[k] for k in ("trials", "parallelism", "sampler", "pruner", "min-success-ratio")} == {
        "trials": "16",
        "parallelism": "4",
        "sampler": "tpe",
        "pruner": "median",
        "min-success-ratio": "0.75",
    }
    assert read_space(defaults["search-space"]).epochs == 12
    assert not {"epochs", "lr", "batch-size", "hidden-sizes"} & set(defaults)  # the space holds them
