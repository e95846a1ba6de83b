"""A resource template that creates a child Workflow: how its failure reaches the retry decision.

Argo's resource pod (argoexec) exits 64 with "failure condition '<requirement>' evaluated true" when
the child meets the failureCondition; the drift template's ``start-retrain`` retries only failures that
are not that (its own), so a child that refused its data runs once."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.local.test_local_executor import container, workflow
from workflows.local.executor import LocalRun
from workflows.pipelines.compile import MANIFESTS_DIR

CHILD_MANIFEST = (
    "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: child-}\n"
    "spec:\n  workflowTemplateRef: {name: child}\n"
    "  arguments: {parameters: [{name: code, value: '{{inputs.parameters.code}}'}]}\n"
)


def retrain_retry() -> dict:
    """The compiled drift template's retry strategy for its start-retrain, with no backoff to wait out."""
    drift = yaml.safe_load((MANIFESTS_DIR / "drift.yaml").read_text())
    strategy = next(t for t in drift["spec"]["templates"] if t["name"] == "start-retrain")["retryStrategy"]
    return {**strategy, "backoff": {"duration": "0s"}}


def child_template(tmp_path: Path) -> dict:
    """A WorkflowTemplate whose one step exits with the code it is given, counting its runs."""
    runs = tmp_path / "child-runs.txt"
    code = f"import sys; open({str(runs)!r}, 'a').write('x'); sys.exit(int(sys.argv[1]))"
    doc = workflow(
        [
            {
                "name": "validate",
                "template": "validate",
                "arguments": {"parameters": [{"name": "code", "value": "{{workflow.parameters.code}}"}]},
            }
        ],
        [container("validate", code, inputs=("code",))],
    )
    doc["kind"], doc["metadata"] = "WorkflowTemplate", {"name": "child"}
    doc["spec"]["arguments"] = {"parameters": [{"name": "code", "value": "0"}]}
    return doc


def start_child(tmp_path: Path, code: str, manifest: str = CHILD_MANIFEST) -> LocalRun:
    start = {
        "name": "start",
        "inputs": {"parameters": [{"name": "code"}]},
        "resource": {
            "action": "create",
            "manifest": manifest,
            "successCondition": "status.phase == Succeeded",
            "failureCondition": "status.phase in (Failed, Error)",
        },
        "retryStrategy": retrain_retry(),
    }
    doc = workflow(
        [
            {
                "name": "start",
                "template": "start",
                "arguments": {"parameters": [{"name": "code", "value": code}]},
            }
        ],
        [start],
    )
    local = LocalRun(
        doc,
        {},
        str(tmp_path / "runs"),
        load_template={"child": child_template(tmp_path)}.__getitem__,
        locks_dir=str(tmp_path / "locks"),
    )
    local.run()
    return local


def test_a_child_that_refused_its_input_is_not_created_again(tmp_path):
    local = start_child(tmp_path, "65")
    node = local.record.nodes["start"]
    assert local.record.phase == "Failed" and node.phase == "Failed"
    assert len(node.attempts) == 1 and len(node.children) == 1
    attempt = node.attempts[0]
    assert attempt.exit_code == 64
    assert (
        attempt.message
        == "Error (exit code 64): failure condition 'status.phase in (Error,Failed)' evaluated true"
    )
    child = json.loads((tmp_path / "runs" / node.children[0] / "run.json").read_text())
    assert child["phase"] == "Failed" and child["nodes"]["validate"]["attempts"][0]["exit_code"] == 65
    assert (tmp_path / "child-runs.txt").read_text() == "x"


def test_a_failure_of_the_resource_node_itself_is_retried(tmp_path):
    # The manifest names a parameter the child does not declare: creating it fails, no child runs.
    manifest = CHILD_MANIFEST.replace("name: code,", "name: cod,")
    local = start_child(tmp_path, "0", manifest)
    node = local.record.nodes["start"]
    assert node.phase == "Failed" and len(node.attempts) == 2 and node.children == []
    assert all("could not create the child workflow" in a.message for a in node.attempts)
    assert not (tmp_path / "child-runs.txt").exists()
