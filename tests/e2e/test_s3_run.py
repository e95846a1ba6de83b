"""A run whose data and run folder are both on S3 (moto's server on loopback)."""

from __future__ import annotations

import boto3
import pytest

from steps import storage
from tests.conftest import local_env, run_step

pytestmark = pytest.mark.e2e


def test_steps_read_and_write_s3(s3_env, sample_data, tmp_path):
    client = boto3.client("s3")
    client.create_bucket(Bucket="lake")
    for path in sorted(sample_data.glob("*.parquet")):
        client.upload_file(str(path), "lake", f"incoming/{path.name}")
    env = local_env(tmp_path) | s3_env
    run_dir = "s3://lake/runs/s3-run"

    ingest = run_step("ingest", "--data-uri", "s3://lake/incoming/", "--run-dir", run_dir, env=env)
    assert ingest.returncode == 0, ingest.stderr
    local = run_step("ingest", "--data-uri", str(sample_data), "--run-dir", str(tmp_path / "local"), env=env)
    assert ingest.result["fingerprint"] == local.result["fingerprint"]
    for step, args in (("validate_data", []), ("features", []), ("train", ["--epochs", "2"])):
        done = run_step(step, "--run-dir", run_dir, *args, env=env)
        assert done.returncode == 0, done.stderr
    keys = {obj["Key"] for obj in client.list_objects_v2(Bucket="lake", Prefix="runs/s3-run/")["Contents"]}
    assert {
        "runs/s3-run/ingest/train.parquet",
        "runs/s3-run/features/train.npz",
        "runs/s3-run/train/checkpoint.pt",
    } <= keys
    assert storage.read_json(f"{run_dir}/train/result.json")["epochs_run"] == 2


def test_missing_s3_data_is_bad_input(s3_env, tmp_path):
    boto3.client("s3").create_bucket(Bucket="empty-lake")
    done = run_step(
        "ingest",
        "--data-uri",
        "s3://empty-lake/incoming/",
        "--run-dir",
        str(tmp_path / "r"),
        env=local_env(tmp_path) | s3_env,
    )
    assert done.returncode == 65
    assert done.stderr.strip().endswith(
        "ingest: error: s3://empty-lake/incoming/: no data files (.parquet, .pq, .csv) found"
    )


def test_unreachable_s3_exits_transient(s3_env, tmp_path):
    from tests.conftest import free_port

    env = local_env(tmp_path) | s3_env | {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    done = run_step("ingest", "--data-uri", "s3://lake/incoming/", "--run-dir", str(tmp_path / "r"), env=env)
    assert done.returncode == 75, done.stderr
    assert "cannot reach S3" in done.stderr
