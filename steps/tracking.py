"""MLflow access for the steps: connect from settings, create experiments in the right place,
and turn an unreachable tracking server into a transient (retried) failure."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from steps.errors import BadInput, Transient

_TRANSIENT_MARKERS = (
    "Max retries exceeded",
    "Connection refused",
    "Connection aborted",
    "database is locked",
    "timed out",
)


def _known_notices(record: logging.LogRecord) -> bool:
    """Drop MLflow's notice that a pyfunc object is cloudpickled: the model bundles its code on purpose."""
    return "causes it to be serialized using CloudPickle" not in record.getMessage()


def connect(settings) -> Any:
    """Point MLflow at the settings' tracking URI and return a client."""
    # Fail over to the step-level retry after ~15 s instead of MLflow's default of minutes.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "4")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow.pyfunc").addFilter(_known_notices)
    import mlflow
    from mlflow import MlflowClient

    uri = settings.tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(client: Any, name: str, settings) -> str:
    """The experiment's id, creating it; a local store keeps artifacts under the storage root."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    local = settings.tracking_uri.startswith(("sqlite:", "file:", "/"))
    location = Path(settings.artifact_root).as_uri() if local else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except Exception:
        # Another step created it between our look and our create.
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def is_transient(exc: BaseException) -> bool:
    from mlflow.exceptions import MlflowException

    text = str(exc)
    if isinstance(exc, MlflowException):
        status = exc.get_http_status_code()
        if status >= 500 and exc.error_code not in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"):
            return True
    try:
        import requests

        if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
            return True
    except ImportError:
        pass
    return any(marker in text for marker in _TRANSIENT_MARKERS)


@contextmanager
def tracking_errors(what: str) -> Iterator[None]:
    """Inside: an unreachable or failing tracking server exits 75 so the step is retried."""
    try:
        yield
    except Exception as exc:
        if is_transient(exc):
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise Transient(f"MLflow tracking server unavailable while {what}: {first}") from None
        raise


def version_exists(client, name: str, version: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        client.get_model_version(name, version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"):
            return False
        raise
    return True


def model_version(client, name: str, version: str) -> Any:
    """The registered version; one that does not exist is bad input (a server that fails is not)."""
    if not version_exists(client, name, version):
        raise BadInput(f"model '{name}' has no version '{version}' (see mlops models list)")
    return client.get_model_version(name, version)


def as_params(values: dict[str, Any]) -> list:
    """Parameters for ``log_batch``; lists are logged comma-separated, as they are passed."""
    from mlflow.entities import Param

    return [Param(key, ",".join(map(str, v)) if isinstance(v, list) else str(v)) for key, v in values.items()]


def as_metrics(values: dict[str, float], step: int, timestamp_ms: int | None = None) -> list:
    """Metrics for one ``log_batch`` call: one request however many values (a call costs ~24 ms),
    stamped now unless ``timestamp_ms`` is given."""
    import time

    from mlflow.entities import Metric

    stamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    return [Metric(key, float(value), stamp, step) for key, value in values.items()]


def as_tags(values: dict[str, str]) -> list:
    from mlflow.entities import RunTag

    return [RunTag(key, value) for key, value in values.items()]
