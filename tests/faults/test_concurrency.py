"""Concurrency: two training runs of one model at once, and many triggers for one new object.

Locally the template's mutex is a file lock, so the second run waits for the first (on Argo the
same mutex does it); the registry ends consistent: versions in order, one champion. Ten triggers
for the same object, at the same moment, start one run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import ROOT
from workflows.local.watch import Ledger, poll

pytestmark = [pytest.mark.e2e, pytest.mark.faults]


def test_two_runs_of_one_model_are_serialized_and_the_registry_stays_consistent(tmp_path, sample_data):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_") and k != "MLFLOW_TRACKING_URI"}
    env |= {
        "MLOPS_STORAGE_ROOT": str(tmp_path / ".mlops"),
        "MLOPS_DATA_URI": str(sample_data),
        "COLUMNS": "200",
    }
    command = [
        sys.executable,
        "-m",
        "workflows.cli",
        "run",
        "training",
        "-p",
        "epochs=3",
        "-p",
        "min-auc=0.5",
    ]
    runs = [
        subprocess.Popen(command + ["-p", f"seed={seed}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
        for seed in (1, 2)
    ]  # fmt: skip
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs

    records = [json.loads(p.read_text()) for p in (tmp_path / ".mlops" / "runs").glob("*/run.json")]
    spans = sorted((r["started_at"], r["finished_at"]) for r in records)
    first_tasks = sorted(
        min(a["started_at"] for n in r["nodes"].values() for a in n["attempts"]) for r in records
    )
    assert len(spans) == 2
    # the second run's first task started only after the first run's last task had finished
    last_of_first = max(
        a["finished_at"]
        for r in records
        if min(a["started_at"] for n in r["nodes"].values() for a in n["attempts"]) == first_tasks[0]
        for n in r["nodes"].values()
        for a in n["attempts"]
    )
    assert first_tasks[1] >= last_of_first, (first_tasks, last_of_first)

    client = MlflowClient(f"sqlite:///{tmp_path / '.mlops' / 'mlflow.db'}")
    versions = sorted(client.search_model_versions("name = 'fraud-detector'"), key=lambda v: int(v.version))
    assert [str(v.version) for v in versions] == ["1", "2"]
    assert versions[0].creation_timestamp <= versions[1].creation_timestamp
    # The first run's version is champion unless the second run's evaluate (against it) decided promote.
    second = next(
        r
        for r in records
        if min(a["started_at"] for n in r["nodes"].values() for a in n["attempts"]) == first_tasks[1]
    )
    decision = second["nodes"]["evaluate"]["outputs"]["decision"]
    assert decision in ("promote", "reject"), decision
    champion = client.get_model_version_by_alias("fraud-detector", "champion")
    assert str(champion.version) == ("2" if decision == "promote" else "1"), decision
    assert len({v.run_id for v in versions}) == 2  # one version per run, none doubled


def test_ten_triggers_for_one_object_start_one_run(tmp_path):
    landing = tmp_path / "incoming"
    landing.mkdir()
    data = landing / "2026-11-22.parquet"
    data.write_bytes(b"PAR1")
    old = os.stat(data).st_mtime - 60
    os.utime(data, (old, old))  # settled: not being written any more
    ledger = Ledger(tmp_path / "ledger")
    started, barrier = [], threading.Barrier(10)

    def start_run(uri: str) -> tuple[str, str]:
        started.append(uri)
        return f"run-{len(started)}", "Succeeded"

    def trigger() -> None:
        barrier.wait()
        poll(str(landing), ledger, start_run, [], lambda line: None)

    threads = [threading.Thread(target=trigger) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert started == [str(data)]
    [entry] = ledger.entries()
    assert entry["state"] == "done" and entry["run"] == "run-1"
    assert Path(entry["uri"]) == data
