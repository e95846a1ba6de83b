"""The EventSource and Sensor: Argo Events' field names, and what the Sensor submits for the events
the sources dispatch: S3's notification in an SQS message body, MinIO's records under
``notification``. Every event is built from the documented structure (AWS's event message
structure, s3:TestEvent; Argo Events' SQSEventData, MinioEventData) and taken through the Sensor's
filters and parameters by the emulator in tests/support/sensor_emulator.py."""

from __future__ import annotations

import copy
import json
from urllib.parse import quote_plus

import boto3
import pytest
import yaml

from steps import storage
from steps.errors import BadInput, BadSetting
from tests.conftest import local_env, run_step
from tests.support.sensor_emulator import (
    EventMismatch,
    TemplateError,
    TriggerFailed,
    Unsupported,
    dispatch,
    render_data_template,
    trigger_arguments,
)
from workflows.argo.lint import lint_documents
from workflows.pipelines.events import event_source, sensor
from workflows.settings import Settings


def aws_record(bucket: str, key: str, event: str = "ObjectCreated:Put") -> dict:
    """One record of an S3 event notification as AWS documents it (event message structure 2.1);
    ``key`` is the object's key, written URL-encoded as S3 writes it ("The s3 key provided in the
    event notification is URL encoded": a space as '+', other bytes as %XX of their UTF-8)."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-22T09:30:00.000Z",
        "eventName": event,
        "userIdentity": {"principalId": "AWS:AIDAJDPLRKLG7UEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.10"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "argo-mlops-new-data",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key, safe="/"), "size": 48213, "eTag": "9b2cf535f27731c974343645a3985328", "sequencer": "0055AED6DCD90281E5"},
        },
    }  # fmt: skip


def sqs_body(*records: dict) -> str:
    """The SQS message S3 sends to the queue: the notification's JSON as the message body."""
    return json.dumps({"Records": list(records)})


def minio_record(bucket: str, key: str, event: str = "s3:ObjectCreated:Put") -> dict:
    """A record as MinIO's ListenBucketNotification API sends it (``ToEvent(false)`` in MinIO's
    cmd/event-notification.go: the listen API gets the key as it is, not URL-encoded)."""
    return {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": "",
        "eventTime": "2026-11-22T09:30:00.000Z",
        "eventName": event,
        "userIdentity": {"principalId": "minio"},
        "requestParameters": {"principalId": "minio", "region": "", "sourceIPAddress": "10.0.0.7"},
        "responseElements": {"x-amz-request-id": "17A2B3C4D5E6F708", "x-minio-deployment-id": "5b1b4b41-2f6a-4f2e-9c55-0d6c1c1e8a10", "x-minio-origin-endpoint": "http://10.0.0.5:9000"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "minio"}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": key, "size": 48213, "eTag": "9b2cf535f27731c974343645a3985328", "contentType": "application/octet-stream", "userMetadata": {"content-type": "application/octet-stream"}, "sequencer": "17A2B3C4D5E6F708"},
        },
        "source": {"host": "10.0.0.7", "port": "", "userAgent": "MinIO (linux; amd64) minio-go/v7.0.70"},
    }  # fmt: skip


# What S3 sends once when a notification configuration is saved (AWS: event message structure).
S3_TEST_EVENT = {
    "Service": "Amazon S3",
    "Event": "s3:TestEvent",
    "Time": "2026-11-22T09:29:58.041Z",
    "Bucket": "fraud-data",
    "RequestId": "5582815E1AEA5ADF",
    "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
}


@pytest.fixture
def settings(monkeypatch) -> Settings:
    for key in ("MLOPS_EVENTS_SOURCE", "MLOPS_EVENTS_BUCKET", "MLOPS_EVENTS_PREFIX", "MLOPS_EVENTS_SUFFIX"):
        monkeypatch.delenv(key, raising=False)
    return Settings(events_bucket="fraud-data", events_prefix="incoming/", events_suffix=".parquet")


def on(settings: Settings, source: str, **update) -> Settings:
    endpoint = {"events_s3_endpoint": "minio.minio.svc:9000"} if source == "s3" else {}
    return settings.model_copy(update={"events_source": source, **endpoint, **update})


def test_the_minio_source_without_its_endpoint_is_refused_naming_the_setting(settings):
    with pytest.raises(BadSetting) as refused:
        event_source(on(settings, "s3", events_s3_endpoint=None))
    assert str(refused.value).startswith("MLOPS_EVENTS_S3_ENDPOINT: required for MLOPS_EVENTS_SOURCE=s3")
    assert event_source(on(settings, "s3"))["spec"]["minio"]["new-data"]["endpoint"] == "minio.minio.svc:9000"


def submitted(settings: Settings, payload) -> str:
    """The data-uri the Sensor submits for what the configured source dispatches for ``payload``."""
    event = dispatch(event_source(settings), payload)
    assert event is not None, "the event source dispatches nothing for this payload"
    return trigger_arguments(sensor(settings), event)["data-uri"]


def new_object(settings: Settings, key: str, source: str | None = None):
    """The payload a new object ``key`` in the events bucket makes the configured source receive."""
    if (source or settings.events_source) == "sqs":
        return sqs_body(aws_record(settings.events_bucket, key))
    return minio_record(settings.events_bucket, key)


def test_event_source_and_sensor_pass_lint_with_argo_events_field_names(settings):
    for source in ("sqs", "s3"):
        chosen = on(settings, source)
        text = yaml.safe_dump_all([event_source(chosen), sensor(chosen)])
        assert [str(p) for p in lint_documents("events.yaml", text)] == []


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("spec", "sqs", "new-data", "queueName"), "q", "unknown field 'queueName'"),
        (("spec", "sqs", "new-data", "jsonBody"), "sometimes", "jsonBody"),
    ],
)
def test_lint_names_a_bad_event_source_field(settings, path, value, message):
    document = event_source(settings)
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    problems = [str(p) for p in lint_documents("events.yaml", yaml.safe_dump(document))]
    assert any(message in p for p in problems), problems


def test_lint_checks_the_workflow_inside_the_sensor(settings):
    document = sensor(settings)
    trigger = document["spec"]["triggers"][0]["template"]["argoWorkflow"]
    trigger["source"]["resource"]["spec"]["workflowTemplateRefs"] = {"name": "training"}
    trigger["parameters"][0]["src"]["dependencyName"] = "other"
    problems = [str(p) for p in lint_documents("events.yaml", yaml.safe_dump(document))]
    assert any("source.resource.spec.workflowTemplateRefs" in p for p in problems), problems
    assert any("dependency 'other' does not exist" in p for p in problems), problems


def test_an_sqs_message_submits_a_training_run_for_the_object(settings):
    doc = sensor(settings)
    event = dispatch(event_source(settings), new_object(settings, "incoming/2026-11-22/part-0.parquet"))
    uri = trigger_arguments(doc, event)["data-uri"]
    assert storage.split_s3(uri) == ("fraud-data", "incoming/2026-11-22/part-0.parquet")
    resource = doc["spec"]["triggers"][0]["template"]["argoWorkflow"]["source"]["resource"]
    assert resource["spec"]["workflowTemplateRef"] == {"name": "training"}
    # the mapping left the Sensor's own resource untouched: every event starts from the template
    assert trigger_arguments(doc, copy.deepcopy(event))["data-uri"] == uri


def test_the_sqs_source_parses_the_body_the_sensor_reads(settings):
    config = event_source(settings)["spec"]["sqs"]["new-data"]
    assert config["jsonBody"] is True
    # without jsonBody the body stays text: the Sensor's paths into it would not exist
    as_text = copy.deepcopy(event_source(settings))
    as_text["spec"]["sqs"]["new-data"]["jsonBody"] = False
    event = dispatch(as_text, new_object(settings, "incoming/a.parquet"))
    assert isinstance(event["body"], str)
    with pytest.raises(EventMismatch, match="does not exist"):
        trigger_arguments(sensor(settings), event)


def test_the_native_minio_source_submits_a_training_run(settings):
    chosen = on(settings, "s3")
    assert submitted(chosen, new_object(chosen, "incoming/a.parquet")) == "s3://fraud-data/incoming/a.parquet"
    # MinIO itself drops what the EventSource's filter excludes: nothing reaches the Sensor
    assert dispatch(event_source(chosen), minio_record("fraud-data", "archive/a.parquet")) is None


@pytest.mark.parametrize("source", ["sqs", "s3"])
@pytest.mark.parametrize(
    ("bucket", "key", "event"),
    [
        ("fraud-data", "archive/a.parquet", "ObjectCreated:Put"),  # outside the prefix
        ("fraud-data", "incoming/a.csv", "ObjectCreated:Put"),  # wrong suffix
        ("fraud-data", "incoming/a.parquet", "ObjectRemoved:Delete"),  # not a creation
        ("other-bucket", "incoming/a.parquet", "ObjectCreated:Put"),  # another bucket
    ],
)
def test_the_sensor_ignores_events_its_filters_refuse(settings, source, bucket, key, event):
    chosen = on(settings, source)
    if source == "sqs":
        data = dispatch(event_source(chosen), sqs_body(aws_record(bucket, key, event)))
    else:  # the Sensor's own filters, for an event that reached it
        data = {"notification": [minio_record(bucket, key, f"s3:{event}")]}
    with pytest.raises(EventMismatch):
        trigger_arguments(sensor(chosen), data)


def test_s3_test_event_is_ignored(settings):
    event = dispatch(event_source(settings), json.dumps(S3_TEST_EVENT))
    with pytest.raises(EventMismatch, match="path 'body.Records.0.eventName' does not exist"):
        trigger_arguments(sensor(settings), event)


def test_an_encoded_prefix_still_matches_on_sqs(settings):
    chosen = settings.model_copy(update={"events_prefix": "new data/été+/"})
    uri = submitted(chosen, new_object(chosen, "new data/été+/part 1.parquet"))
    assert storage.split_s3(uri) == ("fraud-data", "new data/été+/part 1.parquet")
    with pytest.raises(EventMismatch):  # '+' in an encoded key is a space, not the prefix's '+'
        trigger_arguments(
            sensor(chosen), dispatch(event_source(chosen), new_object(chosen, "new data/été /x.parquet"))
        )


# --- the emulator refuses what Argo Events refuses --------------------------------------------


def _sensor_with(settings: Settings, src: dict) -> dict:
    doc = sensor(settings)
    doc["spec"]["triggers"][0]["template"]["argoWorkflow"]["parameters"][0]["src"] = {
        "dependencyName": "new-data",
        **src,
    }
    return doc


def test_a_failing_template_fails_the_trigger(settings):
    event = dispatch(event_source(settings), new_object(settings, "incoming/a.parquet"))
    for template in (
        "{{ (index .Input.body.Records 3).s3.object.key }}",
        "{{ .Input.body.nothing }}",
        "{{ .Input.messageAttributes.x }}",
    ):
        with pytest.raises(TriggerFailed, match="unable to resolve"):
            trigger_arguments(_sensor_with(settings, {"dataTemplate": template}), event)
    # a failed template falls back to dataKey, then to value
    doc = _sensor_with(
        settings, {"dataTemplate": "{{ .Input.none }}", "dataKey": "body.Records.0.s3.bucket.name"}
    )
    assert trigger_arguments(doc, event)["data-uri"] == "fraud-data"
    doc = _sensor_with(settings, {"dataTemplate": "{{ .Input.none }}", "value": "s3://fallback/"})
    assert trigger_arguments(doc, event)["data-uri"] == "s3://fallback/"


def test_a_missing_field_renders_as_go_renders_it():
    data = {"body": {"Records": [{"s3": {"object": {"key": "k"}}}], "nothing": None}}
    assert render_data_template("{{ (index .Input.body.Records 0).s3.object.key }}", data) == "k"
    assert render_data_template("s3://{{ .Input.body.missing.deeper }}/k", data) == "s3://<no value>/k"
    with pytest.raises(TemplateError, match="nil pointer evaluating"):
        render_data_template("{{ .Input.body.nothing.key }}", data)


@pytest.mark.parametrize(
    "template",
    ["{{ .Input.body | toJson }}", "{{ urlDecode .Input.key }}", "{{ $x := .Input }}", "{{- .Input.a }}"],
)
def test_the_emulator_refuses_template_forms_it_does_not_implement(template):
    with pytest.raises(Unsupported):
        render_data_template(template, {"a": "b", "key": "k", "body": {}})


def test_the_emulator_refuses_filters_it_does_not_implement(settings):
    doc = sensor(settings)
    doc["spec"]["dependencies"][0]["filters"]["data"][0]["path"] = "body.Records.#.eventName"
    event = dispatch(event_source(settings), new_object(settings, "incoming/a.parquet"))
    with pytest.raises(Unsupported):
        trigger_arguments(doc, event)
    doc = sensor(settings)
    doc["spec"]["dependencies"][0]["filters"]["dataLogicalOperator"] = "or"
    with pytest.raises(Unsupported):
        trigger_arguments(doc, event)


# --- keys: URL-encoded by S3, decoded once where the step reads them ---------------------------

TRICKY_KEYS = [
    "incoming/new data 2026.parquet",  # arrives as new+data+2026.parquet
    "incoming/a+b.parquet",  # '+' arrives as %2B: a plus, not a space
    "incoming/100%.parquet",  # '%' arrives as %25
    "incoming/données/été 2026 — 北京.parquet",  # UTF-8 bytes as %XX
    "incoming/literal%2B.parquet",  # a literal %2B arrives as %252B and decodes once
]


@pytest.fixture
def lake(s3_env, sample_data):
    """The events bucket on moto's S3 server, and the bytes of a real Parquet partition."""
    client = boto3.client("s3")
    client.create_bucket(Bucket="fraud-data")
    yield client, next(iter(sorted(sample_data.glob("*.parquet")))).read_bytes()
    for obj in client.list_objects_v2(Bucket="fraud-data").get("Contents", []):
        client.delete_object(Bucket="fraud-data", Key=obj["Key"])
    client.delete_bucket(Bucket="fraud-data")


@pytest.mark.parametrize("key", TRICKY_KEYS)
@pytest.mark.parametrize("source", ["sqs", "s3"])
def test_the_step_reads_the_object_the_event_names(settings, lake, source, key):
    client, data = lake
    client.put_object(Bucket="fraud-data", Key=key, Body=data)
    client.put_object(Bucket="fraud-data", Key=quote_plus(key, safe="/"), Body=b"the encoded twin")
    uri = submitted(on(settings, source), new_object(settings, key, source))
    storage.check_data_uri(uri, ["s3://fraud-data/incoming/"])
    [found] = storage.list_files(uri)
    assert storage.split_s3(found) == ("fraud-data", key)
    assert storage.read_bytes(uri) == data


def test_a_hand_written_notification_key_decodes_once(settings, lake):
    client, data = lake
    client.put_object(Bucket="fraud-data", Key="incoming/x+y z%2B.parquet", Body=data)
    record = aws_record("fraud-data", "")
    record["s3"]["object"]["key"] = "incoming/x%2By+z%252B.parquet"
    uri = submitted(settings, sqs_body(record))
    assert storage.read_bytes(uri) == data


def test_a_given_uri_is_never_decoded(lake):
    client, data = lake
    client.put_object(Bucket="fraud-data", Key="incoming/a+b%2B.parquet", Body=data)
    assert storage.read_bytes("s3://fraud-data/incoming/a+b%2B.parquet") == data
    with pytest.raises(BadInput, match="no such object"):
        storage.read_bytes("s3://fraud-data/incoming/a b+.parquet")


def test_ingest_reads_an_encoded_key_end_to_end(settings, lake, tmp_path, s3_env):
    client, data = lake
    key = "incoming/new data+été %2B.parquet"
    client.put_object(Bucket="fraud-data", Key=key, Body=data)
    uri = submitted(settings, new_object(settings, key))
    done = run_step(
        "ingest", "--data-uri", uri, "--run-dir", str(tmp_path / "run"),
        env=local_env(tmp_path) | s3_env | {"MLOPS_ALLOWED_DATA_PREFIXES": '["s3://fraud-data/incoming/"]'},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    metadata = json.loads((tmp_path / "run" / "ingest" / "metadata.json").read_text())
    assert metadata["files"] == [f"s3://fraud-data/{key}"]
    assert metadata["rows_in"] > 0


@pytest.mark.parametrize("key", ["incoming/bad%zz.parquet", "incoming/not-utf8%FF.parquet"])
def test_a_badly_encoded_event_key_is_bad_input(settings, key):
    record = aws_record("fraud-data", "")
    record["s3"]["object"]["key"] = key
    uri = submitted(settings, sqs_body(record))
    with pytest.raises(BadInput, match="URL-encoded"):
        storage.check_data_uri(uri, [])


@pytest.mark.parametrize(
    "key",
    ["incoming/../../etc/x.parquet", "incoming/%2E%2E/%2E%2E/etc/x.parquet", "incoming/..\\..\\x.parquet"],
)
@pytest.mark.parametrize("source", ["sqs", "s3"])
def test_a_key_that_leaves_the_data_prefix_passes_the_sensor_but_the_step_refuses_it(
    settings, source, key, tmp_path
):
    uri = submitted(on(settings, source), new_object(settings, key, source))
    done = run_step("ingest", "--data-uri", uri, "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 65
    [line] = [line for line in done.stderr.splitlines() if "error" in line]
    assert "'..' segments are refused" in line
    assert not (tmp_path / "run" / "ingest").exists()


def test_an_encoded_climb_out_of_the_prefix_is_refused_after_decoding(settings):
    record = aws_record("fraud-data", "")
    record["s3"]["object"]["key"] = "incoming/%2E%2E/%2E%2E/etc/x.parquet"  # a hand-made message
    uri = submitted(settings, sqs_body(record))
    with pytest.raises(BadInput, match="'..' segments are refused"):
        storage.check_data_uri(uri, [])


def test_the_step_refuses_another_bucket_when_prefixes_are_set(tmp_path):
    allowed = json.dumps(["s3://fraud-data/incoming/"])
    done = run_step(
        "ingest", "--data-uri", "s3://someone-else/incoming/a.parquet", "--run-dir", str(tmp_path),
        env={"MLOPS_ALLOWED_DATA_PREFIXES": allowed},
    )  # fmt: skip
    assert done.returncode == 65
    assert "outside the allowed data prefixes (s3://fraud-data/incoming/)" in done.stderr
