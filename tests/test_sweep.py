"""The sweep's parts in-process: the search space's checks, seeded draws, lanes, the earlier-rounds
pruning view, and select's winner, tie-breaks and success ratio."""

from __future__ import annotations

import json

import optuna
import pytest

from steps.errors import BadInput
from steps.select import check_enough, trial_rows, winner
from steps.suggest import draw, lanes
from steps.sweep_space import read_space
from steps.sweep_study import EarlierRounds, make_pruner, write_record


@pytest.mark.parametrize(
    ("space", "expected"),
    [
        ({"lrr": 0.1}, "unknown key 'lrr'"),
        ({"lr": {"low": 0.1, "high": 0.01}}, "key 'lr': low 0.1 is not below high 0.01"),
        ({"lr": {"low": 0, "high": 0.01, "log": True}}, "key 'lr': 0 is outside"),
        ({"batch-size": [64, 0]}, "key 'batch-size': 0 is outside"),
        ({"batch_size": [64.5]}, "key 'batch-size': 64.5 is not a whole number"),
        ({"hidden-sizes": ["64,x"]}, "key 'hidden-sizes': '64,x' is not a list of widths"),
        ({"dropout": {"low": 0.1, "high": 1.0}}, "key 'dropout': 1.0 is outside"),
        ({"epochs": [3, 4]}, "key 'epochs': the cap is one whole number"),
        ({"weight-decay": {"low": 0.1, "high": 0.2, "lg": True}}, "key 'weight-decay': a range is"),
    ],
)
def test_a_bad_search_space_is_one_line_naming_the_key(space, expected):
    with pytest.raises(BadInput) as raised:
        read_space(json.dumps(space))
    message = str(raised.value)
    assert message.startswith("parameter --search-space: ") and expected in message
    assert "\n" not in message


def test_a_space_reads_from_yaml_as_from_json():
    text = "lr: {low: 0.0001, high: 0.1, log: true}\nbatch-size: [64, 128]\nhidden-sizes: [[64, 32], '128']\n"
    text += "epochs: 3\n"
    space = read_space(text)
    assert space.epochs == 3
    assert space.distributions["hidden-sizes"].choices == ("64,32", "128")
    assert space.distributions["lr"].log
    with pytest.raises(BadInput, match="neither JSON nor YAML"):
        read_space("lr: [0.1\n")


def drawn(seed: int, trials: int = 6) -> list[dict]:
    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(sampler=sampler, direction="maximize")
    return draw(study, read_space(""), trials)


def test_the_same_seed_draws_the_same_trials_and_another_seed_others():
    assert drawn(7) == drawn(7)
    assert drawn(7) != drawn(8)
    assert [t["id"] for t in drawn(7)] == list(range(6))


def test_lanes_deal_trials_round_robin():
    trials = [{"id": i} for i in range(7)]
    assert lanes(trials, 3) == [
        {"lane": 0, "trials": [0, 3, 6]},
        {"lane": 1, "trials": [1, 4]},
        {"lane": 2, "trials": [2, 5]},
    ]
    assert lanes(trials[:2], 4) == [{"lane": 0, "trials": [0]}, {"lane": 1, "trials": [1]}]


def study_with(curves: dict[int, list[float]], finished: set[int]) -> optuna.Study:
    """A study whose trial i reported ``curves[i]`` per epoch; those in ``finished`` completed."""
    study = optuna.create_study(direction="maximize", pruner=make_pruner("median", 2))
    for number in sorted(curves):
        trial = study.ask()
        trial.set_user_attr("started", True)
        for epoch, value in enumerate(curves[number], start=1):
            trial.report(value, epoch)
        if number in finished:
            study.tell(number, max(curves[number]))
    return study


def test_a_trial_is_judged_against_earlier_rounds_only():
    # Two lanes: trials 0, 1 are round 0; 2, 3 round 1. Trial 3 finished before trial 2's check.
    curves = {0: [0.60, 0.70], 1: [0.62, 0.72], 2: [0.50, 0.71], 3: [0.90, 0.95]}
    study = study_with(curves, finished={0, 1, 3})
    assert EarlierRounds(study, 0, 2).should_prune(0) is False  # round 0: the startup, never pruned
    assert EarlierRounds(study, 2, 2).numbers == {0, 1}
    assert EarlierRounds(study, 2, 2).should_prune(2) is False  # 0.71 is not below median(0.70, 0.72)
    # Plain Optuna counts trial 3 because it happened to finish first: median(0.70, 0.72, 0.95).
    assert study.pruner.prune(study, study.trials[2])
    assert EarlierRounds(study, 4, 2).numbers == {0, 1, 2, 3}
    assert EarlierRounds(study, 4, 2).unfinished() == [2]


def test_the_judge_waits_for_a_started_earlier_trial_but_not_for_one_never_started():
    study = study_with({0: [0.7], 1: [0.6], 2: [0.5]}, finished={0})
    rounds = EarlierRounds(study, 2, 1)
    assert rounds.unfinished() == [1]
    assert rounds.wait(timeout=0, stopped=lambda: False) == [1]  # the wait ran out: judged without it
    assert rounds.wait(timeout=60, stopped=lambda: True) == [1]  # a stop ends the wait at once
    study.tell(1, 0.6)
    assert rounds.wait(timeout=60, stopped=lambda: False) == []
    never = optuna.create_study(direction="maximize")
    never.ask()  # drawn, but its process never began
    never.ask()
    assert EarlierRounds(never, 1, 1).unfinished() == []


def rows(*records: dict) -> list[dict]:
    return [{"id": i, **record} for i, record in enumerate(records)]


def test_the_winner_is_the_best_auc_then_fewer_epochs_then_the_lower_id():
    found = rows(
        {"status": "completed", "best_val_auc": 0.8, "epochs_run": 5},
        {"status": "completed", "best_val_auc": 0.9, "epochs_run": 6},
        {"status": "completed", "best_val_auc": 0.9, "epochs_run": 4},
        {"status": "completed", "best_val_auc": 0.9, "epochs_run": 4},
        {"status": "pruned", "best_val_auc": 0.95, "epochs_run": 2},
    )
    assert winner(found)["id"] == 2
    assert winner(rows({"status": "pruned", "best_val_auc": 0.9, "epochs_run": 2})) is None


def test_enough_trials_must_succeed_and_a_pruned_trial_is_a_success():
    ok = {"status": "completed", "best_val_auc": 0.8, "epochs_run": 3}
    pruned = {"status": "pruned", "best_val_auc": 0.6, "epochs_run": 2}
    bad = {"status": "failed", "error": "trial 2: parameter lr: Input should be less than or equal to 1"}
    check_enough(rows(ok, pruned, pruned, bad), 0.75)  # 3 of 4: the ratio holds
    with pytest.raises(BadInput) as raised:
        check_enough(rows(ok, bad, pruned, {"status": "lost", "error": "no record"}), 0.75)
    assert str(raised.value) == (
        "only 2 of 4 trials succeeded (0.50 < min-success-ratio 0.75); failed: 1, 3 "
        "(trial 1: trial 2: parameter lr: Input should be less than or equal to 1)"
    )


def test_select_reads_each_trials_record_from_the_run_folder(tmp_path):
    run_dir = str(tmp_path / "run")
    write_record(run_dir, 0, {"trial_id": 0, "status": "pruned", "best_val_auc": 0.5, "epochs_run": 2})
    found = trial_rows(run_dir, [{"id": 0, "lr": 0.01}, {"id": 1, "lr": 0.02}])
    assert found[0] == {"id": 0, "lr": 0.01, "status": "pruned", "best_val_auc": 0.5, "epochs_run": 2}
    assert found[1]["status"] == "lost" and found[1]["lr"] == 0.02


def test_halving_judges_each_rung_against_the_earlier_rounds():
    study = optuna.create_study(direction="maximize", pruner=make_pruner("halving", 2))
    for number, value in enumerate([0.70, 0.80, 0.60, 0.75, 0.90, 0.85]):  # one lane: round i is trial i
        trial = study.ask()
        for epoch in (1, 2):
            trial.report(value, epoch)
        pruned = EarlierRounds(study, number, 1).should_prune(number)
        study.tell(number, state=optuna.trial.TrialState.PRUNED) if pruned else study.tell(number, value)
    states = [t.state.name for t in study.trials]
    # At the first rung (epoch 2) a trial goes on only in the top third of itself and those before it.
    assert states == ["COMPLETE", "COMPLETE", "PRUNED", "PRUNED", "COMPLETE", "COMPLETE"]


def test_a_sweep_on_s3_needs_a_study_storage_every_trial_reaches(tmp_path):
    from types import SimpleNamespace

    from steps.errors import BadSetting
    from steps.sweep_study import study_storage

    with pytest.raises(BadSetting, match="^MLOPS_STUDY_STORAGE: a sweep on s3:// storage needs"):
        study_storage("s3://bucket/runs/sweep-1", SimpleNamespace(study_storage=None))
    url = f"sqlite:///{tmp_path / 'studies.db'}"  # an RDB URL: what a cluster points every trial at
    storage = study_storage("s3://bucket/runs/sweep-1", SimpleNamespace(study_storage=url))
    assert isinstance(storage, optuna.storages.RDBStorage)
