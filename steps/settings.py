"""What the steps read: *where* things are (storage, tracking, registry, GitOps), from the environment.

Read from ``MLOPS_*`` variables plus the standard ``MLFLOW_TRACKING_URI`` and
``AWS_ENDPOINT_URL``; every default works on a laptop with nothing installed. *What* a run
does (epochs, thresholds) is a workflow parameter, never a setting. ``workflows.settings``
extends these with what only the tooling reads (images for the GPU, Argo, events, schedules).
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from steps.errors import BadSetting
from steps.images import image_pinned

ENV_PREFIX = "MLOPS_"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


class StepSettings(BaseSettings):
    """Everything a step reads that differs between a laptop and a cluster."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    storage_root: str = Field(".mlops", description="holds runs, the MLflow database and artifacts")
    # data/train/, not data/: a folder is read with its subfolders, and data/incoming/ is the drift data.
    data_uri: str = Field("data/train/", description="default dataset location (folder, file or s3://)")
    train_threads: int | None = Field(
        None,
        ge=1,
        le=4096,
        description="CPU threads for training and the steps' numeric libraries; "
        "default: the CPUs the process may use (affinity, cgroup CPU quota)",
    )
    mlflow_tracking_uri: str | None = Field(
        None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "MLOPS_MLFLOW_TRACKING_URI"),
        description="default: sqlite under the storage root",
    )
    mlflow_ui_url: str | None = Field(None, description="base URL for links to MLflow runs")
    model_name: str = Field("fraud-detector", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
    experiment: str = "fraud-detector"
    target_column: str = "target"
    feature_columns: list[str] = Field(
        default_factory=list, description="JSON list; empty means inferred from the data"
    )
    image: str = "ghcr.io/argo-mlops/steps:0.1.0"
    namespace: str = Field(
        "argo-mlops", validation_alias=AliasChoices("MLOPS_NAMESPACE", "ARGO_NAMESPACE"), pattern=DNS_LABEL
    )
    allowed_data_prefixes: list[str] = Field(
        default_factory=list,
        description="JSON list; a data URI must lie under one of these (empty: any); '..' is always refused",
    )
    notify_url: str | None = Field(None, description="Slack-compatible webhook for run summaries")
    aws_endpoint_url: str | None = Field(
        None,
        validation_alias=AliasChoices("AWS_ENDPOINT_URL", "MLOPS_AWS_ENDPOINT_URL"),
        description="S3-compatible endpoint (MinIO, moto); boto3 reads it too",
    )
    git_commit: str | None = Field(None, description="source commit recorded in model lineage")
    gitops_repo_url: str | None = Field(
        None, description="manifests repository ArgoCD syncs; default: a bare repo under the storage root"
    )
    gitops_token: SecretStr | None = Field(
        None, description="token for the manifests repository (from a Secret)"
    )
    gitops_branch: str = "main"
    gitops_path: str = Field("serving", description="folder of the serving manifests in that repository")
    argocd_server: str | None = Field(None, description="ArgoCD API URL; unset: no sync (local mode)")
    argocd_token: SecretStr | None = Field(None, description="ArgoCD API token (from a Secret)")
    argocd_app: str = Field(
        "argo-mlops-serving", description="the ArgoCD Application that syncs the serving path"
    )
    argocd_verify_tls: bool = True
    drift_current_uri: str = Field(
        "data/incoming/", description="where new data lands, for scheduled drift checks"
    )
    study_storage: str | None = Field(
        None,
        description="Optuna storage a sweep's trials share: an RDB URL or a journal file on a shared "
        "volume; default: a journal file in the run folder (needed when runs are on s3://)",
    )

    @field_validator("notify_url", "mlflow_ui_url", "aws_endpoint_url", "argocd_server")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value or None

    @field_validator("train_threads", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if not image_pinned(value):
            raise ValueError(f"{value!r} is not pinned: give a tag other than latest, or @sha256:<digest>")
        return value

    @field_validator("allowed_data_prefixes")
    @classmethod
    def _prefixes(cls, value: list[str]) -> list[str]:
        for prefix in value:
            if not prefix.strip() or ".." in prefix.split("/"):
                raise ValueError(f"not a usable prefix: {prefix!r}")
        return value

    @field_validator("storage_root")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @cached_property
    def tracking_uri(self) -> str:
        """The MLflow tracking URI; locally a sqlite file under the storage root."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{Path(self.storage_root).resolve() / 'mlflow.db'}"

    @property
    def artifact_root(self) -> str:
        """Where a locally created experiment keeps its artifacts."""
        return str(Path(self.storage_root).resolve() / "mlartifacts")

    @property
    def gitops_url(self) -> str:
        """The manifests repository; locally a bare repository under the storage root."""
        return self.gitops_repo_url or (Path(self.storage_root).resolve() / "gitops.git").as_uri()

    @property
    def runs_root(self) -> str:
        return f"{self.storage_root.rstrip('/')}/runs"

    def run_dir(self, run_name: str) -> str:
        return f"{self.runs_root}/{run_name}"


def env_name(field: str, model: type[BaseSettings] = StepSettings) -> str:
    """The environment variable a settings field is read from."""
    alias = model.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return ENV_PREFIX + field.upper()


def first_problem(exc: ValidationError | SettingsError, model: type[BaseSettings] = StepSettings) -> str:
    """``setting NAME: what is wrong`` for the first problem pydantic found."""
    if isinstance(exc, SettingsError):  # a value that is not valid JSON for a list or dict field
        found = re.search(r'field "(\w+)"', str(exc))
        return f"setting {env_name(found.group(1), model) if found else 'MLOPS_*'}: not valid JSON for this field"
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "settings"
    # A JSON object's key is named too (MLOPS_PRICES: spot.vcpu_hour: ...); a list's index is not.
    inner = ".".join(part for part in first["loc"][1:] if isinstance(part, str))
    return f"setting {env_name(field, model) if field in model.model_fields else field}: " + (
        f"{inner}: {first['msg']}" if inner else first["msg"]
    )


def load_settings() -> StepSettings:
    """Build a step's settings at its entry point; a bad variable fails here, named."""
    try:
        return StepSettings()
    except (ValidationError, SettingsError) as exc:
        raise BadSetting(first_problem(exc)) from None
