"""`mlops runs show` and `mlops runs artifact`: a run's nodes and where each saved artifact lies."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.local.test_local_executor import workflow
from tests.local.test_sandbox import run, shell
from workflows.cli.app import app


def mlops(*args: str):
    return CliRunner().invoke(app, list(args))


def test_show_lists_nodes_and_artifact_prints_where_one_lies(tmp_path):
    make = shell("make", "echo made > /tmp/made.txt; echo v > /tmp/v")
    make["outputs"] = {
        "parameters": [{"name": "v", "valueFrom": {"path": "/tmp/v"}}],
        "artifacts": [{"name": "made", "path": "/tmp/made.txt", "archive": {"none": {}}}],
    }
    fail = shell("fail", "exit 3", retryStrategy={"limit": "1"})
    doc = workflow(
        [{"name": "make", "template": "make"}, {"name": "fail", "template": "fail", "depends": "make"}],
        [make, fail],
    )
    local = run(doc, tmp_path)
    assert local.record.phase == "Failed", local.record.message
    folder = str(local.run_dir)

    shown = mlops("runs", "show", folder)
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == f"{local.record.name} (t): Failed  {local.record.message}"
    assert lines[1].split()[:3] == ["make", "Succeeded", "1"] and lines[2] == "    output v=v"
    assert lines[4].split()[:5] == [
        "fail",
        "Failed",
        "2",
        "attempts",
        "(exit",
    ]  # a retried node: both counted
    located = mlops("runs", "artifact", folder, "make", "made")
    assert located.exit_code == 0, located.output
    assert Path(located.output.strip()).read_text() == "made\n"
    assert lines[3] == f"    artifact made: {located.output.strip()} (5 B)"

    assert mlops("runs", "artifact", folder, "nope", "made").output.strip().endswith("its nodes: make, fail")
    unknown = mlops("runs", "artifact", folder, "make", "other")
    assert unknown.exit_code == 65 and "saved no artifact 'other'; it saved: made" in unknown.output
    missing = mlops("runs", "show", str(tmp_path / "no-such-run"))
    assert missing.exit_code == 65 and "no run.json" in missing.output
