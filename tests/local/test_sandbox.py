"""Each task in a filesystem of its own (workflows.local.sandbox): real mount namespaces, real processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.local.test_local_executor import workflow
from workflows.local import sandbox
from workflows.local.executor import LocalRun

REPO = Path(__file__).resolve().parents[2]
HOST_PATHS = ("/tmp/x", "/mnt/out", "/art", "/usr/local/h4-sandbox-probe")


def shell(name: str, script: str, **template) -> dict:
    return {
        "name": name,
        "container": {"image": "alpine", "command": ["sh", "-c"], "args": [script]},
        **template,
    }


WRITER = shell(
    "write",
    "echo x > /tmp/x; mkdir -p /mnt/out /art; echo o > /mnt/out/o.txt; echo y > /art/y;"
    " if touch /usr/local/h4-sandbox-probe 2>/dev/null; then echo the host is writable; exit 3; fi",
    outputs={
        "parameters": [{"name": "x", "valueFrom": {"path": "/tmp/x"}}],
        "artifacts": [{"name": "y", "path": "/art/y"}, {"name": "out", "path": "/mnt/out"}],
    },
)


def state(path: str):
    """What the host holds at a path: absent, or its kind and contents."""
    target = Path(path)
    if not target.exists():
        return None
    if target.is_dir():
        return sorted(str(p) for p in target.rglob("*"))
    return target.read_bytes()


def run(doc: dict, tmp_path: Path) -> LocalRun:
    local = LocalRun(doc, {}, str(tmp_path / "runs"), locks_dir=str(tmp_path / "locks"))
    local.run()
    return local


def test_tasks_writing_tmp_mnt_and_art_leave_the_host_untouched(tmp_path):
    before = {path: state(path) for path in HOST_PATHS}
    local = run(
        workflow([{"name": "a", "template": "write"}, {"name": "b", "template": "write"}], [WRITER]), tmp_path
    )
    assert local.record.phase == "Succeeded", local.record.message
    assert {path: state(path) for path in HOST_PATHS} == before
    for name in ("a", "b"):  # what each wrote is in its own folder of the run
        node = local.record.nodes[name]
        assert node.outputs == {"x": "x"}
        root = Path(node.attempts[-1].sandbox) / "root"
        assert (root / "art" / "y").read_text() == "y\n"
        assert set(node.attempts[-1].artifacts) == {"y", "out"}


def test_a_retry_starts_from_a_fresh_filesystem(tmp_path):
    """Each retry is a new pod in Argo: what the first attempt left in /tmp is gone."""
    flaky = shell("flaky", "if [ -e /tmp/mark ]; then exit 0; fi; touch /tmp/mark; [ {{retries}} -ge 1 ]")
    flaky["retryStrategy"] = {"limit": "2"}
    flaky["outputs"] = {"parameters": [{"name": "m", "valueFrom": {"path": "/tmp/mark"}}]}
    local = run(workflow([{"name": "a", "template": "flaky"}], [flaky]), tmp_path)
    node = local.record.nodes["a"]
    assert (local.record.phase, len(node.attempts)) == ("Succeeded", 2)
    assert node.attempts[0].sandbox != node.attempts[1].sandbox


def test_volumes_subpath_and_a_working_folder_the_host_lacks(tmp_path):
    """A claim is one folder per run (subPath a folder in it); an emptyDir is the task's; workingDir is made."""
    writer = shell("put", "echo shared > /data/f; echo mine > /scratch/f; pwd > /tmp/pwd")
    writer["container"]["workingDir"] = "/no/such/workdir"
    writer["container"]["volumeMounts"] = [
        {"name": "claim", "mountPath": "/data", "subPath": "a"},
        {"name": "scratch", "mountPath": "/scratch"},
    ]
    writer["outputs"] = {"parameters": [{"name": "pwd", "valueFrom": {"path": "/tmp/pwd"}}]}
    reader = shell("get", "cat /x/f > /tmp/got; test ! -e /scratch/f")
    reader["container"]["volumeMounts"] = [
        {"name": "claim", "mountPath": "/x", "subPath": "a"},
        {"name": "scratch", "mountPath": "/scratch"},
    ]
    reader["outputs"] = {"parameters": [{"name": "got", "valueFrom": {"path": "/tmp/got"}}]}
    doc = workflow(
        [{"name": "put", "template": "put"}, {"name": "get", "template": "get", "depends": "put"}],
        [writer, reader],
        volumeClaimTemplates=[{"metadata": {"name": "claim"}, "spec": {"accessModes": ["ReadWriteOnce"]}}],
        volumes=[{"name": "scratch", "emptyDir": {}}],
    )
    local = run(doc, tmp_path)
    assert local.record.phase == "Succeeded", local.record.message
    assert local.record.nodes["put"].outputs == {"pwd": "/no/such/workdir"}
    assert local.record.nodes["get"].outputs == {"got": "shared"}
    assert (local.run_dir / "volumes" / "claim" / "a" / "f").read_text() == "shared\n"


def test_the_project_pipelines_run_on_the_host(tmp_path):
    """The training and drift workflows name their outputs folder in MLOPS_OUTPUTS_DIR and mount only scratch
    emptyDirs: no template needs a sandbox, so they run where no namespace can be made, warm-started as before."""
    for name in ("training.yaml", "drift.yaml"):
        for doc in yaml.safe_load_all((REPO / "manifests" / name).read_text()):
            for template in doc["spec"]["templates"]:
                assert sandbox.reason(template) is None, (name, template["name"])


@pytest.mark.skipif(
    os.getuid() != 0 or not shutil.which("unshare"), reason="as root: a user namespace checks it"
)
def test_an_unprivileged_user_gets_the_same_sandbox(tmp_path):
    """Not root: the sandbox is a user namespace with the uid mapped to itself. Checked here from inside a user
    namespace where this process is uid 1000 (the machine's tests run as root)."""
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps(workflow([{"name": "a", "template": "write"}], [WRITER])))
    code = (
        "import json, sys; from workflows.local.executor import LocalRun; "
        f"r = LocalRun(json.load(open({str(doc)!r})), {{}}, {str(tmp_path / 'runs')!r}).run(); "
        "print(r.phase, r.message); sys.exit(r.phase != 'Succeeded')"
    )
    done = subprocess.run(
        ["unshare", "--user", "--map-user=1000", "--map-group=1000", sys.executable, "-c", code],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads(next((tmp_path / "runs").glob("*/run.json")).read_text())
    assert record["nodes"]["a"]["outputs"] == {"x": "x"}
