"""The compiled sweep on the local executor with every step stubbed: trials fan out over lanes, a
trial that fails with bad input (65) is not retried and leaves its lane going, and the sweep reaches
select, which decides whether enough trials succeeded."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from workflows.local.executor import LocalRun
from workflows.pipelines.compile import pipeline_document
from workflows.settings import Settings

STUB = """
import json, os, sys
from pathlib import Path
template, trial, outputs = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(f"{template} {trial}\\n")
if template == "train-trial" and trial == "1":
    sys.exit(65)  # bad hyperparameters
values = {"lanes": json.dumps([{"lane": 0, "trials": [0, 2]}, {"lane": 1, "trials": [1, 3]}]), "decision": "reject"}
folder = Path(os.environ["MLOPS_OUTPUTS_DIR"])
folder.mkdir(parents=True, exist_ok=True)
for name in outputs:
    (folder / name).write_text(values.get(name, "x"))
"""


def stubbed(tmp_path: Path) -> dict:
    """The sweep as compiled for this machine, each step a stub that logs its call and writes its outputs."""
    doc = pipeline_document("sweep", Settings(storage_root=str(tmp_path / ".mlops")))
    stub = tmp_path / "stub.py"
    stub.write_text(STUB)
    for template in doc["spec"]["templates"]:
        if "container" in template:
            inputs = {p["name"] for p in template["inputs"]["parameters"]}
            trial = "{{inputs.parameters.trial-id}}" if "trial-id" in inputs else "-"
            outputs = [p["name"] for p in (template.get("outputs") or {}).get("parameters", [])]
            template["container"]["command"] = [sys.executable, str(stub), template["name"], trial, *outputs]
            template["container"]["args"] = []
            template["container"]["env"].append({"name": "STUB_LOG", "value": str(tmp_path / "calls.log")})
    return doc


def test_a_failed_trial_leaves_its_lane_going_and_select_runs(tmp_path):
    run = LocalRun(stubbed(tmp_path), {}, str(tmp_path / "runs"), parallelism=4, locks_dir=str(tmp_path))
    run.run()
    nodes = run.record.nodes
    assert run.record.phase == "Succeeded", run.record.message
    items = [n for n in nodes.values() if ".train-trial(" in n.name]  # not the loops' group nodes
    trials = {n.name.rsplit(":", 1)[-1].rstrip(")"): n for n in items}
    assert {k: v.phase for k, v in trials.items()} == {
        "0": "Succeeded", "1": "Failed", "2": "Succeeded", "3": "Succeeded",
    }  # fmt: skip
    assert len(trials["1"].attempts) == 1  # 65 is never retried
    calls = (tmp_path / "calls.log").read_text().splitlines()
    lane = [c for c in calls if c in ("train-trial 1", "train-trial 3")]
    assert lane == ["train-trial 1", "train-trial 3"]  # lane 1: one trial after the other, past the failure
    assert calls.index("select -") > max(calls.index(f"train-trial {t}") for t in "0123")
    assert nodes["promote"].phase == "Skipped" and nodes["register"].phase == "Succeeded"
    # Lane 1's loop is Failed as its failed item, and continueOn lets the lane succeed past it.
    assert next(n for n in nodes.values() if n.name.endswith("[1,3]).train-trial")).phase == "Failed"
    lanes = [n for n in nodes.values() if n.template == "trial-lane"]  # the loop's group and its 2 items
    assert len(lanes) == 3 and all(n.phase == "Succeeded" for n in lanes)
    assert json.loads(Path(run.record.run_dir, "run.json").read_text())["phase"] == "Succeeded"
