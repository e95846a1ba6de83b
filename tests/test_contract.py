"""The step contract: parameters parsed and validated at the edge, outputs as files, exit codes."""

from __future__ import annotations

import pytest

from steps.contract import StepResult, parse_params, write_outputs
from steps.errors import BadInput
from steps.train import TrainParams


def test_flags_are_parsed_and_typed():
    params = parse_params(
        TrainParams, ["--run-dir", "r", "--epochs", "3", "--hidden-sizes", "16,8", "--lr", "0.01"], "t"
    )
    assert (params.run_dir, params.epochs, params.hidden_sizes, params.lr) == ("r", 3, [16, 8], 0.01)


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["--epochs", "-1"], "--epochs"),
        (["--epochs", "ten"], "--epochs"),
        (["--hidden-sizes", "16,0"], "--hidden-sizes"),
        (["--device", "tpu"], "--device"),
        (["--unknown", "1"], "--unknown"),
    ],
)
def test_bad_parameters_are_bad_input_naming_the_flag(argv, names):
    with pytest.raises(BadInput) as caught:
        parse_params(TrainParams, argv, "t")
    assert names in str(caught.value)
    assert "\n" not in str(caught.value)


class _Result(StepResult):
    decision: str
    auc: float
    champion_version: str | None
    metrics: dict[str, float]


def test_outputs_are_one_file_per_field(tmp_path):
    write_outputs(_Result(decision="promote", auc=0.9, champion_version=None, metrics={"a": 1.0}), tmp_path)
    assert (tmp_path / "decision").read_text() == "promote"
    assert (tmp_path / "auc").read_text() == "0.9"
    assert (tmp_path / "champion-version").read_text() == ""
    assert (tmp_path / "metrics").read_text() == '{"a": 1.0}'
