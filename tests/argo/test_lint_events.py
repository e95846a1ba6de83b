"""Lint imports the part of Hera's models a manifest needs, and checks Argo Events objects in a child
process beside the rest (workflows.argo.lint_events): the same problems as in one process, whatever
the child does. Each case runs in a fresh interpreter, since what it imports is what is asserted."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT
from workflows.pipelines.compile import MANIFESTS_DIR

LINT = """
import json, os, pickle, sys, threading, types
from pathlib import Path
from workflows.argo import hera_models, lint_events
from workflows.argo.lint import lint_paths

case, folder = sys.argv[1], Path(sys.argv[2])
forked = []
begin = lint_events._begin
lint_events._begin = lambda events: forked.append(len(events)) or begin(events)
if case == "child fails":  # the child dies before it answers; this process is not touched by it
    lint_events.pickle = types.SimpleNamespace(dumps=lambda _: os._exit(3), loads=pickle.loads)
if case == "threads":  # a fork would copy one thread of two
    threading.Thread(target=threading.Event().wait, daemon=True).start()
problems = [str(p) for p in lint_paths([folder])]
imported = {part: part in sys.modules for part in (hera_models.WORKFLOWS, hera_models.EVENTS)}
try:
    left = os.waitpid(-1, os.WNOHANG)
except ChildProcessError:
    left = None
if case == "one process":
    lint_events._can_fork = lambda: False
    assert [str(p) for p in lint_paths([folder])] == problems, "a lint in one process differs"
import hera.events.models as whole  # the package a part was imported from is whole when read
same = whole.Sensor is hera_models.event_objects().Sensor and "Sensor" in whole.__all__
print(json.dumps({"problems": problems, "imported": imported, "forked": forked, "left": left, "whole": same}))
"""


def lint_in_fresh_process(case: str, folder) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", LINT, case, str(folder)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def manifests(tmp_path):
    """The compiled training workflow and event objects, with a fault planted in each event object."""
    events = list(yaml.safe_load_all((MANIFESTS_DIR / "events.yaml").read_text()))
    for document in events:
        document["spec"]["planted"] = {"by": "the test"}
    (tmp_path / "events.yaml").write_text(yaml.safe_dump_all(events))
    (tmp_path / "training.yaml").write_text((MANIFESTS_DIR / "training.yaml").read_text())
    return tmp_path


EVENT_PROBLEMS = [
    "events.yaml: spec.planted: unknown field 'planted'",  # the EventSource
    "events.yaml: spec.planted: unknown field 'planted'",  # the Sensor
]


def found(result: dict, folder) -> list[str]:
    return [p.removeprefix(f"{folder}/") for p in result["problems"]]


def test_a_lint_of_workflows_imports_the_workflows_part_only(tmp_path):
    (tmp_path / "training.yaml").write_text((MANIFESTS_DIR / "training.yaml").read_text())
    result = lint_in_fresh_process("workflows", tmp_path)
    assert result["problems"] == []
    assert result["imported"] == {"hera.events.models.io.argoproj.workflow.v1alpha1": True,
                                  "hera.events.models.github.com.argoproj.argo_events.pkg.apis.events.v1alpha1": False}  # fmt: skip
    assert result["forked"] == [] and result["whole"]


def test_event_objects_are_checked_in_a_child_beside_the_workflows(manifests):
    result = lint_in_fresh_process("one process", manifests)
    assert found(result, manifests) == EVENT_PROBLEMS
    assert result["forked"] == [2]  # the EventSource and the Sensor
    assert list(result["imported"].values()) == [True, False]  # the events part: in the child only
    assert result["left"] is None  # the child was reaped
    assert result["whole"]


def test_a_child_that_fails_leaves_the_checks_to_this_process(manifests):
    result = lint_in_fresh_process("child fails", manifests)
    assert result["forked"] == [2]
    assert found(result, manifests) == EVENT_PROBLEMS
    assert list(result["imported"].values()) == [True, True]
    assert result["left"] is None


def test_no_child_is_forked_beside_other_threads(manifests):
    result = lint_in_fresh_process("threads", manifests)
    assert result["forked"] == []
    assert found(result, manifests) == EVENT_PROBLEMS
    assert list(result["imported"].values()) == [True, True]


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ([1, 2], "spec: Input should be a valid dictionary or instance of SensorSpec"),
        ({"triggers": 5}, "spec.triggers: Input should be a valid list"),
        ({"triggers": [{"template": "x"}]}, "spec.triggers.0.template: Input should be a valid dictionary"),
    ],
)
def test_a_sensor_of_the_wrong_shape_is_a_problem_named_not_a_crash(spec, problem):
    from workflows.argo.lint import lint_documents

    sensor = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Sensor", "metadata": {"name": "s"}, "spec": spec}
    found = [f"{p.path}: {p.message}" for p in lint_documents("sensor.yaml", yaml.safe_dump(sensor))]
    assert any(line.startswith(problem) for line in found), found
