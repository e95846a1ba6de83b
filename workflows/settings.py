"""One typed settings object: *where* things are (storage, tracking, images, cluster).

Read from ``MLOPS_*`` variables plus the standard ``MLFLOW_TRACKING_URI`` and
``AWS_ENDPOINT_URL``; every default works on a laptop with nothing installed. *What* a run
does (epochs, thresholds) is a workflow parameter, never a setting.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

ENV_PREFIX = "MLOPS_"
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
# An image reference pinned by tag (not latest) or by digest.
PINNED_IMAGE = re.compile(r"^[^\s@]+(:(?!latest$)[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$")


def image_pinned(image: str) -> bool:
    """An image reference pinned by a tag other than latest, or by a digest."""
    return bool(PINNED_IMAGE.match(image if "@" in image else image.rsplit("/", 1)[-1]))


class Settings(BaseSettings):
    """Everything that differs between a laptop and a cluster."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    storage_root: str = Field(".mlops", description="holds runs, the MLflow database and artifacts")
    data_uri: str = Field("data/", description="default dataset location (folder, file or s3://)")
    local_warm_start: bool = Field(
        True, description="local runs fork steps from a process that has imported their libraries"
    )
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
    gpu_image: str = "ghcr.io/argo-mlops/steps-gpu:0.1.0"
    namespace: str = Field(
        "argo-mlops", validation_alias=AliasChoices("MLOPS_NAMESPACE", "ARGO_NAMESPACE"), pattern=DNS_LABEL
    )
    service_account: str = "argo-mlops-workflow"
    sensor_service_account: str = Field("argo-mlops-sensor", description="submits runs for new data")
    argo_server: str | None = Field(
        None,
        validation_alias=AliasChoices("ARGO_SERVER", "MLOPS_ARGO_SERVER"),
        description="Argo Server host:port or URL, for mlops submit/apply/retry/logs",
    )
    argo_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("ARGO_TOKEN", "MLOPS_ARGO_TOKEN"), description="Argo Server token"
    )
    argo_secure: bool = Field(
        True,
        validation_alias=AliasChoices("ARGO_SECURE", "MLOPS_ARGO_SECURE"),
        description="https for an ARGO_SERVER given without a scheme",
    )
    argo_insecure_skip_verify: bool = Field(
        False,
        validation_alias=AliasChoices("ARGO_INSECURE_SKIP_VERIFY", "MLOPS_ARGO_INSECURE_SKIP_VERIFY"),
        description="do not verify the Argo Server's TLS certificate",
    )
    allowed_data_prefixes: list[str] = Field(
        default_factory=list,
        description="JSON list; a data URI must lie under one of these (empty: any); '..' is always refused",
    )
    events_source: Literal["sqs", "s3"] = Field(
        "sqs", description="sqs: S3 notifications through an SQS queue; s3: the native S3/MinIO source"
    )
    events_bucket: str = Field("argo-mlops-data", description="the bucket new data lands in")
    events_prefix: str = Field("incoming/", description="only keys under this prefix start a run")
    events_suffix: str = Field(".parquet", description="only keys ending so start a run")
    events_queue: str = Field(
        "argo-mlops-new-data", description="SQS queue fed by the bucket's notifications"
    )
    events_region: str = "us-east-1"
    events_s3_endpoint: str | None = Field(None, description="host:port of MinIO for events-source=s3")
    gpu_node_selector: dict[str, str] = Field(default_factory=lambda: {"nvidia.com/gpu.present": "true"})
    gpu_toleration_key: str = "nvidia.com/gpu"
    capacity_type_label: str = Field(
        "karpenter.sh/capacity-type", description="node label that tells spot from on-demand capacity"
    )
    spot_capacity: str = "spot"
    on_demand_capacity: str = "on-demand"
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
    retrain_schedule: str = Field("0 3 * * 1", description="cron: scheduled retraining (weekly)")
    drift_schedule: str = Field("0 6 * * *", description="cron: scheduled drift check (daily)")
    schedule_timezone: str = Field("UTC", description="IANA timezone of both schedules")
    drift_current_uri: str = Field(
        "data/incoming/", description="where new data lands, for scheduled drift checks"
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

    @field_validator("image", "gpu_image")
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

    @field_validator("retrain_schedule", "drift_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError(f"not a cron schedule: {value!r}")
        return value

    @field_validator("schedule_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"not an IANA timezone: {value!r}") from None
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

    @property
    def argo_url(self) -> str | None:
        """The Argo Server's base URL; ``ARGO_SERVER`` may be host:port, as for the argo CLI."""
        if not self.argo_server:
            return None
        if self.argo_server.startswith(("http://", "https://")):
            return self.argo_server.rstrip("/")
        return f"{'https' if self.argo_secure else 'http'}://{self.argo_server.rstrip('/')}"

    def workflow_parameters(self) -> dict[str, str]:
        """The workflow parameters that say *where*: their defaults come from these settings."""
        return {
            "data-uri": self.data_uri,
            "storage-root": self.storage_root,
            "model-name": self.model_name,
            "experiment": self.experiment,
        }


def env_name(field: str) -> str:
    """The environment variable a settings field is read from."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return ENV_PREFIX + field.upper()


class _FileOnlySettings(Settings):
    """Settings read from an env file alone: this shell's variables are not consulted."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):  # fmt: skip
        return init_settings, dotenv_settings


def env_file_settings(path: Path) -> Settings:
    """The settings a ``KEY=value`` file gives (``cluster.env``); an unknown key or a bad value fails, named."""
    from dotenv import dotenv_values

    from steps.contract import BadSetting

    known = {env_name(field) for field in Settings.model_fields} | {
        str(choice) for info in Settings.model_fields.values() if isinstance(info.validation_alias, AliasChoices)
        for choice in info.validation_alias.choices
    }  # fmt: skip
    values = dotenv_values(path) if path.exists() else {}
    for key in values:
        if key not in known:
            raise BadSetting(
                f"{path.name}: {key} is not a setting (`mlops settings` lists them); remove or rename it"
            )
    try:
        return _FileOnlySettings(_env_file=path if path.exists() else None)
    except (ValidationError, SettingsError) as exc:
        raise BadSetting(f"{path.name}: {_first_problem(exc)}") from None


def _first_problem(exc: ValidationError | SettingsError) -> str:
    """``setting NAME: what is wrong`` for the first problem pydantic found."""
    if isinstance(exc, SettingsError):  # a value that is not valid JSON for a list or dict field
        found = re.search(r'field "(\w+)"', str(exc))
        return f"setting {env_name(found.group(1)) if found else 'MLOPS_*'}: not valid JSON for this field"
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "settings"
    return f"setting {env_name(field) if field in Settings.model_fields else field}: {first['msg']}"


def load_settings() -> Settings:
    """Build the settings at an entry point; a bad variable fails here, named."""
    from steps.contract import BadSetting

    try:
        return Settings()
    except (ValidationError, SettingsError) as exc:
        raise BadSetting(_first_problem(exc)) from None
