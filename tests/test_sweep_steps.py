"""The sweep's steps as real subprocesses on one run folder: suggest's seeded draw and its refusals,
a trial killed while it works resuming from its checkpoint, a trial with bad hyperparameters (65)
recorded as failed, and select refusing a sweep with too few successes in one line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tests.conftest import ROOT, local_env, run_step

pytestmark = [pytest.mark.e2e, pytest.mark.faults]
SITECUSTOMIZE = ROOT / "tests" / "support" / "sigterm"
SPACE = {"lr": {"low": 0.001, "high": 0.01, "log": True}, "batch-size": [128], "epochs": 5}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> dict:
    """ingest -> validate-data -> features -> suggest (4 trials, 2 lanes) on 2000 generated rows."""
    from workflows.local.sample_data import generate, write_partitions

    root = tmp_path_factory.mktemp("sweep")
    write_partitions(generate(2000, seed=5), str(root / "data"), 1)
    env = local_env(root) | {"MLOPS_CACHE": "off"}
    run_dir = root / ".mlops" / "runs" / "sweep-steps"
    for step, args in (
        ("ingest", ["--data-uri", str(root / "data")]),
        ("validate_data", []),
        ("features", []),
    ):
        done = run_step(step, "--run-dir", str(run_dir), *args, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
    drawn = suggest(run_dir, env)
    assert drawn.returncode == 0, drawn.stderr[-2000:]
    return {"env": env, "run_dir": run_dir, "root": root, "suggest": drawn}


def suggest(run_dir: Path, env: dict, *extra: str):
    args = ["--run-dir", str(run_dir), "--trials", "4", "--parallelism", "2", "--seed", "3"]
    return run_step("suggest", *args, "--search-space", json.dumps(SPACE), *extra, env=env)


def study(run_dir: Path) -> optuna.Study:
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(run_dir / "suggest" / "study.journal")))
    return optuna.load_study(study_name=f"sweep-{run_dir.name}", storage=storage)


def test_suggest_draws_the_same_trials_for_the_same_seed(sweep, tmp_path):
    first = sweep["suggest"].result
    assert [t["id"] for t in first["trials"]] == [0, 1, 2, 3]
    assert json.loads(sweep["suggest"].outputs["lanes"]) == [
        {"lane": 0, "trials": [0, 2]},
        {"lane": 1, "trials": [1, 3]},
    ]
    again = suggest(sweep["run_dir"], sweep["env"])  # a retry in the same run folder: the same draw
    assert again.returncode == 0 and again.result["trials"] == first["trials"]
    assert "drawn earlier in this run folder" in again.stderr
    elsewhere = tmp_path / "another-run"  # a new run: a new study, drawn again from the seed
    shutil.copytree(sweep["run_dir"] / "ingest", elsewhere / "ingest")
    fresh = suggest(elsewhere, sweep["env"])
    assert fresh.returncode == 0 and fresh.result["trials"] == first["trials"]
    assert fresh.result["parent_run_id"] != first["parent_run_id"]


def test_a_bad_search_space_exits_65_with_one_line_naming_the_key(sweep, tmp_path):
    args = ["--run-dir", str(tmp_path / "run"), "--search-space", '{"lr": {"low": 0.1, "high": 0.01}}']
    done = run_step("suggest", *args, env=sweep["env"])
    assert done.returncode == 65
    assert done.error_lines() == [
        "suggest: error: parameter --search-space: key 'lr': low 0.1 is not below high 0.01"
    ]


def test_a_trial_killed_while_it_works_resumes_from_its_checkpoint(sweep):
    run_dir, env = sweep["run_dir"], sweep["env"]
    earlier = study(run_dir)
    # Trial 2 (round 1, lane 0) is judged against trial 0, which "started" and runs on: trial 2 waits.
    optuna.trial.Trial(earlier, earlier.trials[0]._trial_id).set_user_attr("started", True)
    command = [sys.executable, "-m", "steps.train_trial", "--run-dir", str(run_dir), "--trial-id", "2",
               "--device", "cpu"]  # fmt: skip
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT,
        env=os.environ | env | {"MLOPS_OUTPUTS_DIR": str(sweep["root"] / "out-2")},
    )  # fmt: skip
    seen = []
    for line in process.stderr:  # the event: trial 2 checkpointed epoch 2 and waits for its judges
        seen.append(line)
        if "waiting for trials [0]" in line:
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "".join(seen)
    marker = json.loads((run_dir / "train-trial" / "2" / "mlflow-run.json").read_text())
    trial = optuna.trial.Trial(earlier, earlier.trials[0]._trial_id)
    for epoch, value in enumerate([0.5, 0.6, 0.65, 0.7, 0.72], start=1):
        trial.report(value, epoch)
    earlier.tell(0, 0.72)  # trial 0 ends: trial 2's judges are complete
    again = run_step("train_trial", "--run-dir", str(run_dir), "--trial-id", "2", "--device", "cpu", env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "trial 2: resumed from epoch 2" in again.stderr
    assert again.result["status"] in ("completed", "pruned") and again.result["run_id"] == marker["run_id"]
    assert study(run_dir).trials[2].state.is_finished()


def test_a_trial_killed_mid_epoch_resumes_from_its_last_checkpoint_and_logs_each_epoch_once(sweep):
    """SIGKILL from inside the trial's process as it validates its third epoch (a pod lost mid-epoch):
    the retry resumes from epoch 2's checkpoint in the same MLflow run, and no epoch is logged twice."""
    from mlflow import MlflowClient

    run_dir, env = sweep["run_dir"], sweep["env"]
    command = [sys.executable, "-m", "steps.train_trial", "--run-dir", str(run_dir), "--trial-id", "1",
               "--device", "cpu"]  # fmt: skip
    killed = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, timeout=300, check=False,
        env=os.environ | env | {"SIGTERM_AT": "steps/trainer.py:validate:3", "SIGTERM_SIGNAL": "SIGKILL",
                                "PYTHONPATH": f"{SITECUSTOMIZE}{os.pathsep}{ROOT}",
                                "MLOPS_OUTPUTS_DIR": str(sweep["root"] / "out-1")},
    )  # fmt: skip
    assert "[sigterm_at] SIGKILL at steps/trainer.py:validate" in killed.stderr, killed.stderr[-2000:]
    assert killed.returncode == -signal.SIGKILL
    assert "trial 1 epoch 2 val_auc" in killed.stderr and "trial 1 epoch 3" not in killed.stderr
    marker = json.loads((run_dir / "train-trial" / "1" / "mlflow-run.json").read_text())
    again = run_step("train_trial", "--run-dir", str(run_dir), "--trial-id", "1", "--device", "cpu", env=env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "trial 1: resumed from epoch 2" in again.stderr
    assert again.result["run_id"] == marker["run_id"]
    history = MlflowClient(env["MLFLOW_TRACKING_URI"]).get_metric_history(marker["run_id"], "val_auc")
    assert sorted(m.step for m in history) == list(range(1, again.result["epochs_run"] + 1))


def test_bad_hyperparameters_fail_the_trial_with_65_and_select_counts_it(sweep, tmp_path):
    from steps.sweep_study import write_record

    run_dir, env = tmp_path / "runs" / sweep["run_dir"].name, sweep["env"]  # the same study, by name
    shutil.copytree(sweep["run_dir"], run_dir, ignore=shutil.ignore_patterns("train-trial"))
    result = run_dir / "suggest" / "result.json"
    drawn = json.loads(result.read_text())
    drawn["trials"][3]["lr"] = 5.0  # beyond what train takes
    result.write_text(json.dumps(drawn))
    done = run_step("train_trial", "--run-dir", str(run_dir), "--trial-id", "3", env=env)
    assert done.returncode == 65
    assert done.error_lines() == [
        "train_trial: error: trial 3: parameter lr: Input should be less than or equal to 1 (got 5.0)"
    ]
    record = json.loads((run_dir / "train-trial" / "3" / "trial.json").read_text())
    assert record["status"] == "failed" and "parameter lr" in record["error"]
    assert study(run_dir).trials[3].state == optuna.trial.TrialState.FAIL
    ended = {"best_val_auc": 0.7, "epochs_run": 2, "run_id": "r", "model_uri": None}
    write_record(str(run_dir), 0, {"trial_id": 0, "status": "pruned", **ended})
    write_record(str(run_dir), 2, {"trial_id": 2, "status": "pruned", **ended})
    chosen = run_step("select", "--run-dir", str(run_dir), env=env)  # 1 left no record, 3 failed
    assert chosen.returncode == 65
    assert chosen.error_lines() == [
        "select: error: only 2 of 4 trials succeeded (0.50 < min-success-ratio 0.75); failed: 1, 3 "
        "(trial 1: no record: its retries ran out)"
    ]
    lenient = run_step("select", "--run-dir", str(run_dir), "--min-success-ratio", "0.5", env=env)
    assert lenient.returncode == 65  # the ratio holds, but every success was pruned: nothing to pick
    assert lenient.error_lines() == [
        "select: error: none of the 4 trials completed (all pruned or failed): nothing to select"
    ]
