"""The Optuna study a sweep's trials share, and where each trial leaves its record.

Every trial runs in its own process (its own pod on a cluster); they meet in one study storage:
a journal file in the run folder (``suggest/study.journal``) when the run folder is local, else
``MLOPS_STUDY_STORAGE`` (an RDB URL such as the MLflow database's server, or a journal file on a
volume every trial mounts). The pruner is named in the study itself, so every trial prunes by
the same rule. Each trial writes ``train-trial/<id>/trial.json`` whole, once it is done;
``select`` reads those files, never one aggregated parameter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from steps import storage
from steps.contract import step_folder
from steps.errors import BadSetting

JOURNAL = "study.journal"
TRIAL_RECORD = "trial.json"
STARTED = "started"  # a trial's user attribute, set when its process begins


def study_name(run_dir: str) -> str:
    """One study per sweep run, named after its run folder (unique on a shared database too)."""
    return "sweep-" + run_dir.rstrip("/").rsplit("/", 1)[-1]


def study_storage(run_dir: str, settings: Any):
    """The storage every trial of this run opens."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    url = getattr(settings, "study_storage", None)
    if url and "://" in url:
        return optuna.storages.RDBStorage(url)
    if url:
        return optuna.storages.JournalStorage(JournalFileBackend(url))
    if storage.is_s3(run_dir):
        raise BadSetting(
            "MLOPS_STUDY_STORAGE: a sweep on s3:// storage needs a study storage every trial reaches "
            "(an RDB URL, or a journal file on a shared volume)"
        )
    folder = step_folder(run_dir, "suggest")
    Path(folder).mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(storage.join(folder, JOURNAL)))


def make_pruner(name: str, warmup_epochs: int):
    """median: the trial's best AUC so far below the median of the judged trials' at the same epoch;
    halving: successive halving (rungs at warmup x 1, 3, 9 epochs, the top third go on); none: never."""
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=warmup_epochs)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=warmup_epochs, reduction_factor=3)
    return optuna.pruners.NopPruner()


def open_study(run_dir: str, settings: Any):
    """The sweep's study as ``suggest`` created it, with its pruner."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    store = study_storage(run_dir, settings)
    name = study_name(run_dir)
    attrs = optuna.load_study(study_name=name, storage=store).user_attrs
    return optuna.load_study(
        study_name=name, storage=store, pruner=make_pruner(attrs["pruner"], attrs["warmup_epochs"])
    )


class EarlierRounds:
    """The study as the pruner sees it for one trial: only the trials of the rounds before its own.

    Lane k runs trials k, k+n, k+2n... (n lanes), so round r is trials r*n .. r*n+n-1 and a trial of
    round r is judged against rounds 0..r-1, once they finished. What finished when no longer
    matters: the same seed prunes the same trials and picks the same winner, however the lanes
    interleave (while every lane has the capacity to run). Round 0 is never pruned: the pruner's startup."""

    def __init__(self, study: Any, trial_id: int, lanes: int) -> None:
        self.study, self.numbers = study, frozenset(range(trial_id // lanes * lanes))

    def get_trials(self, deepcopy: bool = True, states: Any = None) -> list:
        found = self.study.get_trials(deepcopy=deepcopy, states=states)
        return [t for t in found if t.number in self.numbers]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.study, name)

    def unfinished(self) -> list[int]:
        """Earlier trials that started and have not finished. One not started yet (its lane waits for
        a GPU or an executor slot) is not waited for, or lanes short of capacity would wait on each other."""
        trials = self.get_trials(deepcopy=False)
        return sorted(t.number for t in trials if not t.state.is_finished() and t.user_attrs.get(STARTED))

    def wait(self, timeout: float, stopped: Callable[[], bool], poll: float = 0.5) -> list[int]:
        """Until every earlier trial finished, a stop is asked for, or ``timeout`` seconds passed;
        returns the trials still unfinished (judged without them)."""
        deadline = time.monotonic() + timeout
        while (left := self.unfinished()) and time.monotonic() < deadline and not stopped():
            time.sleep(poll)  # other processes' trials: the journal is the only news of them
        return left

    def should_prune(self, trial_id: int) -> bool:
        return bool(self.study.pruner.prune(self, self.study.trials[trial_id]))


def trial_folder(run_dir: str, trial_id: int) -> str:
    return storage.join(step_folder(run_dir, "train-trial"), str(trial_id))


def read_record(run_dir: str, trial_id: int) -> dict[str, Any] | None:
    uri = storage.join(trial_folder(run_dir, trial_id), TRIAL_RECORD)
    return storage.read_json(uri) if storage.exists(uri) else None


def write_record(run_dir: str, trial_id: int, record: dict[str, Any]) -> None:
    storage.write_json(storage.join(trial_folder(run_dir, trial_id), TRIAL_RECORD), record)
