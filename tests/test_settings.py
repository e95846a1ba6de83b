"""Settings: local defaults that need nothing installed; a wrong variable is named at start."""

from __future__ import annotations

import subprocess
import sys

import pytest

from steps.errors import EXIT_BAD_SETTING, BadSetting
from workflows.settings import Settings, load_settings


def test_local_defaults_live_under_the_storage_root(monkeypatch, tmp_path):
    monkeypatch.setenv("MLOPS_STORAGE_ROOT", str(tmp_path / "store"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = load_settings()
    assert settings.tracking_uri == f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    assert settings.artifact_root == str(tmp_path / "store" / "mlartifacts")
    assert settings.run_dir("r1") == f"{tmp_path / 'store'}/runs/r1"


def test_standard_variables_are_read(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    monkeypatch.setenv("MLOPS_GPU_NODE_SELECTOR", '{"pool": "gpu"}')
    settings = Settings()
    assert settings.tracking_uri == "http://mlflow:5000"
    assert settings.gpu_node_selector == {"pool": "gpu"}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MLOPS_NOTIFY_URL", "slack.example"),
        ("MLOPS_GPU_NODE_SELECTOR", "gpu=true"),
        ("MLOPS_MODEL_NAME", "bad name!"),
    ],
)
def test_a_wrong_setting_names_its_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(BadSetting, match=variable):
        load_settings()


def test_a_step_refuses_to_start_on_a_bad_setting(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "steps.ingest", "--run-dir", str(tmp_path)],
        capture_output=True, text=True, env={"MLOPS_NOTIFY_URL": "nope", "PATH": ""}, check=False,
    )  # fmt: skip
    assert done.returncode == EXIT_BAD_SETTING
    assert (
        done.stderr.strip()
        == "ingest: error: setting MLOPS_NOTIFY_URL: Value error, must start with http:// or https://"
    )
