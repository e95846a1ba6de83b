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
    from workflows.argo.workflow_ref import workflow_manifest

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
