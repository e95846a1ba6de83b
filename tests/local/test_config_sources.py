"""ConfigMaps and Secrets read from MLOPS_LOCAL_CONFIG_DIR (workflows.local.config_sources): real runs, real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from steps.errors import BadInput
from tests.local.test_local_executor import workflow
from workflows.local import sandbox
from workflows.local.executor import LocalRun

needs_sandbox = pytest.mark.skipif(bool(sandbox.available()), reason="no mount namespace can be made here")


def shell(script: str, env=(), mounts=(), **template) -> dict:
    container = {"image": "alpine", "command": ["sh", "-c"], "args": [script]}
    if env:
        container["env"] = list(env)
    if mounts:
        container["volumeMounts"] = list(mounts)
    return {"name": "read", "container": container, **template}


def one_task(template: dict, **spec) -> dict:
    return workflow([{"name": "a", "template": "read"}], [template], **spec)


def run(doc: dict, tmp_path: Path) -> LocalRun:
    local = LocalRun(doc, {}, str(tmp_path / "runs"), locks_dir=str(tmp_path / "locks"))
    local.run()
    return local


def log_of(local: LocalRun) -> str:
    return Path(local.record.nodes["a"].attempts[-1].log).read_text()


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    """A config folder: ConfigMap 'app' (keys 'key' and 'other'), Secret 'db' (key 'password')."""
    folder = tmp_path / "config"
    (folder / "app").mkdir(parents=True)
    (folder / "app" / "key").write_text("hello\n")
    (folder / "app" / "other").write_text("more")
    (folder / "db").mkdir()
    (folder / "db" / "password").write_text("s3cret")
    monkeypatch.setenv("MLOPS_LOCAL_CONFIG_DIR", str(folder))
    return folder


SECRET_ENV = {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
CONFIG_MOUNT = {"name": "c", "mountPath": "/etc/config"}


@needs_sandbox
def test_a_configmap_volume_holds_every_key_read_only(tmp_path, config):
    script = "cat /etc/config/key; cat /etc/config/other; echo; if echo x > /etc/config/new; then exit 3; fi"
    doc = one_task(
        shell(script, mounts=[CONFIG_MOUNT]), volumes=[{"name": "c", "configMap": {"name": "app"}}]
    )
    local = run(doc, tmp_path)
    assert local.record.phase == "Succeeded", local.record.nodes["a"].message
    assert log_of(local).startswith("hello\nmore\n")
    assert "Read-only file system" in log_of(local)


@needs_sandbox
def test_a_configmap_volume_with_items_holds_only_those_keys_at_their_paths(tmp_path, config):
    volume = {
        "name": "c",
        "configMap": {"name": "app", "items": [{"key": "key", "path": "sub/k.txt", "mode": 0o400}]},
    }
    script = "cat /etc/config/sub/k.txt; ls /etc/config; stat -c %a /etc/config/sub/k.txt"
    local = run(one_task(shell(script, mounts=[CONFIG_MOUNT]), volumes=[volume]), tmp_path)
    assert local.record.phase == "Succeeded", local.record.nodes["a"].message
    assert log_of(local) == "hello\nsub\n400\n"


@needs_sandbox
def test_a_key_mounted_by_subpath_is_one_file(tmp_path, config):
    mount = {"name": "s", "mountPath": "/etc/app.conf", "subPath": "password"}
    template = shell(
        "cat /etc/app.conf", mounts=[mount], volumes=[{"name": "s", "secret": {"secretName": "db"}}]
    )
    local = run(one_task(template), tmp_path)
    assert local.record.phase == "Succeeded", local.record.nodes["a"].message
    assert log_of(local) == "s3cret"


def test_a_secret_key_is_an_env_variable(tmp_path, config):
    local = run(one_task(shell('printf "%s" "$PW"', env=[SECRET_ENV])), tmp_path)
    assert local.record.phase == "Succeeded", local.record.nodes["a"].message
    assert log_of(local) == "s3cret"


def test_an_optional_missing_key_leaves_the_variable_unset(tmp_path, config):
    absent = {
        "name": "NOPE",
        "valueFrom": {"configMapKeyRef": {"name": "app", "key": "gone", "optional": True}},
    }
    local = run(one_task(shell('test -z "${NOPE+set}"', env=[absent])), tmp_path)
    assert local.record.phase == "Succeeded", local.record.nodes["a"].message


def test_an_optional_reference_needs_no_setting(tmp_path, monkeypatch):
    """Without MLOPS_LOCAL_CONFIG_DIR no ConfigMap or Secret exists here: an optional one is absent, as on a cluster."""
    monkeypatch.delenv("MLOPS_LOCAL_CONFIG_DIR", raising=False)
    absent = {
        "name": "NOPE",
        "valueFrom": {"secretKeyRef": {"name": "db", "key": "password", "optional": True}},
    }
    local = run(one_task(shell('test -z "${NOPE+set}"', env=[absent])), tmp_path)
    assert local.record.phase == "Succeeded", local.record.nodes["a"].message


def test_a_name_known_only_at_the_attempt_is_read_then(tmp_path, config):
    ref = {"secretKeyRef": {"name": "{{inputs.parameters.s}}", "key": "password"}}
    template = shell('printf "%s" "$PW"', env=[{"name": "PW", "valueFrom": ref}])
    template["inputs"] = {"parameters": [{"name": "s", "value": "db"}]}
    local = run(one_task(template), tmp_path)
    assert (local.record.phase, log_of(local)) == ("Succeeded", "s3cret")
    template["inputs"]["parameters"][0]["value"] = "nodb"  # missing: the node ends in Error with the line
    local = run(one_task(template), tmp_path / "again")
    assert (local.record.phase, local.record.nodes["a"].message) == (
        "Error",
        f"container.env[0].valueFrom.secretKeyRef: Secret 'nodb' has no key 'password': expected the file "
        f"{config / 'nodb' / 'password'}",
    )


def refused(doc: dict, tmp_path: Path) -> str:
    with pytest.raises(BadInput) as refusal:
        LocalRun(doc, {}, str(tmp_path / "runs"))
    assert not (tmp_path / "runs").exists()
    return str(refusal.value)


def test_without_the_setting_a_reference_is_refused_by_name(tmp_path, monkeypatch):
    monkeypatch.delenv("MLOPS_LOCAL_CONFIG_DIR", raising=False)
    assert refused(one_task(shell("true", env=[SECRET_ENV])), tmp_path) == (
        "spec.templates[1].container.env[0].valueFrom.secretKeyRef: Secret 'db' is read from a local folder: "
        "set MLOPS_LOCAL_CONFIG_DIR to a folder holding <name>/<key> files"
    )
    volume = {"name": "c", "configMap": {"name": "app"}}
    assert refused(one_task(shell("true", mounts=[CONFIG_MOUNT]), volumes=[volume]), tmp_path) == (
        "spec.volumes[0].configMap: ConfigMap 'app' is read from a local folder: "
        "set MLOPS_LOCAL_CONFIG_DIR to a folder holding <name>/<key> files"
    )


def test_a_missing_key_is_refused_naming_the_file(tmp_path, config):
    wrong = {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "token"}}}
    assert refused(one_task(shell("true", env=[wrong])), tmp_path) == (
        "spec.templates[1].container.env[0].valueFrom.secretKeyRef: Secret 'db' has no key 'token': "
        f"expected the file {config / 'db' / 'token'}"
    )
    volume = {"name": "c", "configMap": {"name": "app", "items": [{"key": "gone", "path": "g"}]}}
    assert refused(one_task(shell("true", mounts=[CONFIG_MOUNT]), volumes=[volume]), tmp_path) == (
        f"spec.volumes[0].configMap.items[0]: ConfigMap 'app' has no key 'gone': expected the file {config / 'app' / 'gone'}"
    )
    volume = {"name": "c", "configMap": {"name": "nope"}}
    assert refused(one_task(shell("true", mounts=[CONFIG_MOUNT]), volumes=[volume]), tmp_path) == (
        f"spec.volumes[0].configMap: ConfigMap 'nope' not found: expected the folder {config / 'nope'} with a file "
        "per key"
    )


@needs_sandbox
def test_an_optional_missing_object_is_an_empty_volume(tmp_path, config):
    volume = {"name": "c", "configMap": {"name": "nope", "optional": True}}
    local = run(
        one_task(shell('test -z "$(ls -A /etc/config)"', mounts=[CONFIG_MOUNT]), volumes=[volume]), tmp_path
    )
    assert local.record.phase == "Succeeded", local.record.nodes["a"].message


def test_a_configmap_volume_on_a_scratch_folder_is_refused_by_name(tmp_path, config):
    """/tmp and /dev/shm mounts need no sandbox, so nothing would be mounted there: refused instead."""
    template = shell("true", mounts=[{"name": "c", "mountPath": "/tmp"}])
    assert refused(one_task(template, volumes=[{"name": "c", "configMap": {"name": "app"}}]), tmp_path) == (
        "spec.templates[1].container.volumeMounts[0].mountPath: a configMap or secret volume at /tmp is not "
        "implemented by the local executor: mount it elsewhere"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"name": "P", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            "env[0].valueFrom.fieldRef: the local executor does not support env valueFrom field 'fieldRef'",
        ),
        (
            {"name": "P", "value": "x", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            "env[0].valueFrom: may not be specified when `value` is not empty",
        ),
        (
            {"name": "P", "valueFrom": {"secretKeyRef": {"name": "db", "key": "../db/password"}}},
            "secretKeyRef.key: key '../db/password' is not valid",
        ),
    ],
    ids=["fieldRef", "value-and-valueFrom", "key-out-of-its-folder"],
)
def test_what_kubernetes_refuses_or_a_pod_alone_knows_is_refused_by_name(tmp_path, config, env, message):
    assert message in refused(one_task(shell("true", env=[env])), tmp_path)
