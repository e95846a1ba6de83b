"""A failed `mlops run` says why: the failed step's error line, its log's path, and how to resume.

The four failures of issue 22, through the real CLI with output to a pipe (not a terminal) and no
COLUMNS set, so that nothing is cut at rich's default 80 columns either.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def mlops(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workflows.cli", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600, check=False,
    )  # fmt: skip


@pytest.fixture
def env(tmp_path, sample_data) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_") and k != "COLUMNS"}
    clean.pop("MLFLOW_TRACKING_URI", None)
    return clean | {"MLOPS_STORAGE_ROOT": str(tmp_path / ".mlops"), "MLOPS_DATA_URI": str(sample_data)}


def csv_without_target(folder: Path) -> Path:
    folder.mkdir()
    (folder / "part.csv").write_text("amount,hour\n1.5,3\n2.5,4\n")
    return folder


CASES = {
    "a data folder that does not exist": (
        lambda tmp: ["run", "training", "-p", f"data-uri={tmp / 'dta'}"],
        "ingest",
        r"ingest: error: .*dta/?: does not exist",
    ),
    "a CSV without the target column": (
        lambda tmp: ["run", "training", "-p", f"data-uri={csv_without_target(tmp / 'csv')}"],
        "ingest",
        r"ingest: error: column 'target'",
    ),
    "drift before data/incoming/ exists": (
        lambda tmp: ["drift", "--current-uri", str(tmp / "data" / "incoming")],
        "load-current",
        r"load_current: error: .*incoming/?: does not exist",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_failed_run_prints_the_error_line_and_the_log_path(env, tmp_path, case):
    arguments, task, error = CASES[case]
    given = arguments(tmp_path)
    done = mlops(env, *given)
    output = done.stdout
    assert done.returncode == 65, output + done.stderr

    assert re.search(rf"^{task} failed: Error \(exit code 65\)$", output, re.MULTILINE), output
    assert re.search(rf"^  {error}", output, re.MULTILINE), output
    [log] = re.findall(r"^  log: (\S+)$", output, re.MULTILINE)
    assert Path(log).name == f"{task}.attempt-1.log"
    assert re.search(error, Path(log).read_text())
    name = next(line.split()[1] for line in output.splitlines() if line.startswith("running "))
    workflow = "drift" if given[0] == "drift" else "training"
    [resume] = re.findall(r"^resume:     (.+?)  \(add -p", output, re.MULTILINE)
    assert shlex.split(resume)[1:] == ["run", workflow, "--resume", name]
    assert (ROOT / shlex.split(resume)[0]).is_file()  # the venv's mlops: a command that runs as is
    # Names and paths whole, tasks that never ran Omitted, each task's Running said once.
    assert "…" not in output and "onExit (notify)" in output
    assert "Pending" not in output and "Omitted" in output
    assert output.count(f"  {task}: Running\n") == 1
