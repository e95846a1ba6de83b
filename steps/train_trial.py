"""Train-trial: the train step for one trial of a sweep, pruned early when the pruner says so.

Reads the trial's values from ``suggest``'s result (trial ids go through the fan-out, values stay in
the run folder), trains with train's own loop, checkpoints and MLflow run marker
(``steps.train``) in ``train-trial/<id>/`` (a killed trial resumes there on retry), reports the
validation AUC of every epoch to the sweep's shared study, and stops when the study's pruner says
so: exit 0 with ``status: pruned``, no model logged. A completed trial logs its model as train does.
Its MLflow run is a child of the sweep's parent run (params, per-epoch metrics, ``mlops.pruned``).
Values train refuses, or a loss that diverges, are bad input (65): the trial is marked failed in
the study and in its record, and the sweep goes on while enough trials succeed (``select``).
"""

from __future__ import annotations

import sys
from typing import Any, Literal

from pydantic import Field, ValidationError

from steps import storage
from steps.contract import (
    StepParams,
    StepResult,
    describe_validation_error,
    earlier_result,
    log,
    run_step,
    step_folder,
)
from steps.errors import BadInput
from steps.stopping import deferred, stop_requested
from steps.sweep_study import STARTED, EarlierRounds, open_study, read_record, trial_folder, write_record
from steps.threads import apply_thread_policy


class TrialParams(StepParams):
    """Train one trial of the sweep drawn by suggest; resume from its checkpoint when one exists."""

    trial_id: int = Field(..., ge=0, description="the trial's id in suggest's trials")
    patience: int = Field(3, ge=1, description="epochs without validation AUC gain before stopping")
    seed: int = Field(42, ge=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    experiment: str | None = Field(None, description="MLflow experiment; default MLOPS_EXPERIMENT")
    wait_seconds: float = Field(
        3600, ge=0, description="how long to wait for earlier rounds' trials before judging without them"
    )


class TrialResult(StepResult):
    trial_id: int
    status: Literal["completed", "pruned"]
    epochs_run: int
    best_epoch: int
    best_val_auc: float
    run_id: str
    model_uri: str | None
    train_seconds: float


def train_params(params: TrialParams, trial: dict[str, Any], epochs: int):
    """train's parameters for this trial; values train refuses are bad input naming the trial."""
    from steps.train import TrainParams

    values = {k.replace("-", "_"): v for k, v in trial.items() if k != "id"}
    try:
        return TrainParams(
            run_dir=params.run_dir, epochs=epochs, patience=params.patience, seed=params.seed,
            device=params.device, experiment=params.experiment, **values,
        )  # fmt: skip
    except ValidationError as exc:
        name = lambda field: field.replace("_", "-")  # noqa: E731
        raise BadInput(f"trial {params.trial_id}: {describe_validation_error(exc, name)}") from None


def run_epochs(
    trainer, trial, rounds, warmup: int, wait_seconds: float, client, run_id: str, checkpoint_uri: str
) -> bool:
    """Train until done or pruned (True); every epoch checkpointed, logged and reported to the study."""
    from steps.tracking import as_metrics, tracking_errors
    from steps.train import Preempted, save_checkpoint

    with deferred("the epoch's checkpoint"):
        while not trainer.finished:
            try:
                metrics = trainer.run_epoch()
            except ValueError as exc:  # roc_auc_score refuses NaN scores: the loss diverged
                if "NaN" not in str(exc):
                    raise
                raise BadInput(
                    f"trial {trial.number}: the loss diverged (NaN) in epoch {trainer.epoch + 1} "
                    f"with lr {trainer.params.lr}"
                ) from None
            if metrics is None:
                raise Preempted(
                    f"stopped by SIGTERM during epoch {trainer.epoch + 1}; resume from epoch {trainer.epoch}"
                )
            trainer.record(metrics)
            save_checkpoint(checkpoint_uri, trainer.state())
            with tracking_errors("logging epoch metrics"):
                client.log_batch(run_id, metrics=as_metrics(metrics, trainer.epoch))
            trial.report(metrics["val_auc"], trainer.epoch)  # a step reported before (a retry) is ignored
            log("train-trial", f"trial {trial.number} epoch {trainer.epoch} val_auc {metrics['val_auc']:.5f}")
            if not trainer.finished and trainer.epoch >= warmup and judge(rounds, trial.number, wait_seconds):
                return True
    return False


def judge(rounds: EarlierRounds, trial_id: int, wait_seconds: float) -> bool:
    """The pruner's verdict against the earlier rounds, once they finished (or the wait ran out)."""
    from steps.train import Preempted

    if rounds.unfinished():
        log("train-trial", f"trial {trial_id}: waiting for trials {rounds.unfinished()} to finish")
        left = rounds.wait(wait_seconds, stop_requested)
        if stop_requested():
            raise Preempted(f"stopped by SIGTERM while trial {trial_id} waited for earlier trials")
        if left:
            log(
                "train-trial",
                f"trial {trial_id}: judged without trials {left}, unfinished after {wait_seconds:.0f} s",
            )
    return rounds.should_prune(trial_id)


def finish(study, trial_id: int, record: dict[str, Any]) -> None:
    """Tell the study how the trial ended (once: a retry finds it told)."""
    import optuna

    frozen = study.trials[trial_id]
    if frozen.state.is_finished():
        return
    if record["status"] == "completed":
        study.tell(trial_id, record["best_val_auc"])
    else:
        state = (
            optuna.trial.TrialState.PRUNED if record["status"] == "pruned" else optuna.trial.TrialState.FAIL
        )
        study.tell(trial_id, state=state)


def train_trial(params: TrialParams, settings) -> TrialResult:
    """Train the trial, pruned or to the end; returns how it ended and, when completed, its model."""
    apply_thread_policy(settings)  # before torch loads: threads this process may really use
    import optuna

    sweep = earlier_result(params.run_dir, "suggest")
    trials = {t["id"]: t for t in sweep["trials"]}
    if params.trial_id not in trials:
        raise BadInput(
            f"parameter --trial-id: no trial {params.trial_id} in this sweep (0..{len(trials) - 1})"
        )
    study = open_study(params.run_dir, settings)
    done = read_record(params.run_dir, params.trial_id)
    if done is not None:  # run again after its record was written: the same end, the study told once
        finish(study, params.trial_id, done)
        if done["status"] == "failed":
            raise BadInput(done["error"])
        return TrialResult.model_validate(done)
    trial = optuna.trial.Trial(study, study.trials[params.trial_id]._trial_id)
    trial.set_user_attr(STARTED, True)  # earlier-round judges wait for a started trial, not an unstarted one
    try:
        train = train_params(params, trials[params.trial_id], sweep["epochs"])
        return run_trial(params, settings, train, study, trial)
    except BadInput as exc:
        record = {"trial_id": params.trial_id, "status": "failed", "error": str(exc)}
        with deferred("recording the failed trial"):
            write_record(params.run_dir, params.trial_id, record)
            finish(study, params.trial_id, record)
        raise


def run_trial(params: TrialParams, settings, train, study, trial) -> TrialResult:
    from steps.features import load_arrays
    from steps.tracking import as_metrics, as_tags, connect, experiment_id, tracking_errors
    from steps.train import CHECKPOINT, load_checkpoint, log_model, mlflow_run_id, pick_device, weights_digest
    from steps.trainer import Trainer

    folder = trial_folder(params.run_dir, params.trial_id)
    features = step_folder(params.run_dir, "features")
    trainer = Trainer(
        train,
        load_arrays(storage.join(features, "train.npz")),
        load_arrays(storage.join(features, "validation.npz")),
        pick_device(params.device),
    )
    checkpoint_uri = storage.join(folder, CHECKPOINT)
    saved = load_checkpoint(checkpoint_uri, train)
    if saved is not None:
        trainer.restore(saved)
        log("train-trial", f"trial {params.trial_id}: resumed from epoch {trainer.epoch}")
    sweep = earlier_result(params.run_dir, "suggest")
    ingested = earlier_result(params.run_dir, "ingest")
    lineage = {
        "mlops.step": "train-trial",
        "mlflow.parentRunId": sweep["parent_run_id"],
        "mlflow.runName": f"{sweep['study']}-trial-{params.trial_id}",
        "mlops.sweep": sweep["study"],
        "mlops.sweep_trial": str(params.trial_id),
        "mlops.sweep_parent_run": sweep["parent_run_id"],
        "mlops.data_fingerprint": ingested["fingerprint"],
        "mlops.data_uri": ingested["data_uri"],
        "mlops.run_dir": params.run_dir,
    }
    with tracking_errors("starting the trial's run"):
        client = connect(settings)
        experiment = experiment_id(client, params.experiment or settings.experiment, settings)
        stale = saved is None and storage.exists(checkpoint_uri)
        run_id = mlflow_run_id(folder, client, experiment, train, lineage, fresh=stale)
    rounds = EarlierRounds(study, params.trial_id, len(sweep["lanes"]))
    warmup = study.user_attrs["warmup_epochs"]
    pruned = run_epochs(trainer, trial, rounds, warmup, params.wait_seconds, client, run_id, checkpoint_uri)
    record = {
        "trial_id": params.trial_id,
        "status": "pruned" if pruned else "completed",
        "epochs_run": trainer.epoch,
        "best_epoch": trainer.best.epoch,
        "best_val_auc": round(trainer.best.auc, 6),
        "run_id": run_id,
        "model_uri": None,
        "train_seconds": round(trainer.train_seconds, 3),
    }
    with tracking_errors("logging the trial's end"), deferred("logging the trial's end"):
        tags = {"mlops.pruned": str(pruned).lower(), "mlops.best_epoch": str(trainer.best.epoch)}
        if not pruned:
            logged = client.get_run(run_id).data.tags.get("mlops.model_uri")
            record["model_uri"] = logged or log_model(client, run_id, trainer, params.run_dir)
            tags["mlops.weights_digest"] = weights_digest(trainer.best.state)  # evaluate compares digests
        client.log_batch(
            run_id, metrics=as_metrics({"best_val_auc": trainer.best.auc}, trainer.epoch), tags=as_tags(tags)
        )
        write_record(params.run_dir, params.trial_id, record)
        finish(study, params.trial_id, record)
    log(
        "train-trial",
        f"trial {params.trial_id}: {record['status']} after {trainer.epoch} epochs, best val_auc {record['best_val_auc']}",
    )
    return TrialResult.model_validate(record)


def main(argv: list[str] | None = None) -> None:
    run_step("train_trial", TrialParams, train_trial, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
