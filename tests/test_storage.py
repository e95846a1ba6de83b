"""Storage by URI: local paths (atomic writes) and s3:// against moto's S3 server on loopback."""

from __future__ import annotations

import boto3
import pandas as pd
import pytest

from steps import storage
from steps.errors import BadInput, Transient


def test_local_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "a" / "b.json"
    storage.write_json(str(target), {"x": 1})
    storage.write_json(str(target), {"x": 2})
    assert storage.read_json(str(target)) == {"x": 2}
    assert [p.name for p in target.parent.iterdir()] == ["b.json"]


def test_list_files_finds_data_files_under_a_prefix(tmp_path):
    for name in ("b.parquet", "a.csv", "_SUCCESS", ".hidden.parquet", "notes.txt", "sub/c.parquet"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
    found = [p.replace(str(tmp_path) + "/", "") for p in storage.list_files(str(tmp_path))]
    assert found == ["a.csv", "b.parquet", "sub/c.parquet"]


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "empty.parquet", "empty file (0 bytes)"),
        (b"PAR1garbage", "bad.parquet", "not a readable Parquet file"),
        ("a,b\n\xe9,1\n".encode("latin-1"), "latin.csv", "not UTF-8 text"),
    ],
)
def test_unreadable_files_are_bad_input_naming_the_file(tmp_path, content, name, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(BadInput) as caught:
        storage.read_table(str(tmp_path / name))
    assert name in str(caught.value) and message in str(caught.value)


def test_missing_local_path_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        storage.list_files(str(tmp_path / "nope"))


@pytest.fixture
def bucket(s3_env) -> str:
    boto3.client("s3").create_bucket(Bucket="data")
    yield "data"
    client = boto3.client("s3")
    for obj in client.list_objects_v2(Bucket="data").get("Contents", []):
        client.delete_object(Bucket="data", Key=obj["Key"])
    client.delete_bucket(Bucket="data")


def test_s3_tables_round_trip_and_list(bucket):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    storage.write_table(frame, "s3://data/in/part-0.parquet")
    storage.write_table(frame, "s3://data/in/part-1.csv")
    storage.write_bytes("s3://data/in/_SUCCESS", b"")
    storage.write_bytes("s3://data/inside/other.parquet", b"x")
    assert storage.list_files("s3://data/in") == ["s3://data/in/part-0.parquet", "s3://data/in/part-1.csv"]
    assert storage.list_files("s3://data/in/part-0.parquet") == ["s3://data/in/part-0.parquet"]
    pd.testing.assert_frame_equal(storage.read_table("s3://data/in/part-0.parquet"), frame)
    pd.testing.assert_frame_equal(storage.read_table("s3://data/in/part-1.csv"), frame)
    assert storage.exists("s3://data/in/part-0.parquet")
    assert not storage.exists("s3://data/in/nope.parquet")


def test_s3_missing_object_and_bucket_are_bad_input(bucket):
    with pytest.raises(BadInput, match="no such object"):
        storage.read_bytes("s3://data/nope.parquet")
    with pytest.raises(BadInput, match="no such bucket"):
        storage.read_bytes("s3://no-bucket/x.parquet")
    with pytest.raises(BadInput, match="no data files"):
        storage.list_files("s3://data/empty/")


def test_unreachable_s3_is_transient(monkeypatch, s3_env):
    from tests.conftest import free_port

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    storage.s3_client.cache_clear()
    with pytest.raises(Transient, match="cannot reach S3"):
        storage.read_bytes("s3://data/x.parquet")
    storage.s3_client.cache_clear()


@pytest.mark.parametrize(
    ("code", "status", "kind", "text"),
    [
        ("AccessDenied", 403, "PermissionDenied", "access denied (AccessDenied)"),
        ("InvalidAccessKeyId", 403, "PermissionDenied", "check the credentials"),
        ("SlowDown", 503, "Transient", "S3 is unavailable"),
        ("InternalError", 500, "Transient", "S3 is unavailable"),
        ("NoSuchKey", 404, "BadInput", "no such object"),
        ("InvalidRange", 416, "BadInput", "S3 refused the request"),
    ],
)
def test_s3_errors_are_classified_by_the_exit_code_contract(code, status, kind, text):
    from botocore.exceptions import ClientError

    error = ClientError(
        {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject"
    )
    classified = storage._s3_error("s3://b/k", error)
    assert type(classified).__name__ == kind and text in str(classified)
