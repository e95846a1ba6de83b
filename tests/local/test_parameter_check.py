"""`-p NAME=VALUE` is checked against the step that takes it before the first task starts: one line
naming the parameter, the task and the flag, exit 65, and no run folder."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from steps.errors import BadInput
from tests.conftest import ROOT
from workflows.local.parameter_check import check_parameters
from workflows.pipelines.compile import cluster_settings, pipeline_document


@pytest.fixture(scope="module")
def training() -> dict:
    return pipeline_document("training", cluster_settings())


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"epochs": "abc"}, "parameter 'epochs': Input should be a valid integer"),
        ({"lr": "-1"}, "parameter 'lr': Input should be greater than 0"),
        ({"min-auc": "1.5"}, "parameter 'min-auc': Input should be less than or equal to 1"),
        ({"hidden-sizes": "64,x"}, "parameter 'hidden-sizes': "),
    ],
)
def test_a_value_the_step_would_refuse_is_refused_before_the_run(training, given, named):
    with pytest.raises(BadInput) as refused:
        check_parameters(training, given)
    assert str(refused.value).startswith(named)
    assert "task '" in str(refused.value) and f"-p {next(iter(given))}=VALUE" in str(refused.value)


def test_good_values_and_parameters_no_step_takes_pass(training):
    check_parameters(training, {"epochs": "3", "lr": "0.01", "hidden-sizes": "64,32", "min-auc": "0.7"})
    check_parameters(training, {})


@pytest.fixture(scope="module")
def starter(tmp_path_factory):
    from workflows.local.warm_start import WarmStarter

    started = WarmStarter(tmp_path_factory.mktemp("starter") / "warm-start.log")
    yield started
    started.close()


def test_through_the_warm_starter_the_same_values_are_refused_with_the_same_line(training, starter):
    """``mlops run`` checks in a process forked from its starter: the refusal comes back here, whole."""
    for given in ({"epochs": "abc"}, {"min-auc": "1.5"}):
        with pytest.raises(BadInput) as here:
            check_parameters(training, given)
        with pytest.raises(BadInput) as there:
            check_parameters(training, given, starter)
        assert str(there.value) == str(here.value)
    check_parameters(training, {"epochs": "3", "data-uri": "data/train/"}, starter)


def test_with_the_starter_gone_the_check_is_made_here(training, tmp_path):
    from workflows.local.warm_start import WarmStarter

    gone = WarmStarter(tmp_path / "warm-start.log")
    gone.close()
    with pytest.raises(BadInput, match="parameter 'epochs'"):
        check_parameters(training, {"epochs": "abc"}, gone)


def test_a_flag_fed_through_an_expression_is_left_to_the_step():
    doc = {
        "spec": {
            "templates": [
                {
                    "name": "main",
                    "dag": {
                        "tasks": [
                            {
                                "name": "train",
                                "template": "train",
                                "arguments": {
                                    "parameters": [
                                        {"name": "epochs", "value": "{{=workflow.parameters.epochs + 1}}"}
                                    ]
                                },
                            }
                        ]
                    },
                },
                {
                    "name": "train",
                    "inputs": {"parameters": [{"name": "epochs"}]},
                    "container": {
                        "command": ["python", "-m", "steps.train"],
                        "args": ["--epochs", "{{inputs.parameters.epochs}}"],
                    },
                },
            ]
        }
    }
    check_parameters(doc, {"epochs": "abc"})  # not a plain reference: the step judges the result


@pytest.mark.e2e
def test_mlops_run_refuses_a_bad_parameter_with_exit_65_and_starts_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
    env["MLOPS_STORAGE_ROOT"] = str(tmp_path / "store")
    done = subprocess.run(
        [sys.executable, "-m", "workflows.cli", "run", "training", "-p", "epochs=abc"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 65, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "parameter 'epochs'" in lines[0] and "--epochs" in lines[0]
    assert not (tmp_path / "store" / "runs").exists()
