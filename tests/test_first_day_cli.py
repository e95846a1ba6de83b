"""A new user's first day (issue 22): what the commands print and accept, and what the README
tells them to type. Each test fails on the defect it is named after."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import time
from pathlib import Path

import pytest
import typer
import yaml
from rich.console import Console
from typer.testing import CliRunner

from steps.contract import StepParams, parse_params
from steps.errors import BadInput
from steps.storage import check_data_uri
from tests.conftest import ROOT
from workflows.cli.app import app
from workflows.cli.runs import report
from workflows.local.record import Node, RunRecord
from workflows.local.watch import Ledger, poll
from workflows.settings import Settings


@pytest.fixture
def clean_env(monkeypatch):
    """No MLOPS_*, ARGO_* or MLflow variables from the shell that runs the tests."""
    for key in list(os.environ):
        if key.startswith(("MLOPS_", "ARGO_")) or key == "MLFLOW_TRACKING_URI":
            monkeypatch.delenv(key)
    monkeypatch.setenv("COLUMNS", "200")


def mlops(*args: str):
    return CliRunner().invoke(app, list(args))


def record(runs_root: Path, name: str, nodes: dict[str, Node] | None = None) -> RunRecord:
    return RunRecord(
        name=name, uid="u1", template=name.rsplit("-", 1)[0], creation_timestamp="", parameters={},
        run_dir=str(runs_root / name), phase="Succeeded", nodes=nodes or {},
    )  # fmt: skip


def printed(run: RunRecord, settings: Settings, width: int = 40) -> list[str]:
    """What ``report`` prints, on a console narrower than any path in it."""
    out = io.StringIO()
    report(Console(file=out, width=width), run, settings)
    return out.getvalue().splitlines()


# Item 7: the MLflow line a local run prints.


def test_the_mlflow_ui_line_is_one_command_that_runs_as_is(tmp_path, clean_env):
    settings = Settings(storage_root=str(tmp_path / "my runs"))
    lines = printed(record(tmp_path / "my runs" / "runs", "training-abc12"), settings)
    [at] = [i for i, line in enumerate(lines) if line.startswith("MLflow:")]
    command = shlex.split(lines[at + 1])
    assert command[1:] == ["ui", "--backend-store-uri", settings.tracking_uri]
    executable = Path(command[0])
    assert executable.is_file() and os.access(executable, os.X_OK), command[0]  # relative: to the cwd
    assert executable.name == "mlflow"


def test_a_users_own_workflow_gets_no_mlflow_line_and_its_loop_items_are_not_child_runs(tmp_path, clean_env):
    """`mlops run wf.py:w`: a looped task's children are its items (nodes of the run), not runs it started."""
    settings = Settings(storage_root=str(tmp_path))
    items = {
        f"double({i}:{i})": Node(name=f"double({i}:{i})", template="double", phase="Succeeded")
        for i in (0, 1)
    }
    group = Node(name="double", template="double", phase="Succeeded", children=list(items))
    out = io.StringIO()
    report(
        Console(file=out, width=200),
        record(tmp_path / "runs", "try-ab12c", {"double": group, **items}),
        settings,
        "wf.py:w",
    )
    lines = out.getvalue().splitlines()
    assert not any("started" in line or line.startswith("MLflow:") for line in lines), lines
    assert lines == [f"run record: {tmp_path / 'runs' / 'try-ab12c' / 'run.json'}"]


# Item 8a: mlops watch --once and a file still being written.


def test_watch_says_which_file_it_leaves_for_later_and_when(tmp_path):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    young, old = incoming / "young.parquet", incoming / "old.parquet"
    young.write_bytes(b"x")
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 3600,) * 2)
    os.utime(young, (time.time() + 3600,) * 2)  # changed "now" whatever the clock does during the test
    said, started = [], []

    def start_run(uri: str) -> tuple[str, str]:
        started.append(uri)
        return "training-x", "Succeeded"

    poll(str(incoming), Ledger(tmp_path / "ledger"), start_run, [], said.append)
    assert started == [str(old)]
    [line] = [line for line in said if str(young) in line]
    assert line.startswith(f"not yet: {young} changed in the last 2 s")
    assert re.search(r"a poll from \d\d:\d\d:\d\d on picks it up$", line), line


# Item 8b: load_current (and drift, tests/e2e/test_drift.py) default to MLOPS_DRIFT_CURRENT_URI.


def test_load_current_reads_the_drift_current_uri_setting_when_not_given(tmp_path, clean_env):
    from steps.drift import DriftParams
    from steps.load_current import LoadCurrentParams, load_current
    from workflows.local.sample_data import generate, write_partitions

    incoming = tmp_path / "incoming"
    frame = generate(300, seed=3)
    write_partitions(frame, str(incoming), 2)
    settings = Settings(drift_current_uri=str(incoming), storage_root=str(tmp_path / ".mlops"))
    params = parse_params(LoadCurrentParams, ["--run-dir", str(tmp_path / "run")], "steps.load_current")
    result = load_current(params, settings)
    assert result.rows == len(frame)
    assert (tmp_path / "run" / "load-current" / "current.parquet").exists()
    assert parse_params(DriftParams, ["--run-dir", str(tmp_path / "run")], "steps.drift").current_uri is None


# Item 8c: the README's by-hand list (run whole: tests/e2e/test_readme_by_hand.py).


def readme_block(heading: str) -> list[str]:
    """The first ```bash block under a README heading, one command a line, comments kept."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(f"\n{heading}\n") :]
    block = section[section.index("```bash\n") + len("```bash\n") :]
    return [line for line in block[: block.index("```")].splitlines() if line.strip()]


def test_the_readme_by_hand_list_runs_every_training_step_in_the_workflow_order():
    doc = yaml.safe_load((ROOT / "manifests" / "training.yaml").read_text())
    in_workflow = [
        t["container"]["command"][-1] for t in doc["spec"]["templates"] if "container" in t
    ]  # python -m steps.X
    by_hand = [
        words[2]
        for words in (shlex.split(line, comments=True) for line in readme_block("## The steps"))
        if words[:2] == ["python", "-m"]
    ]
    assert by_hand == in_workflow
    assert all(module.startswith("steps.") for module in in_workflow)


# Item 8d: mlops cron list reads the schedules from the settings.


def test_cron_list_shows_the_schedules_of_the_settings_and_says_so(tmp_path, clean_env, monkeypatch):
    from workflows.pipelines import compile as compiled

    cluster_env = tmp_path / "cluster.env"
    cluster_env.write_text('MLOPS_RETRAIN_SCHEDULE="15 4 * * 2"\nMLOPS_SCHEDULE_TIMEZONE=Europe/Paris\n')
    monkeypatch.setattr(compiled, "CLUSTER_ENV", cluster_env)
    monkeypatch.setenv("MLOPS_DRIFT_SCHEDULE", "0 9 * * *")  # a shell variable the cluster never sees
    done = mlops("cron", "list")
    assert done.exit_code == 0, done.output
    assert (
        "from settings MLOPS_RETRAIN_SCHEDULE, MLOPS_DRIFT_SCHEDULE, MLOPS_SCHEDULE_TIMEZONE" in done.output
    )
    rows = {line.split("│")[1].strip(): line for line in done.output.splitlines() if line.count("│") > 4}
    assert "15 4 * * 2" in rows["retrain"] and "Europe/Paris" in rows["retrain"]
    assert "0 6 * * *" in rows["drift-check"]
    assert "note: this shell's MLOPS_DRIFT_SCHEDULE='0 9 * * *' is not used" in done.output


# Item 8e: mlops retry suggests no --via it does not have.


def test_retry_without_an_argo_server_suggests_nothing_it_lacks(clean_env):
    done = mlops("retry", "training-x7k2p")
    assert done.exit_code == 78
    assert "setting ARGO_SERVER: not set" in done.output
    assert "--via" not in done.output
    assert "--via" not in mlops("retry", "--help").output


# Item 8f: a drift run's report says what the retrain it started decided.


def test_a_drift_run_reports_what_its_retrain_decided(tmp_path, clean_env):
    runs = tmp_path / ".mlops" / "runs"
    settings = Settings(storage_root=str(tmp_path / ".mlops"))
    child = runs / "training-y7k2p"
    (child / "notify").mkdir(parents=True)
    (child / "run.json").write_text(json.dumps({"phase": "Succeeded"}))
    model = {
        "decision": "promote", "reason": "test AUC 0.91 > champion 0.88 + 0", "version": "2",
        "champion_version": "2", "deployed_commit": "0123456789abcdef", "deploy_changed": True,
    }  # fmt: skip
    (child / "notify" / "summary.json").write_text(json.dumps({"status": "Succeeded", "model": model}))
    retrain = Node(name="start-retrain", template="start-retrain", phase="Succeeded", children=[child.name])
    lines = printed(record(runs, "drift-a1b2c", {"start-retrain": retrain}), settings, width=300)
    at = lines.index(f"start-retrain: started {child.name} (run record {child / 'run.json'})")
    assert lines[at + 1 : at + 5] == [
        f"  {child.name}: Succeeded",
        f"  {child.name}: model: promote (test AUC 0.91 > champion 0.88 + 0)",
        f"  {child.name}: registered version 2: the challenger, promoted to champion",
        f"  {child.name}: deployed: commit 0123456789ab in {settings.gitops_url}",
    ]


# Item 8g: a local '..' path.


def test_a_dotdot_path_is_refused_with_the_path_to_give_instead():
    with pytest.raises(BadInput) as refused:
        check_data_uri("../data/", [])
    message = str(refused.value)
    assert "'..' segments are refused" in message
    assert f"give the path without them: {Path('../data').resolve()}" in message
    assert "prefix" not in message  # no data prefix is configured: none to talk about


# Item 8h: mlops lint's exit code is covered where lint is tested:
# tests/pipelines/test_manifests.py::test_mlops_lint_exits_non_zero_with_one_line_per_problem (65).


# Item 8i: -h everywhere.


def command_paths(command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    if hasattr(command, "commands"):  # a group (typer's own click)
        for name, sub in command.commands.items():
            found += command_paths(sub, (*path, name))
    return found


def test_dash_h_is_help_for_the_app_and_every_command():
    paths = command_paths(typer.main.get_command(app))
    assert ("models", "promote") in paths and ("run",) in paths
    for path in paths:
        done = mlops(*path, "-h")
        assert done.exit_code == 0, (path, done.output)
        assert "Usage:" in done.output and "--help" in done.output, path


# Item 8j: a step's --help and its required flags.


class Needs(StepParams):
    """A step with a required flag and a list defaulting to empty."""

    current_uri: str
    columns: list[str] = []


def test_step_help_shows_required_flags_as_required_with_no_default(capsys):
    from steps.retrain_data import RetrainDataParams

    for params, prog in ((Needs, "steps.needs"), (RetrainDataParams, "steps.retrain_data")):
        with pytest.raises(SystemExit) as done:
            parse_params(params, ["--help"], prog)
        assert done.value.code == 0
        shown = " ".join(capsys.readouterr().out.split())
        assert "PydanticUndefined" not in shown
        assert re.search(r"--current-uri CURRENT_URI (.* )?\(required\)", shown), shown


# Item 8k: mlops settings names the variables.


def test_settings_prints_the_environment_variables(clean_env, monkeypatch):
    monkeypatch.setenv("MLOPS_STORAGE_ROOT", "/tmp/m")
    done = mlops("settings")
    assert done.exit_code == 0, done.output
    shown = json.loads(done.stdout)
    assert shown["MLOPS_STORAGE_ROOT"] == "/tmp/m"
    assert shown["MLFLOW_TRACKING_URI"] == "sqlite:////tmp/m/mlflow.db"  # the effective one
    assert shown["MLOPS_GITOPS_REPO_URL"] == "file:///tmp/m/gitops.git"  # the effective one too
    assert "ARGO_SERVER" in shown and "MLOPS_DRIFT_CURRENT_URI" in shown
    assert not [key for key in shown if key.islower()]
