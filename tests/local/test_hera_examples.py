"""Hera's own example workflows of the features the local executor implements, compiled from Hera objects and
run with ``mlops run FILE.py:w`` (issue 15): each file in tests/local/hera_examples is modelled on one of
argoproj-labs/hera's examples/workflows (its docstring names it and what was adapted), and each run gives the
workflow and node phases Argo gives that manifest.

Real subprocesses of the CLI from the repository root, a storage root of their own; the phases are read from
``<storage root>/runs/<run>/run.json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = Path(__file__).with_name("hera_examples")


def run_example(tmp_path: Path, name: str) -> tuple[subprocess.CompletedProcess, dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_") and k != "COLUMNS"}
    env["MLOPS_STORAGE_ROOT"] = str(tmp_path / "store")
    target = f"{(EXAMPLES / name).relative_to(ROOT)}.py:w"
    done = subprocess.run(
        [sys.executable, "-m", "workflows.cli", "run", target],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    (path,) = (tmp_path / "store" / "runs").glob("*/run.json")
    return done, json.loads(path.read_text())


def phases(run: dict) -> dict[str, str]:
    return {name: node["phase"] for name, node in run["nodes"].items()}


@pytest.mark.e2e
def test_dag_diamond(tmp_path):
    done, run = run_example(tmp_path, "dag_diamond")
    assert done.returncode == 0, done.stdout + done.stderr
    assert run["phase"] == "Succeeded"
    assert phases(run) == dict.fromkeys("ABCD", "Succeeded")
    assert run["nodes"]["D"]["started_at"] >= max(run["nodes"][n]["finished_at"] for n in "BC")


@pytest.mark.e2e
def test_script_basic(tmp_path):
    done, run = run_example(tmp_path, "script_basic")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (run["phase"], phases(run)) == ("Succeeded", {"add": "Succeeded", "show": "Succeeded"})
    assert run["nodes"]["add"]["attempts"][-1]["result"] == "5"


@pytest.mark.e2e
def test_loops_with_items(tmp_path):
    done, run = run_example(tmp_path, "loops_with_items")
    assert done.returncode == 0, done.stdout + done.stderr
    assert run["phase"] == "Succeeded"
    assert phases(run) == {
        "test-linux": "Succeeded",
        "test-linux(0:os:debian,version:9.1)": "Succeeded",
        "test-linux(1:os:ubuntu,version:17.10)": "Succeeded",
    }


@pytest.mark.e2e
def test_fan_out_fan_in(tmp_path):
    done, run = run_example(tmp_path, "fan_out_fan_in")
    assert done.returncode == 0, done.stdout + done.stderr
    assert run["phase"] == "Succeeded"
    assert phases(run) == {
        "generate": "Succeeded",
        "fanout": "Succeeded",
        **{f"fanout({i}:value:{i})": "Succeeded" for i in range(3)},
        "fanin": "Succeeded",
    }


@pytest.mark.e2e
def test_conditionals(tmp_path):
    done, run = run_example(tmp_path, "conditionals")
    assert done.returncode != 0, done.stdout + done.stderr
    assert run["phase"] == "Failed"  # the omitted success branch inherits random's failure
    assert phases(run) == {"random": "Failed", "success": "Omitted", "failure": "Succeeded"}


@pytest.mark.e2e
def test_exit_handler(tmp_path):
    done, run = run_example(tmp_path, "exit_handler")
    assert done.returncode != 0, done.stdout + done.stderr
    assert (run["phase"], phases(run)) == ("Failed", {"fail": "Failed"})
    assert run["exit_handler"]["phase"] == "Succeeded"  # it saw status Failed and the failed task


@pytest.mark.e2e
def test_workflow_on_exit(tmp_path):
    """A DAG exit handler: its tasks as ``onExit.<task>`` (dag.go taskNodeName under ``<wf>.onExit``), those for
    Succeeded run and those for Error are Skipped (their ``when`` false), and the handler's DAG Succeeded."""
    done, run = run_example(tmp_path, "workflow_on_exit")
    assert done.returncode == 0, done.stdout + done.stderr
    assert run["phase"] == "Succeeded"
    assert phases(run) == {
        "t1": "Succeeded", "t2": "Succeeded",
        "onExit.t3": "Succeeded", "onExit.t4": "Succeeded", "onExit.t5": "Skipped", "onExit.t6": "Skipped",
    }  # fmt: skip
    assert (run["exit_handler"]["template"], run["exit_handler"]["phase"]) == ("exit-procedure", "Succeeded")
    assert run["nodes"]["onExit.t4"]["started_at"] >= run["nodes"]["onExit.t3"]["finished_at"]


@pytest.mark.e2e
def test_retry(tmp_path):
    done, run = run_example(tmp_path, "retry")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (run["phase"], phases(run)) == ("Succeeded", {"flaky": "Succeeded", "after": "Succeeded"})
    assert [a["phase"] for a in run["nodes"]["flaky"]["attempts"]] == ["Failed", "Failed", "Succeeded"]


@pytest.mark.e2e
def test_steps_parallel(tmp_path):
    """Groups in order, the second group's steps in parallel, each step its own node as Argo names it."""
    done, run = run_example(tmp_path, "steps_parallel")
    assert done.returncode == 0, done.stdout + done.stderr
    assert run["phase"] == "Succeeded"
    assert phases(run) == dict.fromkeys(
        ["[0]", "[0].hello1", "[1]", "[1].hello2a", "[1].hello2b"], "Succeeded"
    )
    assert (
        min(run["nodes"][n]["started_at"] for n in ("[1].hello2a", "[1].hello2b"))
        >= run["nodes"]["[0].hello1"]["finished_at"]
    )


HOOKS = ("running", "success")


@pytest.mark.e2e
def test_hooks(tmp_path):
    """Every hook whose expression held ran once, as Argo names hook nodes (<node>.hooks.<name>); the exit hook
    is the workflow's exit handler (docs/lifecyclehook.md, hooks.go)."""
    done, run = run_example(tmp_path, "hooks")
    assert done.returncode == 0, done.stdout + done.stderr
    assert run["phase"] == "Succeeded"
    assert phases(run) == dict.fromkeys(["[0]", "[0].step-1", "[1]", "[1].step2"], "Succeeded")
    step_hooks = [f"{step}.hooks.{hook}" for step in ("[0].step-1", "[1].step2") for hook in HOOKS]
    hooks = {name: node["phase"] for name, node in run["hooks"].items()}
    assert hooks == dict.fromkeys(["hooks.running", *step_hooks], "Succeeded")
    assert (run["exit_handler"]["template"], run["exit_handler"]["phase"]) == ("http", "Succeeded")
