"""Argo Events: new data in the bucket starts a training run.

The ``EventSource`` receives the bucket's ``ObjectCreated`` notifications, through an SQS queue
(how EKS teams wire S3 notifications) or from S3/MinIO directly. The ``Sensor`` keeps the keys
under the data prefix with the data suffix and submits the training WorkflowTemplate with
``data-uri = s3://<bucket>/<key>``, retrying the submit with backoff. Keys are untrusted: the
ingest step refuses any that would leave the data prefix (``steps.storage.check_data_uri``).

The objects are written in their CRD form (what ``kubectl apply`` takes). ``trigger_arguments``
applies a Sensor's filters and parameter mapping to an event, as the sensor does, so tests can
feed it real notification bodies.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from workflows.settings import Settings

EVENT_SOURCE = "argo-mlops-data"
EVENT = "new-data"
SENSOR = "argo-mlops-new-data"
LABELS = {"app.kubernetes.io/part-of": "argo-mlops"}
# Where the notification record sits in the event data: SQS wraps it in the message body.
RECORD = {"sqs": "body.Records.0", "s3": ""}


def _path(source: str, field: str) -> str:
    return ".".join(p for p in (RECORD[source], field) if p)


def _template_ref(source: str, field: str) -> str:
    """A Go template reading a record field (Go templates index lists with ``index``, not ``.0``)."""
    if source == "sqs":
        return f"{{{{ (index .Input.body.Records 0).{field} }}}}"
    return f"{{{{ .Input.{field} }}}}"


def event_source(settings: Settings) -> dict[str, Any]:
    """The EventSource: SQS fed by the bucket's notifications, or the native S3 (MinIO) source."""
    if settings.events_source == "sqs":
        spec = {
            "sqs": {
                EVENT: {
                    "region": settings.events_region,
                    "queue": settings.events_queue,
                    "waitTimeSeconds": 20,
                    "jsonBody": True,
                    "dlq": True,
                }
            }
        }
    else:
        credential = {"name": "argo-mlops-s3-events"}
        spec = {
            "minio": {
                EVENT: {
                    "bucket": {"name": settings.events_bucket},
                    "endpoint": settings.events_s3_endpoint or "s3.amazonaws.com",
                    "region": settings.events_region,
                    "events": ["s3:ObjectCreated:*"],
                    "filter": {"prefix": settings.events_prefix, "suffix": settings.events_suffix},
                    "accessKey": credential | {"key": "accesskey"},
                    "secretKey": credential | {"key": "secretkey"},
                }
            }
        }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "EventSource",
        "metadata": {"name": EVENT_SOURCE, "namespace": settings.namespace, "labels": LABELS},
        "spec": spec,
    }


def sensor(settings: Settings) -> dict[str, Any]:
    """The Sensor: a created object under the prefix with the suffix submits a training run."""
    from workflows.submit import workflow_manifest

    source = settings.events_source
    key_pattern = f"^{re.escape(settings.events_prefix)}.*{re.escape(settings.events_suffix)}$"
    run = workflow_manifest(
        "training", {"data-uri": ""}, settings, labels={"argo-mlops/trigger": EVENT}
    )  # the data-uri value is filled from the event
    data_uri = f"s3://{_template_ref(source, 's3.bucket.name')}/{_template_ref(source, 's3.object.key')}"
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": SENSOR, "namespace": settings.namespace, "labels": LABELS},
        "spec": {
            "template": {"serviceAccountName": settings.sensor_service_account},
            "dependencies": [
                {
                    "name": EVENT,
                    "eventSourceName": EVENT_SOURCE,
                    "eventName": EVENT,
                    "filters": {
                        "data": [
                            {
                                "path": _path(source, "eventName"),
                                "type": "string",
                                "value": ["^(s3:)?ObjectCreated:"],
                            },
                            {
                                "path": _path(source, "s3.bucket.name"),
                                "type": "string",
                                "value": [f"^{re.escape(settings.events_bucket)}$"],
                            },
                            {
                                "path": _path(source, "s3.object.key"),
                                "type": "string",
                                "value": [key_pattern],
                            },
                        ]  # fmt: skip
                    },
                }
            ],
            "triggers": [
                {
                    "template": {
                        "name": "train-on-new-data",
                        "argoWorkflow": {
                            "operation": "submit",
                            "source": {"resource": run},
                            "parameters": [
                                {
                                    "src": {"dependencyName": EVENT, "dataTemplate": data_uri},
                                    "dest": "spec.arguments.parameters.0.value",
                                }
                            ],
                        },
                    },
                    "retryStrategy": {"steps": 5, "duration": "10s", "factor": 2, "jitter": 0.1},
                    "atLeastOnce": True,
                }
            ],
        },
    }


# --- what the sensor does with an event, for tests and for checking a sample payload ---


class EventMismatch(ValueError):
    """The event does not pass the dependency's filters: the sensor ignores it."""


def data_at(data: Any, path: str) -> Any:
    """The value at a gjson-style dotted path (``body.Records.0.s3.object.key``); None when absent."""
    for part in path.split(".") if path else []:
        if isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    return data


_TEMPLATE_FIELD = re.compile(r"{{\s*(?:\(index \.Input((?:\.\w+)*) (\d+)\)|\.Input)((?:\.\w+)*)\s*}}")


def render_data_template(template: str, data: Any) -> str:
    """Render the Go template forms this project writes: ``.Input.a.b`` and ``(index .Input.a N).b``."""

    def field(match: re.Match) -> str:
        listed, index, rest = match.groups()
        base = data
        if index is not None:
            items = data_at(data, listed.lstrip("."))
            base = items[int(index)] if isinstance(items, list) and int(index) < len(items) else None
        value = data_at(base, rest.lstrip(".")) if base is not None else None
        if value is None:
            raise EventMismatch(f"event has no {match.group(0)}")
        return str(value)

    rendered = _TEMPLATE_FIELD.sub(field, template)
    if "{{" in rendered:
        raise ValueError(f"unsupported template: {template!r}")
    return rendered


def trigger_arguments(sensor_doc: dict[str, Any], event_data: Any) -> dict[str, str]:
    """The workflow arguments the Sensor's first trigger submits for this event's data."""
    dependency = sensor_doc["spec"]["dependencies"][0]
    for data_filter in (dependency.get("filters") or {}).get("data") or []:
        value = data_at(event_data, data_filter["path"])
        if not isinstance(value, str) or not any(re.search(p, value) for p in data_filter["value"]):
            raise EventMismatch(f"{data_filter['path']}={value!r} does not match {data_filter['value']}")
    trigger = sensor_doc["spec"]["triggers"][0]["template"]["argoWorkflow"]
    resource = copy.deepcopy(trigger["source"]["resource"])
    for parameter in trigger["parameters"]:
        src = parameter["src"]
        value = (
            render_data_template(src["dataTemplate"], event_data)
            if "dataTemplate" in src
            else data_at(event_data, src["dataKey"])
        )
        _set_path(resource, parameter["dest"], value)
    return {p["name"]: p.get("value", "") for p in resource["spec"]["arguments"]["parameters"]}


def _set_path(document: Any, dest: str, value: Any) -> None:
    parts = dest.split(".")
    for part in parts[:-1]:
        document = document[int(part)] if isinstance(document, list) else document[part]
    last = parts[-1]
    if isinstance(document, list):
        document[int(last)] = value
    else:
        document[last] = value
