"""Train: a PyTorch MLP on the preprocessed features, resumable after a preemption.

The arrays live on the device as tensors and are batched by a shuffled index, not a per-row
DataLoader (several times faster for tabular data). CUDA is used when present, with bf16
autocast; on the CPU runs are reproducible for a seed. After every epoch a checkpoint (model,
optimizer, RNG states, early-stopping state) is written to ``train/checkpoint.pt`` in the run
folder; a retried step resumes from it and ends with the same weights as an uninterrupted run,
in the same MLflow run. SIGTERM (a spot reclaim's grace period) stops at the next batch boundary
after saving; elsewhere it stops the step as the contract says (``steps.stopping``), never in the
middle of creating the MLflow run or logging the model, so a retry adds neither twice. The best
epoch's network is logged with the fitted preprocessor as one pyfunc.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator

from steps import storage
from steps.contract import CommaList, StepParams, StepResult, earlier_result, log, run_step, step_folder
from steps.errors import BadInput, Transient
from steps.features import load_arrays
from steps.stopping import deferred
from steps.threads import apply_thread_policy
from steps.trainer import Trainer

CHECKPOINT = "checkpoint.pt"
MLFLOW_RUN = "mlflow-run.json"


class TrainParams(StepParams):
    """Train the network; resume from the run folder's checkpoint when one exists."""

    # "auto" is no part of the cache key: the device it resolves to is (steps.cache).
    NOT_IN_CACHE_KEY: ClassVar[frozenset[str]] = StepParams.NOT_IN_CACHE_KEY | {"device"}
    epochs: int = Field(20, ge=1, le=10_000)
    lr: float = Field(3e-3, gt=0, le=1)
    batch_size: int = Field(512, ge=1, le=1_048_576)
    hidden_sizes: CommaList[int] = Field(
        default_factory=lambda: [64, 32], description="comma-separated widths"
    )
    dropout: float = Field(0.1, ge=0, lt=1)
    weight_decay: float = Field(1e-5, ge=0, le=1)
    patience: int = Field(3, ge=1, description="epochs without validation AUC gain before stopping")
    seed: int = Field(42, ge=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    experiment: str | None = Field(None, description="MLflow experiment; default MLOPS_EXPERIMENT")

    @field_validator("hidden_sizes")
    @classmethod
    def _positive_widths(cls, value: list[int]) -> list[int]:
        if not value or any(width < 1 or width > 65_536 for width in value):
            raise ValueError("each hidden size must be between 1 and 65536")
        return value

    def hyperparameters(self) -> dict[str, Any]:
        return self.model_dump(exclude={"run_dir", "experiment", "device"})


class TrainResult(StepResult):
    run_id: str
    model_uri: str
    epochs_run: int
    best_epoch: int
    best_val_auc: float
    resumed_from_epoch: int
    device: str
    samples_per_second: float
    weights_digest: str


class Preempted(Transient):
    """SIGTERM arrived; the checkpoint is saved and a retry will resume."""


def pick_device(requested: str):
    import torch

    if requested == "cuda" and not torch.cuda.is_available():
        raise BadInput("parameter --device: cuda was asked for but no GPU is visible")
    return torch.device("cuda" if requested in ("cuda", "auto") and torch.cuda.is_available() else "cpu")


def weights_digest(state_dict: dict) -> str:
    digest = hashlib.sha256()
    for name, tensor in state_dict.items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def save_checkpoint(uri: str, state: dict[str, Any]) -> None:
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    storage.write_bytes(uri, buffer.getvalue())


def load_checkpoint(uri: str, params: TrainParams) -> dict[str, Any] | None:
    """The saved state, when it was made with these hyperparameters."""
    import torch

    if not storage.exists(uri):
        return None
    saved = torch.load(io.BytesIO(storage.read_bytes(uri)), map_location="cpu", weights_only=False)
    if saved["params"] != params.hyperparameters():
        log("train", "the checkpoint was made with other parameters; starting from scratch")
        return None
    return saved


def mlflow_run_id(
    folder: str, client, experiment: str, params: TrainParams, lineage: dict[str, str], fresh: bool
) -> str:
    """The MLflow run of this training: the one a previous attempt created, or a new one."""
    from mlflow.exceptions import MlflowException

    from steps.tracking import as_params

    marker = storage.join(folder, MLFLOW_RUN)
    if not fresh and storage.exists(marker):
        run_id = storage.read_json(marker)["run_id"]
        try:
            client.get_run(run_id)
            return run_id
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            log(
                "train",
                f"MLflow run {run_id} of this run folder is not on this tracking server; starting a new run",
            )
    with deferred("creating the MLflow run"):  # a run without its marker would be duplicated by the retry
        run = client.create_run(experiment, tags={"mlops.step": "train", **lineage})
        storage.write_json(marker, {"run_id": run.info.run_id})
    client.log_batch(run.info.run_id, params=as_params(params.hyperparameters()))
    return run.info.run_id


def model_signature(numeric: list[str], categorical: list[str]):
    """Raw columns in, probability out; numbers typed Any because the model coerces them itself
    (MLflow would otherwise refuse an int64 column for a double, or a missing value for a long)."""
    from mlflow.models import ModelSignature
    from mlflow.types import DataType
    from mlflow.types.schema import AnyType, ColSpec, Schema

    inputs = [ColSpec(AnyType(), name) for name in numeric] + [
        ColSpec(DataType.string, name) for name in categorical
    ]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema([ColSpec(DataType.double, "probability")]))


def input_metadata(spec: dict) -> dict[str, Any]:
    """What serving checks values against (the signature types numbers Any): the columns that take
    numbers, and the columns that may be null (missing values in train; unknown for a spec without)."""
    inputs = {"numeric": spec["numeric"]}
    if "nullable" in spec:
        inputs["nullable"] = spec["nullable"]
    return {"mlops_inputs": inputs}


def log_model(client, run_id: str, trainer: Trainer, run_dir: str) -> str:
    """Log preprocessing + best network as one pyfunc; returns its model URI."""
    import joblib
    import mlflow
    import pandas as pd
    import sklearn
    import torch

    import steps
    from steps.model import TabularClassifier

    feature_folder = step_folder(run_dir, "features")
    spec = storage.read_json(storage.join(feature_folder, "spec.json"))
    example = storage.read_table(storage.join(step_folder(run_dir, "ingest"), "validation.parquet"))
    example = example[spec["numeric"] + spec["categorical"]].head(5)
    with tempfile.TemporaryDirectory() as tmp:
        preprocessor = Path(tmp, "preprocessor.joblib")
        preprocessor.write_bytes(storage.read_bytes(storage.join(feature_folder, "preprocessor.joblib")))
        network = Path(tmp, "network.pt")
        bundle = {
            "state_dict": trainer.best.state,
            "input_dim": int(trainer.x.shape[1]),
            "hidden_sizes": trainer.params.hidden_sizes,
            "dropout": trainer.params.dropout,
        }
        torch.save(bundle, network)
        # The model carries the code that defines it, so it loads wherever MLflow can load it.
        code = Path(tmp, "code", "steps")
        shutil.copytree(Path(steps.__file__).parent, code, ignore=shutil.ignore_patterns("__pycache__"))
        with mlflow.start_run(run_id=run_id):
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=TabularClassifier(),
                artifacts={"preprocessor": str(preprocessor), "network": str(network)},
                code_paths=[str(code)],
                input_example=example,
                signature=model_signature(spec["numeric"], spec["categorical"]),
                metadata=input_metadata(spec),
                pip_requirements=[
                    f"mlflow=={mlflow.__version__}",
                    f"torch=={torch.__version__.split('+')[0]}",
                    f"scikit-learn=={sklearn.__version__}",
                    f"pandas=={pd.__version__}",
                    f"numpy=={np.__version__}",
                    f"joblib=={joblib.__version__}",
                ],
            )
    client.set_tag(run_id, "mlops.model_uri", info.model_uri)
    return info.model_uri


def train(params: TrainParams, settings) -> TrainResult:
    """Train (or resume training) the network and log it to MLflow; returns the run and model URI."""
    from steps.tracking import as_metrics, as_tags, connect, experiment_id, tracking_errors

    apply_thread_policy(settings)  # before torch loads: threads this process may really use
    folder = step_folder(params.run_dir, "train")
    features = step_folder(params.run_dir, "features")
    device = pick_device(params.device)
    trainer = Trainer(
        params,
        load_arrays(storage.join(features, "train.npz")),
        load_arrays(storage.join(features, "validation.npz")),
        device,
    )
    checkpoint_uri = storage.join(folder, CHECKPOINT)
    saved = load_checkpoint(checkpoint_uri, params)
    if saved is not None:
        trainer.restore(saved)
        log("train", f"resumed from epoch {trainer.epoch} (checkpoint {checkpoint_uri})")
    ingested = earlier_result(params.run_dir, "ingest")
    lineage = {
        "mlops.data_fingerprint": ingested["fingerprint"],
        "mlops.data_uri": ingested["data_uri"],
        "mlops.run_dir": params.run_dir,
    }
    with tracking_errors("starting the training run"):
        client = connect(settings)
        experiment = experiment_id(client, params.experiment or settings.experiment, settings)
        # A checkpoint of other parameters starts a new MLflow run; no checkpoint yet (an attempt
        # stopped before its first epoch) keeps the run that attempt created.
        stale = saved is None and storage.exists(checkpoint_uri)
        run_id = mlflow_run_id(folder, client, experiment, params, lineage, fresh=stale)

    if trainer.history:  # the last checkpointed epoch may have died before its metrics reached MLflow
        with tracking_errors("logging epoch metrics"):
            client.log_batch(run_id, metrics=as_metrics(trainer.history[-1], trainer.epoch))
    log("train", f"{len(trainer.x):,} rows x {trainer.x.shape[1]} features on {device}, MLflow run {run_id}")
    with deferred("the epoch's checkpoint"):  # a SIGTERM ends the epoch early; the checkpoint is kept
        while not trainer.finished:
            metrics = trainer.run_epoch()
            if metrics is None:
                raise Preempted(
                    f"stopped by SIGTERM during epoch {trainer.epoch + 1}; resume from epoch {trainer.epoch}"
                )
            trainer.record(metrics)
            save_checkpoint(checkpoint_uri, trainer.state())
            log(
                "train",
                f"epoch {trainer.epoch}/{params.epochs} "
                + " ".join(f"{k} {v:.5f}" for k, v in metrics.items()),
            )
            with tracking_errors("logging epoch metrics"):
                client.log_batch(run_id, metrics=as_metrics(metrics, trainer.epoch))

    samples_per_second = trainer.epoch * len(trainer.x) / max(trainer.train_seconds, 1e-9)
    with tracking_errors("logging the model"), deferred("logging the model"):
        model_uri = client.get_run(run_id).data.tags.get("mlops.model_uri") or log_model(
            client, run_id, trainer, params.run_dir
        )
        digest = weights_digest(trainer.best.state)
        client.log_batch(
            run_id,
            metrics=as_metrics(
                {"best_val_auc": trainer.best.auc, "samples_per_second": samples_per_second}, trainer.epoch
            ),
            tags=as_tags({"mlops.weights_digest": digest, "mlops.best_epoch": str(trainer.best.epoch)}),
        )
    return TrainResult(
        run_id=run_id,
        model_uri=model_uri,
        epochs_run=trainer.epoch,
        best_epoch=trainer.best.epoch,
        best_val_auc=round(trainer.best.auc, 6),
        resumed_from_epoch=saved["epoch"] if saved else 0,
        device=str(device),
        samples_per_second=round(samples_per_second, 1),
        weights_digest=digest,
    )


def main(argv: list[str] | None = None) -> None:
    run_step("train", TrainParams, train, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
