"""A laptop's settings stay on the laptop: with ``MLOPS_STORAGE_ROOT`` set, ``make run`` and
``make compile`` leave the committed manifests as they are; a local run compiles its own copy, with
this machine's settings, into its run folder; the committed files come from ``cluster.env`` alone."""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest
import yaml

from tests.conftest import ROOT
from workflows.pipelines.compile import OUTPUT_DIRS, cluster_settings, render
from workflows.settings import Settings

pytestmark = pytest.mark.e2e


def committed_files() -> dict[str, str]:
    """Digest of every file `mlops compile` owns, as the working tree holds it now."""
    return {
        str(path.relative_to(ROOT)): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in OUTPUT_DIRS
        for path in sorted((ROOT / folder).rglob("*"))
        if path.is_file()
    }


def make(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture
def laptop(tmp_path) -> dict[str, str]:
    """A shell with a storage root of its own, and the other settings a laptop might export."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_") and k != "MLFLOW_TRACKING_URI"}
    return env | {
        "MLOPS_STORAGE_ROOT": str(tmp_path / "my-storage"),
        "MLOPS_MODEL_NAME": "laptop-model",
        "MLOPS_IMAGE": "localhost:5000/steps:dev",
        "COLUMNS": "200",
    }


def test_make_run_with_a_storage_root_leaves_the_committed_manifests_alone(laptop, tmp_path, sample_data):
    before = committed_files()
    result = make(laptop, "run", f"DATA={sample_data}/", "PARAMS=epochs=2 batch-size=256")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert committed_files() == before
    # The run executed a copy compiled with this machine's settings, kept in its run folder.
    (kept,) = (tmp_path / "my-storage" / "runs").glob("training-*/workflow.yaml")
    workflow = yaml.safe_load(kept.read_text())
    defaults = {p["name"]: p.get("value") for p in workflow["spec"]["arguments"]["parameters"]}
    assert defaults["storage-root"] == laptop["MLOPS_STORAGE_ROOT"]
    assert defaults["model-name"] == "laptop-model"
    assert (tmp_path / "my-storage" / "mlflow.db").exists()


def test_compile_reads_cluster_env_and_not_the_shell(laptop):
    before = committed_files()
    result = make(laptop, "compile")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert committed_files() == before
    committed = (ROOT / "manifests" / "training.yaml").read_text()
    assert laptop["MLOPS_STORAGE_ROOT"] not in committed and "laptop-model" not in committed


def test_what_cluster_env_says_reaches_the_manifests(tmp_path):
    cluster_env = tmp_path / "cluster.env"
    cluster_env.write_text(
        "# the platform team's values\n"
        "MLOPS_STORAGE_ROOT=s3://ml-runs/argo-mlops\n"
        "MLOPS_IMAGE=registry.example.com/steps:1.2.3\n"
        "ARGO_NAMESPACE=ml-team\n"
    )
    files = render(cluster_settings(cluster_env))
    training = yaml.safe_load(files["manifests/training.yaml"])
    defaults = {p["name"]: p.get("value") for p in training["spec"]["arguments"]["parameters"]}
    assert defaults["storage-root"] == "s3://ml-runs/argo-mlops"
    assert training["metadata"]["namespace"] == "ml-team"
    assert "registry.example.com/steps:1.2.3" in files["manifests/training.yaml"]
    # The committed file (comments only) gives the defaults, whatever this process's environment holds.
    os.environ["MLOPS_STORAGE_ROOT"] = "/somewhere/else"
    try:
        assert cluster_settings().storage_root == Settings.model_fields["storage_root"].default
    finally:
        del os.environ["MLOPS_STORAGE_ROOT"]


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("MLOPS_IMAGEE=x:1", "cluster.env: MLOPS_IMAGEE is not a setting"),
        ("MLOPS_IMAGE=steps:latest", "cluster.env: setting MLOPS_IMAGE: "),
        ("MLOPS_ALLOWED_DATA_PREFIXES=s3://no-json/", "cluster.env: setting MLOPS_ALLOWED_DATA_PREFIXES: "),
    ],
)
def test_a_bad_cluster_env_line_is_named(tmp_path, line, named):
    from steps.errors import EXIT_BAD_SETTING, BadSetting

    cluster_env = tmp_path / "cluster.env"
    cluster_env.write_text(line + "\n")
    with pytest.raises(BadSetting) as refused:
        cluster_settings(cluster_env)
    assert str(refused.value).startswith(named) and refused.value.exit_code == EXIT_BAD_SETTING
