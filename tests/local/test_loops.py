"""Loops and script templates through the scheduler: parallelism over items, the staged script, --resume."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from workflows.local.executor import LocalRun
from workflows.local.record import RunRecord

SLEEPER = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: loop-}
spec:
  entrypoint: main
  templates:
  - name: main
    parallelism: 1
    dag:
      tasks:
      - name: fan
        template: mark
        arguments: {parameters: [{name: n, value: "{{item}}"}]}
        withItems: [a, b, c]
  - name: mark
    inputs: {parameters: [{name: n}]}
    script:
      image: python
      command: [python]
      source: |
        import pathlib, time
        log = pathlib.Path("LOG")
        with log.open("a") as f: f.write("start {{inputs.parameters.n}}\\n")
        time.sleep(0.2)
        with log.open("a") as f: f.write("end {{inputs.parameters.n}}\\n")
"""


def run(doc: dict, tmp_path: Path, previous: RunRecord | None = None, **parameters: str) -> LocalRun:
    local = LocalRun(
        doc, parameters, str(tmp_path / "runs"), locks_dir=str(tmp_path / "locks"), previous=previous
    )
    local.run()
    return local


def test_the_dag_templates_parallelism_runs_one_item_at_a_time(tmp_path):
    log = tmp_path / "order.log"
    doc = yaml.safe_load(SLEEPER.replace("LOG", str(log)))
    local = run(doc, tmp_path)
    assert local.record.phase == "Succeeded"
    lines = log.read_text().split()
    assert lines == ["start", "a", "end", "a", "start", "b", "end", "b", "start", "c", "end", "c"]


def test_the_script_is_staged_and_its_path_ends_the_command(tmp_path):
    doc = yaml.safe_load(SLEEPER.replace("LOG", str(tmp_path / "x.log")))
    local = run(doc, tmp_path)
    command = local.record.nodes["fan(0:a)"].attempts[-1].command
    staged = Path(command[-1])
    assert staged.parent == local.run_dir / "scripts" and "start a" in staged.read_text()
    assert staged.stat().st_mode & 0o777 == 0o755  # executor.go StageFiles


def test_run_json_holds_the_items_and_the_groups_children(tmp_path):
    doc = yaml.safe_load(SLEEPER.replace("LOG", str(tmp_path / "x.log")))
    local = run(doc, tmp_path)
    saved = json.loads((local.run_dir / "run.json").read_text())
    assert saved["nodes"]["fan"]["children"] == ["fan(0:a)", "fan(1:b)", "fan(2:c)"]
    assert RunRecord.from_json(saved).nodes["fan(2:c)"].phase == "Succeeded"


FLAKY = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: flaky-}
spec:
  entrypoint: main
  arguments: {parameters: [{name: bad, value: b}]}
  templates:
  - name: main
    dag:
      tasks:
      - name: fan
        template: check
        arguments: {parameters: [{name: n, value: "{{item}}"}]}
        withItems: [a, b]
  - name: check
    inputs: {parameters: [{name: n}]}
    script:
      image: python
      command: [python]
      source: |
        import sys
        sys.exit(1 if "{{inputs.parameters.n}}" == "{{workflow.parameters.bad}}" else 0)
"""


def test_resume_reruns_only_the_failed_items(tmp_path):
    doc = yaml.safe_load(FLAKY)
    first = run(doc, tmp_path)
    assert first.record.phase == "Failed"
    assert {n: node.phase for n, node in first.record.nodes.items()} == {
        "fan": "Failed", "fan(0:a)": "Succeeded", "fan(1:b)": "Failed"}  # fmt: skip
    again = run(doc, tmp_path, previous=first.record, bad="none")
    nodes = again.record.nodes
    assert again.record.phase == "Succeeded"
    assert nodes["fan(0:a)"].reused and len(nodes["fan(0:a)"].attempts) == 1
    assert not nodes["fan(1:b)"].reused and nodes["fan(1:b)"].phase == "Succeeded"
