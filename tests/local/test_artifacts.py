"""Artifacts in a local run (workflows.local.artifacts): what run.json records, archives, keys, raw data, globals."""

from __future__ import annotations

import hashlib
import json
import tarfile

from tests.local.test_local_executor import workflow
from tests.local.test_sandbox import run, shell


def test_an_artifact_is_recorded_with_its_location_size_and_digest(tmp_path):
    writer = shell("make", "mkdir -p /out/d; echo one > /out/d/1; echo two > /out/d/2")
    writer["outputs"] = {"artifacts": [{"name": "d", "path": "/out/d", "globalName": "the-d"}]}
    local = run(workflow([{"name": "make", "template": "make"}], [writer]), tmp_path)
    assert local.record.phase == "Succeeded", local.record.message
    saved = json.loads((local.run_dir / "run.json").read_text())["nodes"]["make"]["attempts"][-1][
        "artifacts"
    ]["d"]
    stored = (tmp_path / "artifacts" / local.record.name / "make" / "d.tgz").read_bytes()
    assert saved["location"] == str(tmp_path / "artifacts" / local.record.name / "make" / "d.tgz")
    assert (saved["archive"], saved["size"]) == ("tgz", len(stored))
    assert saved["digest"] == "sha256:" + hashlib.sha256(stored).hexdigest()
    with tarfile.open(saved["location"]) as archive:  # one top entry, the path's base name (TarGzToWriter)
        assert sorted(archive.getnames()) == ["d", "d/1", "d/2"]
    assert local.record.artifacts["the-d"] == saved  # globalName: the workflow's output artifact


def test_keys_raw_data_mode_and_a_global_artifact_reach_the_next_tasks(tmp_path):
    """An s3 key and archive none store the file as is at that key of the repository; a later task loads it by
    key, gets raw data as an executable file, and reads a global artifact through workflow.outputs.artifacts."""
    put = shell("put", "echo keyed > /tmp/k.txt")
    put["outputs"] = {
        "artifacts": [
            {"name": "k", "path": "/tmp/k.txt", "archive": {"none": {}}, "s3": {"key": "shared/{{workflow.name}}.txt"},
             "globalName": "keyed"},
        ]
    }  # fmt: skip
    get = shell("get", "/opt/tool/run.sh > /tmp/got; cat /in/k /in/g >> /tmp/got")
    get["inputs"] = {
        "artifacts": [
            {"name": "k", "path": "/in/k", "s3": {"key": "shared/{{workflow.name}}.txt"}},
            {"name": "g", "path": "/in/g", "from": "{{workflow.outputs.artifacts.keyed}}"},
            {"name": "tool", "path": "/opt/tool/run.sh", "mode": 493, "raw": {"data": "#!/bin/sh\necho raw"}},
        ]
    }
    get["outputs"] = {"parameters": [{"name": "got", "valueFrom": {"path": "/tmp/got"}}]}
    doc = workflow(
        [{"name": "put", "template": "put"}, {"name": "get", "template": "get", "depends": "put"}], [put, get]
    )
    local = run(doc, tmp_path)
    assert local.record.phase == "Succeeded", local.record.message
    assert (tmp_path / "artifacts" / "shared" / f"{local.record.name}.txt").read_text() == "keyed\n"
    assert local.record.nodes["get"].outputs == {"got": "raw\nkeyed\nkeyed"}


def test_a_required_input_that_nothing_supplies_errs_the_node(tmp_path):
    reader = shell("read", "cat /in/x")
    reader["inputs"] = {"artifacts": [{"name": "x", "path": "/in/x"}]}
    local = run(workflow([{"name": "read", "template": "read"}], [reader]), tmp_path)
    node = local.record.nodes["read"]
    assert (local.record.phase, node.phase, node.message) == (
        "Error",
        "Error",
        "inputs.artifacts.x was not supplied",
    )
    assert node.attempts == []  # the controller errs it before any pod starts


def test_a_key_that_climbs_out_of_the_repository_errs_the_node(tmp_path):
    writer = shell("put", "echo x > /tmp/x")
    writer["outputs"] = {"artifacts": [{"name": "x", "path": "/tmp/x", "s3": {"key": "../../escaped"}}]}
    local = run(workflow([{"name": "put", "template": "put"}], [writer]), tmp_path)
    node = local.record.nodes["put"]
    assert (node.phase, node.message) == (
        "Error",
        "artifact key '../../escaped' lies outside the artifact repository",
    )
    assert not (tmp_path.parent / "escaped").exists()
