"""Argo Events: new data in the bucket starts a training run.

The ``EventSource`` receives the bucket's ``ObjectCreated`` notifications, through an SQS queue
(how EKS teams wire S3 notifications) or from MinIO directly (its ListenBucketNotification API,
which AWS S3 does not offer). The ``Sensor`` keeps the keys under the data prefix with the data
suffix and submits the training WorkflowTemplate with the object as ``data-uri``, retrying the
submit with backoff. Keys are untrusted: the ingest step refuses any that would leave the data prefix
(``steps.storage.check_data_uri``).

Where the record sits in the event data, per source (Argo Events' ``SQSEventData`` and
``MinioEventData``): SQS dispatches ``{"messageId", "messageAttributes", "body"}``, the body being
S3's notification ``{"Records": [...]}``, parsed because the EventSource sets ``jsonBody``; MinIO
dispatches ``{"notification": [...]}``. S3 writes the key URL-encoded in its notifications (a space
as '+'); Argo Events' templates have no function that decodes it (sprig has none), so the Sensor
marks such a key with ``steps.storage.EVENT_KEY_SCHEME`` and the steps decode it when they read.
MinIO's listen API sends the key as it is: a plain ``s3://`` URI, never decoded.

The objects are written in their CRD form (what ``kubectl apply`` takes);
tests/support/sensor_emulator.py takes events through them as Argo Events does.
"""

from __future__ import annotations

import re
from typing import Any

from steps.errors import BadSetting
from steps.storage import EVENT_KEY_SCHEME
from workflows.settings import Settings

EVENT_SOURCE = "argo-mlops-data"
EVENT = "new-data"
SENSOR = "argo-mlops-new-data"
LABELS = {"app.kubernetes.io/part-of": "argo-mlops"}
# The list of S3 records in each source's event data; the Sensor reads the first.
RECORDS = {"sqs": "body.Records", "s3": "notification"}
# How each source's key becomes a data-uri: S3's notifications URL-encode it, MinIO's listen API does not.
DATA_URI_SCHEME = {"sqs": EVENT_KEY_SCHEME, "s3": "s3://"}
# Characters S3 leaves as they are in an encoded key (it may leave more; the pattern allows for it).
_UNENCODED = re.compile(r"[A-Za-z0-9/._-]")


def _path(source: str, field: str) -> str:
    """The gjson path of a field of the first record (a data filter's ``path``)."""
    return f"{RECORDS[source]}.0.{field}"


def _template_ref(source: str, field: str) -> str:
    """A Go template reading a field of the first record (Go templates index lists with ``index``)."""
    return f"{{{{ (index .Input.{RECORDS[source]} 0).{field} }}}}"


def _key_text(text: str, encoded: bool) -> str:
    """A regex for ``text`` in a key; in a URL-encoded key a character may come as itself or as the
    %XX of its UTF-8 bytes, a space also as '+' (a '+' or '%' of the text only encoded)."""
    if not encoded:
        return re.escape(text)
    parts = []
    for char in text:
        if _UNENCODED.fullmatch(char):
            parts.append(re.escape(char))
            continue
        forms = [] if char in "+%" else [re.escape(char)]
        forms.append("(?i:" + "".join(f"%{byte:02X}" for byte in char.encode()) + ")")
        forms += [r"\+"] if char == " " else []
        parts.append("(?:" + "|".join(forms) + ")")
    return "".join(parts)


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
        if not settings.events_s3_endpoint:  # Argo Events' MinIO source reads MinIO's own notification API
            raise BadSetting(
                "MLOPS_EVENTS_S3_ENDPOINT: required for MLOPS_EVENTS_SOURCE=s3, the host:port of your MinIO"
                " (Argo Events' MinIO source works with MinIO only; for AWS S3 use MLOPS_EVENTS_SOURCE=sqs)"
            )
        credential = {"name": "argo-mlops-s3-events"}
        spec = {
            "minio": {
                EVENT: {
                    "bucket": {"name": settings.events_bucket},
                    "endpoint": settings.events_s3_endpoint,
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
    encoded = DATA_URI_SCHEME[source] == EVENT_KEY_SCHEME
    prefix, suffix = (_key_text(text, encoded) for text in (settings.events_prefix, settings.events_suffix))
    run = workflow_manifest(
        "training", {"data-uri": ""}, settings, labels={"argo-mlops/trigger": EVENT}
    )  # the data-uri value is filled from the event
    bucket, key = (_template_ref(source, field) for field in ("s3.bucket.name", "s3.object.key"))
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
                                "value": [f"^{prefix}.*{suffix}$"],
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
                                    "src": {
                                        "dependencyName": EVENT,
                                        "dataTemplate": f"{DATA_URI_SCHEME[source]}{bucket}/{key}",
                                    },
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
