"""Features, evaluate and drift take the thread policy that fixed train (steps.threads), first thing:
before they read their inputs and before torch or scikit-learn loads (OpenMP reads its wait policy once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from steps import drift, evaluate, features
from steps.threads import OVERRIDE, WAIT_VARIABLES
from workflows.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
# step: (module, function, its parameters, required parameters, the options it applies the policy with)
STEPS = {
    # scikit-learn and numpy only: importing torch would cost features ~1.4 s for nothing
    "features": (features, features.features, features.FeaturesParams, {}, {"include_torch": False}),
    "evaluate": (evaluate, evaluate.evaluate, evaluate.EvaluateParams, {}, {}),
    "drift": (drift, drift.drift, drift.DriftParams, {"current_uri": "/nowhere/current"}, {}),
}


class Applied(Exception):
    """Raised by the stand-in policy: the step got this far and no further."""


@pytest.mark.parametrize("name", list(STEPS))
def test_a_step_applies_the_thread_policy_before_reading_its_inputs(monkeypatch, tmp_path, name):
    module, step, params_type, extra, options = STEPS[name]
    calls = []

    def policy(settings, **options):
        calls.append((settings, options))
        raise Applied

    monkeypatch.setattr(module, "apply_thread_policy", policy)
    settings = Settings(train_threads=1)
    # The run folder is empty: a step that read its inputs first would fail on them, not here.
    with pytest.raises(Applied):
        step(params_type(run_dir=str(tmp_path / "run"), **extra), settings)
    assert calls == [(settings, options)]


FEATURES_POLICY = """
import json, os, sys
from steps.threads import thread_choice
from steps.features import apply_thread_policy
from workflows.settings import load_settings
apply_thread_policy(load_settings(), include_torch=False)
from threadpoolctl import threadpool_info
print(json.dumps({"choice": thread_choice(), "torch": "torch" in sys.modules,
                  "blas": sorted({p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}),
                  "policy": os.environ.get("OMP_WAIT_POLICY")}))
"""


def test_the_features_policy_limits_blas_and_waits_passively_without_torch():
    env = {k: v for k, v in os.environ.items() if k not in (OVERRIDE, *WAIT_VARIABLES)}
    done = subprocess.run(
        [sys.executable, "-c", FEATURES_POLICY],
        env={**env, OVERRIDE: "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert (seen["choice"]["threads"], seen["choice"]["source"]) == (1, OVERRIDE)
    assert seen["torch"] is False
    assert seen["blas"] == [1]  # numpy's OpenBLAS, loaded before the policy ran, held to the choice
    assert seen["policy"] == "PASSIVE"
