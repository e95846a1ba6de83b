"""`mlops compile` and `mlops lint` import only what they need (B7: both under 2 s): none of the
libraries the run, data, model and cluster commands load, and lint neither the kubernetes client nor
the settings' pydantic-settings."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

HEAVY = ("mlflow", "pandas", "torch", "boto3", "kubernetes", "sklearn", "evidently", "pyarrow", "numpy")
SETTINGS = "pydantic_settings"  # compile reads cluster.env with it; lint reads no setting
RUN = """
import json, sys
from workflows.cli.app import app
sys.argv = ["mlops", *sys.argv[1:]]
code = None
try:
    app()
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "loaded": [m for m in HEAVY if m in sys.modules]}))
""".replace("HEAVY", repr((*HEAVY, SETTINGS)))
NO_HEAVY = {"code": 0, "loaded": []}  # exit 0: click's standalone mode exits


def loaded_by(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", RUN, *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("compiled")
    return out, loaded_by("compile", "--out", str(out))


def test_compile_loads_no_heavy_library(compiled):
    assert compiled[1] == {"code": 0, "loaded": [SETTINGS]}


def test_lint_loads_no_heavy_library(compiled):
    out = compiled[0]
    assert loaded_by("lint", str(out / "manifests"), str(out / "deploy")) == NO_HEAVY
