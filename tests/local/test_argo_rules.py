"""Argo rules the executor follows outside the DAG itself: enums of workflow arguments, transient errors,
Go durations."""

from __future__ import annotations

import pytest

from steps.errors import BadInput
from tests.local.test_local_executor import container, run, workflow
from workflows.local.preflight import Unsupported
from workflows.local.retry import is_transient
from workflows.local.substitution import parse_duration


def test_a_value_outside_the_arguments_enum_is_refused_naming_it(tmp_path):
    """validate.go: a workflow argument with an enum takes one of its values, -p included."""
    doc = workflow(
        [{"name": "a", "template": "a"}],
        [container("a", "pass")],
        arguments={"parameters": [{"name": "env", "value": "dev", "enum": ["dev", "prod"]}]},
    )
    assert run(tmp_path / "ok", doc, env="prod").record.phase == "Succeeded"
    with pytest.raises(BadInput, match=r"parameter 'env': 'qa' is not one of its enum values \(dev, prod\)"):
        run(tmp_path / "bad", doc, env="qa")


def test_on_transient_error_retries_only_a_message_argo_calls_transient(tmp_path, monkeypatch):
    """operator.go processNodeRetries with util/errors IsTransientErr; TRANSIENT_ERROR_PATTERN widens it."""
    retry = {"limit": 2, "retryPolicy": "OnTransientError"}
    doc = workflow([{"name": "a", "template": "a"}], [container("a", "import sys; sys.exit(3)", retry=retry)])
    assert len(run(tmp_path / "plain", doc).record.nodes["a"].attempts) == 1
    assert is_transient("dial tcp 10.0.0.1:443: connect: connection refused")
    assert not is_transient("Error (exit code 65)")
    monkeypatch.setenv("TRANSIENT_ERROR_PATTERN", r"exit code \d")
    assert len(run(tmp_path / "pattern", doc).record.nodes["a"].attempts) == 3


@pytest.mark.parametrize(
    ("text", "seconds"), [("100ms", 0.1), ("15s", 15), ("1m30s", 90), ("2h", 7200), ("20", 20), (5, 5)]
)
def test_durations_read_as_go_parses_them(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5 min", "1d", "s", "-3s"])
def test_a_duration_go_would_not_parse_is_refused(text):
    with pytest.raises(Unsupported, match="duration"):
        parse_duration(text)
