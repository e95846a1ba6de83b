"""mlops cache ls, why and prune on a cache two ingest runs filled."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.conftest import run_step
from workflows.cli.app import app


@pytest.fixture
def filled(sample_data, tmp_path, monkeypatch) -> dict[str, str]:
    """Two ingest runs, the second with another test fraction: two entries, and a miss to explain."""
    root = tmp_path / ".mlops"
    env = {"MLOPS_STORAGE_ROOT": str(root), "MLOPS_CACHE": "on"}
    for run, flags in (("first", []), ("second", ["--test-fraction", "0.2"])):
        done = run_step(
            "ingest", "--run-dir", str(root / "runs" / run), "--data-uri", str(sample_data), *flags, env=env
        )
        assert done.returncode == 0, done.stderr[-1000:]
    monkeypatch.setenv("MLOPS_STORAGE_ROOT", str(root))
    return env


def mlops(*args: str):
    return CliRunner().invoke(app, list(args))


def test_ls_lists_every_entry(filled):
    shown = mlops("cache", "ls")
    assert shown.exit_code == 0, shown.output
    assert [line.split()[0] for line in shown.output.splitlines()] == ["ingest", "ingest"]


def test_why_names_the_part_that_differs_from_the_nearest_earlier_entry(filled):
    shown = mlops("cache", "why", "second", "ingest")
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("miss:") and "differs: params: test_fraction" in shown.output
    assert "code" not in shown.output and "inputs" not in shown.output


def test_why_without_a_record_is_one_line(filled):
    shown = mlops("cache", "why", "second", "features")
    assert shown.exit_code == 65 and "no cache record" in shown.output


def test_prune_drops_only_old_entries_and_refuses_a_bad_duration(filled, tmp_path):
    assert "dropped 0 entries" in mlops("cache", "prune", "--older-than", "30d").output
    assert mlops("cache", "prune", "--older-than", "30 days").exit_code == 65
    assert "dropped 2 entries" in mlops("cache", "prune", "--older-than", "0s").output
    assert mlops("cache", "ls").output == ""
    assert not any(p.is_file() for p in (tmp_path / ".mlops" / "cache" / "objects").rglob("*"))
