"""`mlops watch`: new objects on S3 (moto's server) start local training runs, each exactly once."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from tests.conftest import ROOT
from workflows.local.sample_data import generate

pytestmark = pytest.mark.e2e
FAST = ["-p", "epochs=2", "-p", "batch-size=256", "-p", "min-auc=0.5"]


@dataclass
class Lake:
    env: dict[str, str]
    bucket: str

    def upload(self, key: str, seed: int) -> None:
        body = generate(3000, seed=seed).to_parquet(index=False)
        boto3.client("s3").put_object(Bucket=self.bucket, Key=key, Body=body)

    def watch(self) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "workflows.cli", "watch", f"s3://{self.bucket}/incoming/", "--once", *FAST],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env, cwd=ROOT,
        )  # fmt: skip


@pytest.fixture
def lake(s3_env, tmp_path, request) -> Lake:
    """A bucket of its own for each test, and a storage root for the local runs."""
    bucket = "watched-" + hashlib.sha1(request.node.name.encode()).hexdigest()[:12]
    boto3.client("s3").create_bucket(Bucket=bucket)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_") and k != "MLFLOW_TRACKING_URI"}
    return Lake(env | s3_env | {"MLOPS_STORAGE_ROOT": str(tmp_path / ".mlops"), "COLUMNS": "200"}, bucket)


def finished(process: subprocess.Popen) -> tuple[int, str]:
    out, err = process.communicate(timeout=600)
    return process.returncode, out + err


def runs(env: dict[str, str]) -> dict[str, dict]:
    """Each local run's data-uri and phase, from its run record."""
    found = {}
    for path in (Path(env["MLOPS_STORAGE_ROOT"]) / "runs").glob("*/run.json"):
        record = json.loads(path.read_text())
        found[record["name"]] = {"data-uri": record["parameters"]["data-uri"], "phase": record["phase"]}
    return found


def test_each_new_object_starts_one_run_and_a_restart_starts_none(lake):
    lake.upload("incoming/2026-11-20.parquet", seed=1)
    lake.upload("incoming/2026-11-21.parquet", seed=2)
    boto3.client("s3").put_object(Bucket=lake.bucket, Key="incoming/_SUCCESS", Body=b"")

    code, output = finished(lake.watch())
    assert code == 0, output
    started = runs(lake.env)
    assert sorted(r["data-uri"] for r in started.values()) == [
        f"s3://{lake.bucket}/incoming/2026-11-20.parquet",
        f"s3://{lake.bucket}/incoming/2026-11-21.parquet",
    ]
    assert all(r["phase"] == "Succeeded" for r in started.values()), output

    code, output = finished(lake.watch())  # a restarted watcher
    assert code == 0, output
    assert runs(lake.env) == started
    assert "new data" not in output

    ledger = [
        json.loads(p.read_text()) for p in (Path(lake.env["MLOPS_STORAGE_ROOT"]) / "watch").glob("*.json")
    ]
    assert sorted((e["state"], e["phase"]) for e in ledger) == [("done", "Succeeded")] * 2


def test_a_key_that_leaves_the_prefix_is_refused(lake):
    lake.upload("incoming/../../etc/x.parquet", seed=3)
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=lake.bucket)["Contents"]]
    assert keys == ["incoming/../../etc/x.parquet"]  # S3 keeps the key as given

    code, output = finished(lake.watch())
    assert code == 0, output
    uri = f"s3://{lake.bucket}/incoming/../../etc/x.parquet"
    assert f"refused: data-uri '{uri}': '..' segments are refused" in output
    assert runs(lake.env) == {}


def test_watchers_started_together_run_a_new_object_once(lake):
    lake.upload("incoming/2026-11-22.parquet", seed=4)
    watchers = [lake.watch() for _ in range(4)]
    results = [finished(w) for w in watchers]
    assert [code for code, _ in results] == [0] * 4, results
    assert len(runs(lake.env)) == 1
    assert sum("new data" in output for _, output in results) == 1


KILLED_CLAIMER = """
import os, signal, sys
from pathlib import Path
from steps import storage
from workflows.local.watch import Ledger
[(uri, version)] = storage.list_versions(sys.argv[1])
assert Ledger(Path(sys.argv[2])).claim(uri, version)
print(uri, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # a watcher killed after its claim, before its run
"""


def test_an_object_claimed_by_a_killed_watcher_is_trained_on_by_the_next(lake):
    lake.upload("incoming/2026-11-23.parquet", seed=5)
    ledger = Path(lake.env["MLOPS_STORAGE_ROOT"]) / "watch"
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_CLAIMER, f"s3://{lake.bucket}/incoming/", str(ledger)],
        capture_output=True, text=True, env=lake.env, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr
    uri = killed.stdout.strip()

    code, output = finished(lake.watch())
    assert code == 0, output
    assert f"retaking {uri}: its claimer (pid " in output and "is gone and recorded no run" in output
    assert [r["data-uri"] for r in runs(lake.env).values()] == [uri]

    code, output = finished(lake.watch())  # and only once
    assert code == 0, output
    assert "new data" not in output and len(runs(lake.env)) == 1
