"""SIGTERM at chosen lines of every step: exit 75, one line naming where, nothing half-written,
and a retry that does the work exactly once.

The signal is not sent after a delay: ``tests/support/sigterm/sitecustomize.py`` sends it from
inside the step's own process the moment a named function is entered (while a library imports,
while a file is written, inside an MLflow call, while the model is logged, during the git push),
so each case lands where it says on any machine, however busy.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import ROOT, local_env, run_step

pytestmark = [pytest.mark.e2e, pytest.mark.faults]
SITECUSTOMIZE = ROOT / "tests" / "support" / "sigterm"
TRAIN_ARGS = ["--epochs", "3", "--batch-size", "256", "--seed", "5", "--device", "cpu"]
CHAIN = ("ingest", "validate_data", "features", "train", "evaluate", "register", "promote", "deploy")


def step_args(step: str, data: Path) -> list[str]:
    return {
        "ingest": ["--data-uri", str(data)],
        "train": TRAIN_ARGS,
        "evaluate": ["--min-auc", "0.5"],
    }.get(step, [])


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """The training chain run once, step by step, with the run folder kept as it was before each step."""
    from workflows.local.sample_data import generate, write_partitions

    root = tmp_path_factory.mktemp("sigterm")
    write_partitions(generate(4_000, seed=5), str(root / "data"), 2)
    env = local_env(root) | {"MLOPS_EXPERIMENT": "sigterm", "MLOPS_MODEL_NAME": "sigterm-reference"}
    run_dir, before, results = root / "reference", {}, {}
    for step in CHAIN:
        before[step] = root / f"before-{step}"
        if run_dir.exists():
            shutil.copytree(run_dir, before[step])
        else:
            before[step].mkdir()
        done = run_step(step, "--run-dir", str(run_dir), *step_args(step, root / "data"), env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        results[step] = done.result
    return {"root": root, "env": env, "before": before, "results": results}


def stopped_at(step: str, run_dir: Path, env: dict[str, str], at: str, args: list[str]):
    """Run the step with SIGTERM sent from inside it when ``at`` (``file.py:function[:n]``) is entered."""
    outputs = run_dir.parent / f"outputs-{run_dir.name}"
    done = subprocess.run(
        [sys.executable, "-m", f"steps.{step}", "--run-dir", str(run_dir), *args],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
        env=os.environ | env | {"SIGTERM_AT": at, "PYTHONPATH": f"{SITECUSTOMIZE}{os.pathsep}{ROOT}",
                                "MLOPS_OUTPUTS_DIR": str(outputs)},
    )  # fmt: skip
    assert f"[sigterm_at] SIGTERM at {at.rsplit(':', 1)[0] if at.count(':') > 1 else at}" in done.stderr, (
        f"the function {at} was never entered: the case tests nothing\n{done.stderr[-2000:]}"
    )
    return done


def assert_no_partial_files(run_dir: Path) -> None:
    leftovers = [p for p in run_dir.rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers, leftovers
    for path in run_dir.rglob("*.json"):
        json.loads(path.read_text())  # whole, or it would not be there


CASES = [
    ("ingest", "numpy/__init__.py:<module>", "while starting; nothing was written"),
    ("ingest", "steps/storage.py:write_bytes:2", "steps/storage.py"),
    ("validate_data", "steps/storage.py:read_table", "in read_table"),
    ("features", "steps/storage.py:write_bytes", "steps/storage.py"),
    ("train", "mlflow/tracking/client.py:create_run", "after finishing creating the MLflow run"),
    ("train", "steps/trainer.py:validate:2", "during epoch 3; resume from epoch 2"),
    ("train", "mlflow/pyfunc/__init__.py:log_model", "after finishing logging the model"),
    ("features", "steps/contract.py:write_outputs", "after finishing writing the results"),
    ("evaluate", "sklearn/metrics/_ranking.py:roc_auc_score", "steps/evaluate.py"),
    ("register", "mlflow/tracking/_model_registry/fluent.py:register_model", "after finishing registering"),
    (
        "promote",
        "mlflow/tracking/client.py:set_registered_model_alias",
        "after finishing moving the champion",
    ),
    ("deploy", "steps/gitops.py:push", "after finishing pushing the deploy commit"),
    ("notify", "steps/storage.py:write_bytes", "steps/storage.py"),
]


@pytest.mark.parametrize(("step", "at", "said"), CASES, ids=[f"{s}@{a}" for s, a, _ in CASES])
def test_sigterm_anywhere_exits_75_and_the_retry_does_the_work_once(chain, step, at, said, request):
    case = request.node.callspec.id.replace("/", "_").replace(":", "_").replace("<", "").replace(">", "")
    root, results = chain["root"], chain["results"]
    model = f"sigterm-{abs(hash(case)) % 10**8}"
    env = chain["env"] | {"MLOPS_MODEL_NAME": model}
    run_dir = root / case
    shutil.copytree(chain["before"].get(step, chain["before"]["deploy"]), run_dir)
    for earlier in ("register", "promote")[: ("register", "promote", "deploy").index(step)] if step in (
        "promote", "deploy") else ():  # fmt: skip
        assert run_step(earlier, "--run-dir", str(run_dir), env=env).returncode == 0
    args = ["--workflow-status", "Succeeded"] if step == "notify" else step_args(step, root / "data")
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("sigterm").experiment_id
    runs_before = len(client.search_runs([experiment]))

    stopped = stopped_at(step, run_dir, env, at, args)
    assert stopped.returncode == 75, (stopped.returncode, stopped.stderr[-3000:])
    last = stopped.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{step}: error: stopped by SIGTERM"), last
    assert said in last, last
    assert "Traceback" not in stopped.stderr
    assert_no_partial_files(run_dir)

    retried = run_step(step, "--run-dir", str(run_dir), *args, env=env)
    assert retried.returncode == 0, retried.stderr[-3000:]
    assert_no_partial_files(run_dir)
    if step in ("ingest", "validate_data", "features", "evaluate"):
        assert retried.result == results[step]
    if step == "train":
        expected = results["train"]
        for key in ("weights_digest", "best_val_auc", "best_epoch", "epochs_run"):
            assert retried.result[key] == expected[key], key
        assert len(client.search_runs([experiment])) == runs_before + 1  # one MLflow run, not two
        logged = client.search_logged_models(
            experiment_ids=[experiment], filter_string=f"source_run_id = '{retried.result['run_id']}'"
        )
        assert len(logged) == 1, [m.model_id for m in logged]  # one model, not one per attempt
    if step in ("register", "promote", "deploy"):
        versions = client.search_model_versions(f"name = '{model}'")
        assert [str(v.version) for v in versions] == ["1"]  # a retried register adds none
        aliases = client.get_registered_model(model).aliases
        assert str(aliases["challenger"]) == "1"
    if step in ("promote", "deploy"):
        assert str(client.get_registered_model(model).aliases["champion"]) == "1"
    if step == "deploy":
        log = subprocess.run(
            ["git", "--git-dir", str(root / ".mlops" / "gitops.git"), "log", "--format=%s", "--", f"serving/{model}"],
            capture_output=True, text=True, check=True,
        ).stdout.splitlines()  # fmt: skip
        assert len([line for line in log if line.startswith(f"Deploy {model} version 1")]) == 1, log
        assert retried.result["changed"] is False  # the first attempt's push was whole: nothing to redo


def test_a_step_forked_by_the_warm_starter_exits_75_on_an_immediate_sigterm(tmp_path):
    """SIGTERM sent the moment the starter reports the pid lands before the step's handler exists:
    it is held (blocked since before the fork) and delivered once the handler is in place."""
    from workflows.local.warm_start import WarmStarter

    starter = WarmStarter(tmp_path / "starter.log")
    try:
        for attempt in range(3):
            log = tmp_path / f"ingest-{attempt}.log"
            env = os.environ | local_env(tmp_path) | {"PYTHONPATH": str(ROOT)}
            process = starter.start(
                [sys.executable, "-m", "steps.ingest", "--run-dir", str(tmp_path / "run")],
                env,
                str(ROOT),
                log,
            )
            os.kill(process.pid, signal.SIGTERM)
            assert process.wait(120) == 75, log.read_text()
            assert "ingest: error: stopped by SIGTERM" in log.read_text()
    finally:
        starter.close()


def test_a_step_launched_by_the_executor_exits_75_on_an_immediate_sigterm(tmp_path):
    """The executor starts a step with SIGTERM blocked (the mask survives exec) until
    ``steps/__init__`` installs the handler: a stop during interpreter start-up is still a 75."""
    from workflows.local.attempt import launch as launch_step

    launch = launch_step.__get__(type("NoStarter", (), {"starter": None, "warm_start": False})())
    for attempt in range(3):
        with (tmp_path / f"ingest-{attempt}.log").open("wb") as log:
            process = launch(
                [sys.executable, "-m", "steps.ingest", "--run-dir", str(tmp_path / "run")],
                log, os.environ | local_env(tmp_path) | {"PYTHONPATH": str(ROOT)}, str(ROOT),
            )  # fmt: skip
            os.kill(process.pid, signal.SIGTERM)
            assert process.wait(120) == 75, (tmp_path / f"ingest-{attempt}.log").read_text()
