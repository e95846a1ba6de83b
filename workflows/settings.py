"""The full settings: what the steps read (``steps.settings``) plus what only the tooling reads:
the GPU image, the service accounts, the Argo Server, Argo Events, the schedules.

Read from ``MLOPS_*`` variables plus the standard ``ARGO_*`` ones; every default works on a laptop
with nothing installed. The committed manifests are compiled from ``cluster.env`` alone
(``env_file_settings``), never from the shell that compiles them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import SettingsError

from steps import settings as step_settings
from steps.errors import BadSetting
from steps.images import image_pinned
from steps.settings import DNS_LABEL, ENV_PREFIX, StepSettings

__all__ = [
    "DNS_LABEL",
    "ENV_PREFIX",
    "Prices",
    "Settings",
    "env_file_settings",
    "env_name",
    "image_pinned",
    "load_settings",
]


class CapacityPrices(BaseModel):
    """What one hour of a vCPU, of a GiB of memory and of each type of GPU costs on one kind of capacity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vcpu_hour: float = Field(ge=0)
    gib_hour: float = Field(ge=0)
    gpu_hour: dict[str, float] = Field(description="per GPU type; 'default' prices a GPU of no named type")

    @field_validator("gpu_hour")
    @classmethod
    def _priced(cls, value: dict[str, float]) -> dict[str, float]:
        if "default" not in value or any(price < 0 for price in value.values()):
            raise ValueError("gpu_hour needs a 'default' price, and no price below 0")
        return value


class Prices(BaseModel):
    """``MLOPS_PRICES``: the price list the cost ledger turns hours into money with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str = "USD"
    # Indicative list prices in a cloud's per-vCPU and per-GiB shape: set MLOPS_PRICES to your own.
    on_demand: CapacityPrices = CapacityPrices(
        vcpu_hour=0.0332, gib_hour=0.00445, gpu_hour={"default": 0.35, "nvidia-tesla-t4": 0.35}
    )
    spot: CapacityPrices = CapacityPrices(
        vcpu_hour=0.0100, gib_hour=0.00134, gpu_hour={"default": 0.14, "nvidia-tesla-t4": 0.14}
    )
    default_capacity: Literal["on-demand", "spot"] = Field(
        "on-demand", description="capacity of a pod whose node selector names none"
    )
    gpu_type_label: str = Field("nvidia.com/gpu.product", description="node label that names the GPU type")


class Settings(StepSettings):
    """Everything that differs between a laptop and a cluster."""

    local_warm_start: bool = Field(
        True, description="local runs fork steps from a process that has imported their libraries"
    )
    gpu_image: str = "ghcr.io/argo-mlops/steps-gpu:0.1.0"
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
    prices: Prices = Field(default_factory=Prices, description="JSON price list for cost.json and mlops cost")
    retrain_schedule: str = Field("0 3 * * 1", description="cron: scheduled retraining (weekly)")
    drift_schedule: str = Field("0 6 * * *", description="cron: scheduled drift check (daily)")
    schedule_timezone: str = Field("UTC", description="IANA timezone of both schedules")

    @field_validator("gpu_image")
    @classmethod
    def _gpu_pinned(cls, value: str) -> str:
        if not image_pinned(value):
            raise ValueError(f"{value!r} is not pinned: give a tag other than latest, or @sha256:<digest>")
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
    return step_settings.env_name(field, Settings)


class _FileOnlySettings(Settings):
    """Settings read from an env file alone: this shell's variables are not consulted."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):  # fmt: skip
        return init_settings, dotenv_settings


def env_file_settings(path: Path) -> Settings:
    """The settings a ``KEY=value`` file gives (``cluster.env``); an unknown key or a bad value fails, named."""
    from dotenv import dotenv_values

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
        raise BadSetting(f"{path.name}: {step_settings.first_problem(exc, Settings)}") from None


def load_settings() -> Settings:
    """Build the settings at an entry point; a bad variable fails here, named."""
    try:
        return Settings()
    except (ValidationError, SettingsError) as exc:
        raise BadSetting(step_settings.first_problem(exc, Settings)) from None
