"""A retrain on unchanged data through ``mlops run training``: ingest, validate-data, features and train
(its seed fixed) come from the step cache and say so; ``-p cache=false`` runs them all again."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.test_local_workflow import FAST, mlops, record

pytestmark = pytest.mark.e2e
CACHED = ("ingest", "validate-data", "features", "train")


@pytest.fixture
def env(tmp_path, sample_data) -> dict[str, str]:
    """This machine's environment less its settings: everything under tmp_path, the cache on."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_") and k != "MLFLOW_TRACKING_URI"}
    root, data = str(tmp_path / ".mlops"), str(sample_data)
    return kept | {"MLOPS_STORAGE_ROOT": root, "MLOPS_DATA_URI": data, "MLOPS_CACHE": "on", "COLUMNS": "200"}


def messages(env: dict[str, str], output: str) -> dict[str, str]:
    return {name: node.get("message", "") for name, node in record(env, output)["nodes"].items()}


def test_a_retrain_on_unchanged_data_skips_the_cached_steps(env):
    first = mlops(env, "run", "training", *FAST)
    assert first.returncode == 0, first.stdout + first.stderr
    assert not any(m.startswith("cached") for m in messages(env, first.stdout).values())

    second = mlops(env, "run", "training", *FAST)
    assert second.returncode == 0, second.stdout + second.stderr
    shown = messages(env, second.stdout)
    assert all(shown[name].startswith("cached") for name in CACHED), shown
    run = record(env, second.stdout)
    # the cached train is the champion's own run: nothing new, so no new version and nothing deployed
    decided = json.loads((Path(run["run_dir"]) / "evaluate" / "result.json").read_text())
    assert decided["decision"] == "reject", decided
    assert decided["reason"].startswith("the candidate is the champion itself (trained in "), decided
    assert "nothing new" in second.stdout, second.stdout
    assert {name: run["nodes"][name]["phase"] for name in ("promote", "deploy")} == {
        "promote": "Skipped",
        "deploy": "Skipped",
    }, run["nodes"]
    versions = [
        json.loads((Path(r["run_dir"]) / "register" / "result.json").read_text())["version"]
        for r in (record(env, first.stdout), run)
    ]
    assert versions[0] == versions[1], versions  # register found the champion's version, made none
    trained = json.loads((Path(run["run_dir"]) / "train" / "result.json").read_text())
    first_run = record(env, first.stdout)
    assert trained == json.loads((Path(first_run["run_dir"]) / "train" / "result.json").read_text())
    why = mlops(env, "cache", "why", run["name"], "features")
    assert why.returncode == 0 and why.stdout.startswith("hit:"), why.stdout + why.stderr

    third = mlops(env, "run", "training", *FAST, "-p", "cache=false")
    assert third.returncode == 0, third.stdout + third.stderr
    assert not any(m.startswith("cached") for m in messages(env, third.stdout).values())
