"""The step cache with its storage root, the data and the run folders on S3 (moto's server on loopback)."""

from __future__ import annotations

import io
import json

import boto3
import pandas as pd
import pytest

from steps import storage
from tests.conftest import local_env, run_step

pytestmark = pytest.mark.e2e
ROOT = "s3://lake/mlops"


def step(env: dict[str, str], name: str, run: str, *args: str) -> dict:
    done = run_step(name, "--run-dir", f"{ROOT}/runs/{run}", *args, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return storage.read_json(f"{ROOT}/runs/{run}/{name.replace('_', '-')}/cache.json")


def same_size_change(body: bytes) -> bytes:
    """The partition with one amount changed, written to the very same number of bytes."""
    frame = pd.read_parquet(io.BytesIO(body))
    for row in range(len(frame)):
        changed = frame.copy()
        changed.loc[row, "amount"] += 1.0
        buffer = io.BytesIO()
        changed.to_parquet(buffer, index=False)
        if len(buffer.getvalue()) == len(body):
            return buffer.getvalue()
    raise AssertionError("no one-value change keeps the size")


@pytest.fixture
def lake(s3_env, sample_data, tmp_path) -> dict[str, str]:
    client = boto3.client("s3")
    client.create_bucket(Bucket="lake")
    for path in sorted(sample_data.glob("*.parquet")):
        client.upload_file(str(path), "lake", f"incoming/{path.name}")
    return local_env(tmp_path) | s3_env | {"MLOPS_STORAGE_ROOT": ROOT, "MLOPS_CACHE": "on"}


def test_the_cache_on_s3_hits_misses_and_repairs(lake):
    data = ["--data-uri", "s3://lake/incoming/"]
    for name in ("ingest", "validate_data", "features"):
        assert not step(lake, name, "first", *(data if name == "ingest" else []))["hit"]
    # Unchanged: every step hits, its outputs restored by server-side copies.
    for name in ("ingest", "validate_data", "features"):
        assert step(lake, name, "second", *(data if name == "ingest" else []))["hit"], name
    first = storage.read_bytes(f"{ROOT}/runs/first/features/train.npz")
    assert storage.read_bytes(f"{ROOT}/runs/second/features/train.npz") == first

    # An object overwritten with the same size (another ETag): a miss.
    client = boto3.client("s3")
    key = sorted(o["Key"] for o in client.list_objects_v2(Bucket="lake", Prefix="incoming/")["Contents"])[0]
    body = client.get_object(Bucket="lake", Key=key)["Body"].read()
    changed = same_size_change(body)
    assert len(changed) == len(body) and changed != body
    client.put_object(Bucket="lake", Key=key, Body=changed)
    third = step(lake, "ingest", "third", *data)
    assert not third["hit"]

    # A cached output deleted: a miss, the entry dropped and stored again.
    entry = storage.read_json(f"{ROOT}/cache/entries/ingest/{third['key']}.json")
    storage.read_bytes(entry["outputs"]["train.parquet"]["uri"])
    bucket, object_key = storage.split_s3(entry["outputs"]["train.parquet"]["uri"])
    client.delete_object(Bucket=bucket, Key=object_key)
    fourth = step(lake, "ingest", "fourth", *data)
    assert not fourth["hit"] and fourth["key"] == third["key"]
    assert step(lake, "ingest", "fifth", *data)["hit"]
    listed = client.list_objects_v2(Bucket="lake", Prefix="mlops/cache/entries/")["Contents"]
    assert all(json.loads(client.get_object(Bucket="lake", Key=o["Key"])["Body"].read()) for o in listed)
