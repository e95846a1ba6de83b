"""The README's by-hand step list, typed as it is after `make run`: every command succeeds, in order."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_first_day_cli import readme_block

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent


def test_the_readme_steps_run_one_by_one_after_make_run(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_") and k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # what `source .venv/bin/activate` does

    def run(words: list[str]) -> None:
        done = subprocess.run(words, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{shlex.join(words)}: exit {done.returncode}\n{done.stderr[-3000:]}"

    # What `make run` leaves (Makefile: the data, then a training run; fewer epochs here).
    run(["mlops", "data", "generate", "data/train/", "--rows", "50000", "--seed", "7"])
    run(["mlops", "run", "training", "-p", "data-uri=data/train/", "-p", "epochs=2"])

    for line in readme_block("## The steps"):
        words = shlex.split(line, comments=True)
        if words[0] == "source":
            assert words[1:] == [".venv/bin/activate"] and (ROOT / words[1]).exists()
        elif words[0] == "export":
            key, _, value = words[1].partition("=")
            env[key] = value
        elif words[0] == "unset":
            env.pop(words[1], None)
        else:
            run(words)

    summary = json.loads((tmp_path / ".mlops/by-hand/runs/try1/notify/summary.json").read_text())
    assert summary["model"]["decision"] == "promote", summary
    assert summary["model"]["deployed_commit"], summary
    assert (tmp_path / ".mlops/runs").is_dir()  # make run's runs, left where they were
