"""A step forked from the warm starter, after it has imported torch, sets its own thread count and
computes in parallel (GNU OpenMP hangs in a child whose parent ran a parallel region)."""

from __future__ import annotations

import json
import os
import sys

import pytest

from steps.threads import OVERRIDE, WAIT_VARIABLES, choose_threads
from workflows.local.warm_start import WarmStarter

HELPER = [sys.executable, "-m", "tests.local.thread_helper"]
IMPORTS_SECONDS = 300  # the starter imports pandas, scikit-learn, torch and MLflow once


@pytest.fixture(scope="module")
def starter(tmp_path_factory):
    folder = tmp_path_factory.mktemp("warm")
    started = WarmStarter(folder / "warm-start.log")
    assert started.ready.wait(IMPORTS_SECONDS), (folder / "warm-start.log").read_text()[-3000:]
    yield started
    started.close()


def run_helper(starter: WarmStarter, tmp_path, name: str, **env: str) -> dict:
    log = tmp_path / f"{name}.log"
    base = {k: v for k, v in os.environ.items() if k not in (OVERRIDE, *WAIT_VARIABLES)}
    process = starter.start([*HELPER], {**base, **env}, os.getcwd(), log)
    assert process.wait(IMPORTS_SECONDS) == 0, log.read_text()[-3000:]
    return json.loads(log.read_text().strip().splitlines()[-1])


@pytest.mark.slow
def test_a_forked_step_chooses_its_threads_and_computes_in_parallel(starter, tmp_path):
    seen = run_helper(starter, tmp_path, "default")
    assert seen["torch_imported_before"]  # forked after the starter imported torch
    expected = choose_threads()
    assert seen["choice"]["threads"] == seen["torch_threads"] == expected.threads
    assert seen["choice"]["source"] == expected.source
    # set in the starter before torch loaded, though not in the step's own environment
    assert seen["choice"]["wait_policy"] == "OMP_WAIT_POLICY=PASSIVE"


@pytest.mark.slow
def test_the_override_reaches_a_forked_step(starter, tmp_path):
    for threads in ("1", "3"):
        seen = run_helper(starter, tmp_path, f"override-{threads}", **{OVERRIDE: threads})
        assert seen["choice"]["threads"] == seen["torch_threads"] == int(threads)
        assert seen["choice"]["source"] == OVERRIDE
