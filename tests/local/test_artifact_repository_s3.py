"""Artifacts in an s3:// storage root (workflows.local.artifact_repository): moto's S3 API server on loopback."""

from __future__ import annotations

import hashlib
import json
import uuid

import boto3
import pytest
from typer.testing import CliRunner

from steps import storage
from tests.conftest import free_port
from tests.local.test_local_executor import workflow
from tests.local.test_sandbox import shell
from workflows.cli.app import app
from workflows.local import sandbox
from workflows.local.executor import LocalRun

# Tasks with artifacts run in a mount namespace of their own.
pytestmark = pytest.mark.skipif(bool(sandbox.available()), reason=sandbox.available() or "")


@pytest.fixture
def bucket(s3_env, tmp_path, monkeypatch) -> str:
    """A fresh bucket; the run's own folder (``Path(runs_root) / name``, local) lands under tmp_path."""
    name = f"art-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=name)
    monkeypatch.chdir(tmp_path)
    return name


def run_on(root: str, doc: dict) -> LocalRun:
    """A run whose storage root is ``root``: its runs are ``<root>/runs``, as settings.runs_root gives them."""
    local = LocalRun(doc, {}, f"{root}/runs")
    local.run()
    return local


def body(key: str, bucket: str) -> bytes:
    return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def test_files_and_folders_pass_through_the_bucket_archived_and_as_is(bucket, tmp_path):
    make = shell(
        "make", "mkdir -p /out/d/sub; echo file > /out/f.txt; echo one > /out/d/1; echo two > /out/d/sub/2"
    )
    make["outputs"] = {
        "artifacts": [
            {"name": "f", "path": "/out/f.txt"},
            {"name": "d", "path": "/out/d"},
            {"name": "fn", "path": "/out/f.txt", "archive": {"none": {}}},
            {"name": "dn", "path": "/out/d", "archive": {"none": {}}},
        ]
    }
    use = shell("use", "cat /in/f /in/d/1 /in/d/sub/2 /in/fn /in/dn/1 /in/dn/sub/2 > /tmp/got")
    use["inputs"] = {
        "artifacts": [
            {"name": n, "path": f"/in/{n}", "from": f"{{{{tasks.make.outputs.artifacts.{n}}}}}"}
            for n in ("f", "d", "fn", "dn")
        ]
    }
    use["outputs"] = {"parameters": [{"name": "got", "valueFrom": {"path": "/tmp/got"}}]}
    doc = workflow(
        [{"name": "make", "template": "make"}, {"name": "use", "template": "use", "depends": "make"}],
        [make, use],
    )
    local = run_on(f"s3://{bucket}/p", doc)
    assert local.record.phase == "Succeeded", local.record.message
    assert local.record.nodes["use"].outputs == {"got": "file\none\ntwo\nfile\none\ntwo"}

    prefix = f"p/artifacts/{local.record.name}/make/"
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="p/")["Contents"]
    assert sorted(o["Key"] for o in listed) == [
        prefix + k for k in ("d.tgz", "d/1", "d/sub/2", "f.tgz", "f.txt")
    ]
    saved = json.loads((local.run_dir / "run.json").read_text())["nodes"]["make"]["attempts"][-1]["artifacts"]
    for name, key in (("f", "f.tgz"), ("d", "d.tgz"), ("fn", "f.txt")):
        stored = body(prefix + key, bucket)
        assert saved[name]["location"] == f"s3://{bucket}/{prefix}{key}"
        assert (saved[name]["key"], saved[name]["size"]) == (f"{local.record.name}/make/{key}", len(stored))
        assert saved[name]["digest"] == "sha256:" + hashlib.sha256(stored).hexdigest()
    lines = "".join(
        f"{k}\0{hashlib.sha256(body(prefix + 'd/' + k, bucket)).hexdigest()}\n" for k in ("1", "sub/2")
    )
    assert saved["dn"] == {
        "name": "dn", "path": "/out/d", "location": f"s3://{bucket}/{prefix}d", "key": f"{local.record.name}/make/d",
        "archive": "none", "size": 8, "digest": "sha256:" + hashlib.sha256(lines.encode()).hexdigest(),
    }  # fmt: skip
    assert not (tmp_path / "s3:" / bucket / "p" / "artifacts").exists()  # nothing kept in a local folder

    located = CliRunner().invoke(app, ["runs", "artifact", str(local.run_dir), "make", "d"])
    assert (located.exit_code, located.output.strip()) == (0, f"s3://{bucket}/{prefix}d.tgz")


def test_keys_read_from_the_bucket_an_absent_optional_is_skipped_a_required_errs(bucket):
    client = boto3.client("s3")
    client.put_object(Bucket=bucket, Key="p/artifacts/given/k.txt", Body=b"keyed\n")
    client.put_object(Bucket=bucket, Key="p/artifacts/given/dir/a", Body=b"a\n")
    read = shell("read", "cat /in/k /in/dir/a > /tmp/got; test ! -e /in/opt && echo skipped >> /tmp/got")
    read["inputs"] = {
        "artifacts": [
            {"name": "k", "path": "/in/k", "s3": {"key": "given/k.txt"}},
            {"name": "dir", "path": "/in/dir", "s3": {"key": "given/dir"}},
            {"name": "opt", "path": "/in/opt", "s3": {"key": "given/absent"}, "optional": True},
        ]
    }
    read["outputs"] = {"parameters": [{"name": "got", "valueFrom": {"path": "/tmp/got"}}]}
    local = run_on(f"s3://{bucket}/p", workflow([{"name": "read", "template": "read"}], [read]))
    assert local.record.phase == "Succeeded", local.record.message
    assert local.record.nodes["read"].outputs == {"got": "keyed\na\nskipped"}

    need = shell("need", "cat /in/x")
    need["inputs"] = {"artifacts": [{"name": "x", "path": "/in/x", "s3": {"key": "given/absent"}}]}
    local = run_on(f"s3://{bucket}/p", workflow([{"name": "need", "template": "need"}], [need]))
    node = local.record.nodes["need"]
    assert (local.record.phase, node.phase, node.message) == (
        "Error",
        "Error",
        "inputs.artifacts.x was not supplied",
    )
    assert node.attempts == []  # as the local folder: the controller errs it before any pod starts


@pytest.fixture
def unreachable(s3_env, monkeypatch):
    """Nothing listens at the S3 endpoint; the cached client is dropped before and after."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    storage.s3_client.cache_clear()
    yield
    storage.s3_client.cache_clear()


def test_an_unreachable_bucket_or_a_missing_one_errs_the_node_in_one_line(unreachable, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make = shell("make", "mkdir -p /out; echo x > /out/x")
    make["outputs"] = {"artifacts": [{"name": "x", "path": "/out/x"}]}
    local = run_on("s3://lake/p", workflow([{"name": "make", "template": "make"}], [make]))
    node = local.record.nodes["make"]
    assert (local.record.phase, node.phase) == ("Error", "Error")
    assert node.message.startswith(
        f"failed to save outputs: s3://lake/p/artifacts/{local.record.name}/make/x.tgz: "
    )
    assert "cannot reach S3" in node.message and "\n" not in node.message

    read = shell("read", "cat /in/k")
    read["inputs"] = {"artifacts": [{"name": "k", "path": "/in/k", "s3": {"key": "k.txt"}}]}
    local = run_on("s3://lake/p", workflow([{"name": "read", "template": "read"}], [read]))
    node = local.record.nodes["read"]
    assert (node.phase, node.attempts) == ("Error", [])
    assert (
        node.message.startswith("s3://lake/p/artifacts/k.txt: cannot reach S3") and "\n" not in node.message
    )


def test_a_missing_bucket_errs_the_node(bucket):
    make = shell("make", "mkdir -p /out; echo x > /out/x")
    make["outputs"] = {"artifacts": [{"name": "x", "path": "/out/x", "archive": {"none": {}}}]}
    local = run_on(f"s3://{bucket}-gone/p", workflow([{"name": "make", "template": "make"}], [make]))
    node = local.record.nodes["make"]
    assert (node.phase, node.message) == (
        "Error",
        f"failed to save outputs: s3://{bucket}-gone/p/artifacts/{local.record.name}/make/x: no such bucket",
    )
