"""The EventSource and Sensor: Argo Events' field names, and what the Sensor submits for a real
S3 notification (as SQS delivers it, and as the native S3 source does)."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from tests.conftest import run_step
from tests.support.sensor_emulator import EventMismatch, render_data_template, trigger_arguments
from workflows.argo.lint import lint_documents
from workflows.pipelines.events import event_source, sensor
from workflows.settings import Settings


def s3_notification(bucket: str, key: str, event: str = "ObjectCreated:Put") -> dict:
    """An S3 event notification as AWS documents it (keys arrive URL-encoded)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-22T09:30:00.000Z",
                "eventName": event,
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": key, "size": 48213, "eTag": "9b2cf535f27731c974343645a3985328"},
                },
            }
        ]
    }


def sqs_event(body: dict) -> dict:
    """The event data Argo Events' SQS source dispatches (jsonBody: the message body parsed)."""
    return {"messageId": "0b4c5f4e-1e2d-4a43-9d61-1f0f0b7c2a10", "messageAttributes": {}, "body": body}


@pytest.fixture
def settings(monkeypatch) -> Settings:
    for key in ("MLOPS_EVENTS_SOURCE", "MLOPS_EVENTS_BUCKET", "MLOPS_EVENTS_PREFIX", "MLOPS_EVENTS_SUFFIX"):
        monkeypatch.delenv(key, raising=False)
    return Settings(events_bucket="fraud-data", events_prefix="incoming/", events_suffix=".parquet")


def test_event_source_and_sensor_pass_lint_with_argo_events_field_names(settings):
    for source in ("sqs", "s3"):
        chosen = settings.model_copy(update={"events_source": source})
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


def test_a_new_object_becomes_the_data_uri_of_a_training_run(settings):
    doc = sensor(settings)
    event = sqs_event(s3_notification("fraud-data", "incoming/2026-11-22/part-0.parquet"))
    assert trigger_arguments(doc, event) == {"data-uri": "s3://fraud-data/incoming/2026-11-22/part-0.parquet"}
    assert doc["spec"]["triggers"][0]["template"]["argoWorkflow"]["source"]["resource"]["spec"][
        "workflowTemplateRef"
    ] == {"name": "training"}
    # the mapping left the Sensor's own resource untouched: every event starts from the template
    assert trigger_arguments(doc, copy.deepcopy(event))["data-uri"].endswith("part-0.parquet")


def test_the_native_s3_source_maps_the_same_way(settings):
    doc = sensor(settings.model_copy(update={"events_source": "s3"}))
    record = s3_notification("fraud-data", "incoming/a.parquet", "s3:ObjectCreated:Put")["Records"][0]
    assert trigger_arguments(doc, record) == {"data-uri": "s3://fraud-data/incoming/a.parquet"}


@pytest.mark.parametrize(
    ("bucket", "key", "event"),
    [
        ("fraud-data", "archive/a.parquet", "ObjectCreated:Put"),  # outside the prefix
        ("fraud-data", "incoming/a.csv", "ObjectCreated:Put"),  # wrong suffix
        ("fraud-data", "incoming/a.parquet", "ObjectRemoved:Delete"),  # not a creation
        ("other-bucket", "incoming/a.parquet", "ObjectCreated:Put"),  # another bucket
    ],
)
def test_the_sensor_ignores_events_its_filters_refuse(settings, bucket, key, event):
    with pytest.raises(EventMismatch):
        trigger_arguments(sensor(settings), sqs_event(s3_notification(bucket, key, event)))


def test_s3_test_event_without_records_is_ignored(settings):
    test_event = sqs_event({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "fraud-data"})
    with pytest.raises(EventMismatch):
        trigger_arguments(sensor(settings), test_event)


def test_only_the_template_forms_this_project_writes_are_rendered():
    data = {"body": {"Records": [{"s3": {"object": {"key": "k"}}}]}}
    assert render_data_template("{{ (index .Input.body.Records 0).s3.object.key }}", data) == "k"
    with pytest.raises(ValueError, match="unsupported template"):
        render_data_template("{{ .Input.body | toJson }}", data)


@pytest.mark.parametrize(
    "key",
    ["incoming/../../etc/x.parquet", "incoming/%2E%2E/%2E%2E/etc/x.parquet", "incoming/..\\..\\x.parquet"],
)
def test_a_key_that_leaves_the_data_prefix_passes_the_sensor_but_the_step_refuses_it(settings, key, tmp_path):
    uri = trigger_arguments(sensor(settings), sqs_event(s3_notification("fraud-data", key)))["data-uri"]
    done = run_step("ingest", "--data-uri", uri, "--run-dir", str(tmp_path / "run"))
    assert done.returncode == 65
    [line] = [line for line in done.stderr.splitlines() if "error" in line]
    assert "'..' segments are refused" in line
    assert not (tmp_path / "run" / "ingest").exists()


def test_the_step_refuses_another_bucket_when_prefixes_are_set(tmp_path):
    allowed = json.dumps(["s3://fraud-data/incoming/"])
    done = run_step(
        "ingest", "--data-uri", "s3://someone-else/incoming/a.parquet", "--run-dir", str(tmp_path),
        env={"MLOPS_ALLOWED_DATA_PREFIXES": allowed},
    )  # fmt: skip
    assert done.returncode == 65
    assert "outside the allowed data prefixes (s3://fraud-data/incoming/)" in done.stderr
