"""Register: make the trained model a version in MLflow's registry, with its lineage.

Every evaluated model becomes a version aliased ``challenger``, tagged with the evaluation's
decision and reason; moving ``champion`` is the ``promote`` step's job (gated on the decision).
Lineage tags say where the version came from: data fingerprint and URI, workflow name and uid,
git commit and image. A version that replaces a champion trained on other columns (evaluate's
``--replace-incompatible-champion``) is tagged ``mlops.schema_change`` with the columns that changed.
Running it again for the same MLflow run creates no second version.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Literal

from pydantic import Field

from steps.contract import StepParams, StepResult, earlier_result, log, run_step
from steps.errors import BadInput
from steps.schema import ColumnComparison
from steps.stopping import deferred

CHALLENGER = "challenger"
SCHEMA_CHANGE_TAG = "mlops.schema_change"


class RegisterParams(StepParams):
    """Register the model version and alias it challenger."""

    run_id: str | None = Field(None, description="MLflow run of the model; default from train")
    model_uri: str | None = Field(None, description="default from train")
    model_name: str | None = Field(None, description="registered model; default MLOPS_MODEL_NAME")
    decision: Literal["promote", "reject"] | None = Field(None, description="default from evaluate")
    workflow_name: str | None = Field(None, description="default: the run folder's name")
    workflow_uid: str = ""
    git_commit: str | None = Field(None, description="default MLOPS_GIT_COMMIT or this checkout's HEAD")
    image: str | None = Field(None, description="default MLOPS_IMAGE")


class RegisterResult(StepResult):
    model_name: str
    version: str
    decision: str


def checkout_commit() -> str:
    """HEAD of the checkout the step runs from, when it runs from one."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def existing_version(client, name: str, run_id: str):
    """The version already registered from this run, if any (so a retry registers nothing new)."""
    found = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    return min(found, key=lambda v: int(v.version)) if found else None


def evaluation(run_dir: str) -> dict:
    """This run's evaluation result, or nothing when evaluate did not run here (flags given by hand)."""
    try:
        return earlier_result(run_dir, "evaluate")
    except BadInput:
        return {}


def register(params: RegisterParams, settings) -> RegisterResult:
    """Register (once) and alias the model challenger; returns its version."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from steps.tracking import connect, tracking_errors

    trained = earlier_result(params.run_dir, "train") if not (params.run_id and params.model_uri) else {}
    run_id = params.run_id or trained["run_id"]
    model_uri = params.model_uri or trained["model_uri"]
    evaluated = evaluation(params.run_dir) if params.decision else earlier_result(params.run_dir, "evaluate")
    decision = params.decision or evaluated["decision"]
    name = params.model_name or settings.model_name
    changed = evaluated.get("schema_change")
    schema_change = ColumnComparison.model_validate(changed) if changed and decision == "promote" else None

    with tracking_errors("registering the model"):
        client = connect(settings)
        run_tags = client.get_run(run_id).data.tags
        lineage = {
            "mlops.data_fingerprint": run_tags.get("mlops.data_fingerprint", ""),
            "mlops.data_uri": run_tags.get("mlops.data_uri", ""),
            "mlops.workflow_name": params.workflow_name or params.run_dir.rstrip("/").rsplit("/", 1)[-1],
            "mlops.workflow_uid": params.workflow_uid,
            "mlops.git_commit": params.git_commit or settings.git_commit or checkout_commit(),
            "mlops.image": params.image or settings.image,
            "mlops.decision": decision,
            "mlops.decision_reason": run_tags.get("mlops.decision_reason", ""),
            # A sweep's winner names its sweep, trial and parent run (steps.train_trial).
            **{k: v for k, v in run_tags.items() if k.startswith("mlops.sweep")},
        }
        if schema_change is not None:
            lineage[SCHEMA_CHANGE_TAG] = schema_change.sentence()
        try:
            client.create_registered_model(name, description="Registered by argo-mlops")
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        with deferred("registering the version"):  # never a version without its alias
            version = existing_version(client, name, run_id)
            if version is None:
                version = mlflow.register_model(model_uri, name, tags=lineage)
                log("register", f"registered {name} version {version.version}")
            else:
                log(
                    "register",
                    f"{name} version {version.version} already holds run {run_id}; not registering again",
                )
                if schema_change is not None:  # a retry after a stop between registering and tagging
                    client.set_model_version_tag(
                        name, version.version, SCHEMA_CHANGE_TAG, lineage[SCHEMA_CHANGE_TAG]
                    )
            client.set_registered_model_alias(name, CHALLENGER, version.version)
    return RegisterResult(model_name=name, version=str(version.version), decision=decision)


def main(argv: list[str] | None = None) -> None:
    run_step("register", RegisterParams, register, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
