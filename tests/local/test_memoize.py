"""``memoize`` across runs (workflows.local.memoize): a second run hits, a failed node is never stored, an entry
older than maxAge is ignored."""

from __future__ import annotations

import json

from tests.local.test_local_executor import workflow
from tests.local.test_sandbox import run, shell


def memoized(script: str, max_age: str = "1h") -> dict:
    template = shell("work", script)
    template["memoize"] = {
        "key": "k-{{inputs.parameters.n}}",
        "maxAge": max_age,
        "cache": {"configMap": {"name": "c"}},
    }
    template["inputs"] = {"parameters": [{"name": "n"}]}
    template["outputs"] = {"parameters": [{"name": "out", "valueFrom": {"path": "/tmp/out"}}]}
    return template


def one_task(template: dict) -> dict:
    return workflow(
        [{"name": "a", "template": "work", "arguments": {"parameters": [{"name": "n", "value": "1"}]}}],
        [template],
    )


def test_a_second_run_reuses_the_outputs_and_marks_the_node(tmp_path):
    doc = one_task(memoized("date +%s%N > /tmp/out"))
    first, second = run(doc, tmp_path), run(doc, tmp_path)
    hit = second.record.nodes["a"]
    assert (second.record.phase, hit.outputs) == ("Succeeded", first.record.nodes["a"].outputs)
    assert first.record.nodes["a"].memoization == {"hit": False, "key": "k-1", "cacheName": "c"}
    assert hit.memoization == {"hit": True, "key": "k-1", "cacheName": "c"}
    assert hit.attempts[-1].pid is None  # no process started
    saved = json.loads((second.run_dir / "run.json").read_text())["nodes"]["a"]["memoization"]
    assert saved["hit"] is True


def test_a_failed_node_is_never_cached(tmp_path):
    failing = run(one_task(memoized("echo no > /tmp/out; exit 1")), tmp_path)
    assert failing.record.nodes["a"].phase == "Failed"
    again = run(one_task(memoized("echo yes > /tmp/out")), tmp_path)
    assert again.record.nodes["a"].memoization["hit"] is False
    assert again.record.nodes["a"].outputs == {"out": "yes"}


def test_an_entry_older_than_max_age_is_ignored(tmp_path):
    doc = one_task(memoized("date +%s%N > /tmp/out", max_age="30s"))
    first = run(doc, tmp_path)
    (entry,) = (tmp_path / "memoize" / "c").glob("*.json")
    data = json.loads(entry.read_text())
    entry.write_text(
        json.dumps({**data, "creationTimestamp": "2020-01-01T00:00:00Z"})
    )  # aged, not waited for
    second = run(doc, tmp_path)
    assert second.record.nodes["a"].memoization["hit"] is False
    assert second.record.nodes["a"].outputs != first.record.nodes["a"].outputs
