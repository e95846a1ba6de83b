"""End-to-end fixtures: the training steps as subprocesses against a real MLflow server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import StepRun, local_env, run_step

pytestmark = pytest.mark.e2e
TRAINING_STEPS = ("ingest", "validate_data", "features", "train", "evaluate", "register", "promote")
MODEL = "e2e-fraud"


def run_chain(run_dir: Path, env: dict[str, str], args: dict[str, list[str]]) -> tuple[str, StepRun]:
    """Run the training steps in order; stop at the first that fails. Returns the last step run."""
    for step in TRAINING_STEPS:
        done = run_step(step, "--run-dir", str(run_dir), *args.get(step, []), env=env)
        if done.returncode != 0:
            return step, done
    return step, done


@dataclass
class Registry:
    url: str
    env: dict[str, str]

    def snapshot(self) -> dict:
        """Every registered model's versions and aliases, as the tracking server reports them."""
        from mlflow import MlflowClient

        client = MlflowClient(self.url)
        state = {}
        for model in client.search_registered_models():
            versions = client.search_model_versions(f"name = '{model.name}'")
            state[model.name] = {
                "aliases": dict(sorted(model.aliases.items()))
                if isinstance(model.aliases, dict)
                else model.aliases,
                "versions": sorted((v.version, v.run_id) for v in versions),
            }
        return state


@pytest.fixture(scope="session")
def registry(mlflow_server, tmp_path_factory) -> Registry:
    root = tmp_path_factory.mktemp("e2e")
    env = local_env(root, mlflow_server.url) | {"MLOPS_MODEL_NAME": MODEL, "MLOPS_EXPERIMENT": MODEL}
    return Registry(mlflow_server.url, env)


@pytest.fixture(scope="session")
def champion_run(registry, sample_data, tmp_path_factory) -> dict:
    """A first full pass that registers a champion; what other e2e tests start from."""
    run_dir = tmp_path_factory.mktemp("runs") / "pass1"
    args = {
        "ingest": ["--data-uri", str(sample_data)],
        "train": ["--epochs", "12", "--batch-size", "128", "--patience", "4"],
        "evaluate": ["--min-auc", "0.6"],
    }
    step, done = run_chain(run_dir, registry.env, args)
    assert (step, done.returncode) == ("promote", 0), done.stderr[-3000:]
    return {
        "run_dir": run_dir,
        "register": _result(run_dir, "register"),
        "evaluate": _result(run_dir, "evaluate"),
    }


def _result(run_dir: Path, step: str) -> dict:
    import json

    return json.loads(Path(run_dir, step.replace("_", "-"), "result.json").read_text())
