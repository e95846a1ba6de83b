"""The step cache against its mutation suite: each change class a hit or a miss as it should be.

Data, parameters, settings, the image, deleted outputs, failures and concurrency go through real step
processes; the code and library parts (which a test must not change in the checkout) through the key
itself, on a copy of ``steps/``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from steps import cache_key
from tests.conftest import ROOT, run_step


@dataclass
class World:
    data: Path
    root: Path
    env: dict[str, str]

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    def run_dir(self, run: str) -> Path:
        return self.root / "runs" / run


@pytest.fixture
def world(sample_data, tmp_path) -> World:
    data = tmp_path / "data"
    shutil.copytree(sample_data, data)
    root = tmp_path / ".mlops"
    env = {
        "MLOPS_STORAGE_ROOT": str(root),
        "MLOPS_CACHE": "on",
        "MLFLOW_TRACKING_URI": f"sqlite:///{root}/mlflow.db",
    }
    return World(data, root, env)


def step(world: World, name: str, run: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """Run a step in run folder ``run``; returns its cache record (``hit``, ``key``, ``parts``)."""
    extra = ["--data-uri", str(world.data)] if name == "ingest" else []
    done = run_step(name, "--run-dir", str(world.run_dir(run)), *extra, *args, env=world.env | (env or {}))
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((world.run_dir(run) / name.replace("_", "-") / "cache.json").read_text())


def entries(world: World, name: str) -> list[Path]:
    return sorted((world.cache / "entries" / name).glob("*.json"))


def change_a_byte(world: World) -> None:
    part = sorted(world.data.rglob("*.parquet"))[0]
    frame = pd.read_parquet(part)
    frame.loc[0, "amount"] = frame.loc[0, "amount"] + 0.01
    frame.to_parquet(part, index=False)


def add_a_partition(world: World) -> None:
    part = sorted(world.data.rglob("*.parquet"))[0]
    pd.read_parquet(part).head(50).assign(amount=1.0).to_parquet(
        world.data / "late-arrival.parquet", index=False
    )


# (change class, what to change before the second run, its extra flags and env, expected hit)
INGEST_CHANGES = [
    ("unchanged inputs", None, [], {}, True),
    ("a data byte", change_a_byte, [], {}, False),
    ("a new partition", add_a_partition, [], {}, False),
    ("a parameter that matters", None, ["--test-fraction", "0.2"], {}, False),
    ("a parameter that does not matter", None, ["--cache", "true"], {}, True),
    ("a setting the step does not read", None, [], {"MLOPS_EXPERIMENT": "another"}, True),
    ("a setting the step reads", None, [], {"MLOPS_ALLOWED_DATA_PREFIXES": '["/"]'}, False),
    ("the image digest", None, [], {"MLOPS_IMAGE_DIGEST": "sha256:" + "1" * 64}, False),
]


@pytest.mark.parametrize(
    ("change", "mutate", "flags", "env", "hit"), INGEST_CHANGES, ids=[c[0] for c in INGEST_CHANGES]
)
def test_ingest_change_class(world, change, mutate, flags, env, hit):
    first = step(world, "ingest", "first")
    assert not first["hit"] and len(entries(world, "ingest")) == 1
    if mutate:
        mutate(world)
    second = step(world, "ingest", "second", *flags, env=env)
    assert second["hit"] is hit, change
    if hit:  # the outputs restored are the very bytes, and the result the same
        for name in ("train.parquet", "test.parquet", "metadata.json", "result.json"):
            before = (world.run_dir("first") / "ingest" / name).read_bytes()
            assert (world.run_dir("second") / "ingest" / name).read_bytes() == before
    else:
        assert second["key"] != first["key"] and len(entries(world, "ingest")) == 2


def test_a_deleted_cached_output_is_a_miss_and_the_entry_is_repaired(world):
    first = step(world, "ingest", "first")
    entry = json.loads(entries(world, "ingest")[0].read_text())
    Path(entry["outputs"]["train.parquet"]["uri"]).unlink()
    second = step(world, "ingest", "second")
    assert not second["hit"] and second["key"] == first["key"]
    assert (world.run_dir("second") / "ingest" / "train.parquet").exists()
    third = step(world, "ingest", "third")  # the miss stored the entry again
    assert third["hit"]


def test_a_failed_step_is_never_cached(world):
    step(world, "ingest", "first")
    args = ["--run-dir", str(world.run_dir("first")), "--min-rows", "1000000"]
    for _ in range(2):  # the second run fails again: nothing was stored to hit
        done = run_step("validate_data", *args, env=world.env)
        assert done.returncode == 65, done.stderr[-1000:]
        assert entries(world, "validate_data") == []
        assert not (world.run_dir("first") / "validate-data" / "cache.json").exists()


def test_downstream_steps_hit_on_restored_inputs_and_miss_on_changed_ones(world):
    for name in ("ingest", "validate_data", "features"):
        assert not step(world, name, "first")["hit"]
    assert all(step(world, name, "second")["hit"] for name in ("ingest", "validate_data", "features"))
    (world.run_dir("second") / "ingest" / "result.json").write_text("{}")  # what features reads changed
    assert not step(world, "features", "second")["hit"]


def test_two_concurrent_runs_of_one_key_leave_one_whole_entry(world):
    base = [sys.executable, "-m", "steps.ingest", "--data-uri", str(world.data)]
    env = {**os.environ, **world.env, "PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen(
            [*base, "--run-dir", str(world.run_dir(run))],
            env=env | {"MLOPS_OUTPUTS_DIR": str(world.root / f"out-{run}")},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for run in ("a", "b")
    ]
    assert [p.wait(timeout=300) for p in processes] == [0, 0]
    records = [json.loads((world.run_dir(r) / "ingest" / "cache.json").read_text()) for r in ("a", "b")]
    assert records[0]["key"] == records[1]["key"]
    [entry_file] = entries(world, "ingest")
    entry = json.loads(entry_file.read_text())
    assert all(Path(o["uri"]).exists() for o in entry["outputs"].values())
    third = step(world, "ingest", "c")
    assert third["hit"]
    assert (world.run_dir("c") / "ingest" / "train.parquet").read_bytes() == (
        world.run_dir("a") / "ingest" / "train.parquet"
    ).read_bytes()


@pytest.mark.parametrize(
    "off", [{"MLOPS_CACHE": "off"}, {"flags": ["--cache", "false"]}], ids=["env", "flag"]
)
def test_the_cache_turned_off_runs_the_step(world, off):
    step(world, "ingest", "first")
    flags = off.pop("flags", [])
    run_dir = world.run_dir("second")
    done = run_step(
        "ingest", "--run-dir", str(run_dir), "--data-uri", str(world.data), *flags, env=world.env | off
    )
    assert done.returncode == 0, done.stderr[-1000:]
    assert not (run_dir / "ingest" / "cache.json").exists() and "cached" not in done.stderr


def test_a_hit_leaves_the_node_a_cached_message_and_the_same_outputs(world):
    step(world, "ingest", "first")
    done = run_step(
        "ingest", "--run-dir", str(world.run_dir("second")), "--data-uri", str(world.data), env=world.env
    )
    first = json.loads((world.run_dir("first") / "ingest" / "result.json").read_text())
    assert done.outputs.pop(".message").startswith("cached")
    assert done.outputs["fingerprint"] == first["fingerprint"] and done.outputs["rows-out"] == str(
        first["rows_out"]
    )
    assert json.loads((world.run_dir("second") / "ingest" / "usage.json").read_text())["cached"] is True


def test_a_bad_cache_setting_names_the_variable(world):
    done = run_step(
        "ingest",
        "--run-dir",
        str(world.run_dir("x")),
        "--data-uri",
        str(world.data),
        env=world.env | {"MLOPS_CACHE": "maybe"},
    )
    assert done.returncode == 78 and "MLOPS_CACHE" in done.stderr


def test_a_restore_tells_the_next_lookup_its_digests(world, monkeypatch):
    step(world, "ingest", "first")
    assert step(world, "ingest", "second")["hit"]
    restored = str(world.run_dir("second") / "ingest")
    hashed, real = [], cache_key.file_digest
    monkeypatch.setattr(cache_key, "file_digest", lambda path: hashed.append(Path(path).name) or real(path))
    known = cache_key.folder_content(restored)
    monkeypatch.undo()
    assert hashed == ["result.json"]  # the step's own record; every output's digest came from the entry
    (Path(restored) / cache_key.DIGEST_MEMO).unlink()
    assert (
        known
        == cache_key.folder_content(restored)
        == cache_key.folder_content(str(world.run_dir("first") / "ingest"))
    )
