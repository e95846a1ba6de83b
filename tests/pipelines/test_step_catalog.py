"""The step catalog agrees with the steps: every input a template passes is a flag of the step's
parameters model, every required flag is passed, and the template's outputs are the result model's
fields; so a renamed flag or result field fails here, not in a cluster run."""

from __future__ import annotations

import importlib

import pytest

from steps.contract import StepParams, StepResult
from workflows.pipelines import drift, sweep, training
from workflows.pipelines.templates import StepSpec

CATALOG = {**training.STEPS, **drift.STEPS, **sweep.STEPS}


def models(spec: StepSpec) -> tuple[type[StepParams], type[StepResult]]:
    module = importlib.import_module(f"steps.{spec.module}")

    def defined(base: type) -> type:
        (found,) = [
            value
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, base) and value is not base
            and value.__module__ == module.__name__
        ]  # fmt: skip
        return found

    return defined(StepParams), defined(StepResult)


def flag(field: str) -> str:
    return field.replace("_", "-")


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_the_template_passes_what_the_step_takes_and_declares_what_it_returns(name):
    spec = CATALOG[name]
    params, result = models(spec)
    flags = {flag(field) for field in params.model_fields}
    required = {flag(field) for field, info in params.model_fields.items() if info.is_required()}
    passed = {"run-dir", *spec.inputs}
    assert passed - flags == set(), f"{name}: passes flags the step does not take"
    assert required - passed == set(), f"{name}: does not pass flags the step requires"
    # Every result field is written as an output file; the template exposes those a task or metric reads.
    assert set(spec.outputs) - {flag(field) for field in result.model_fields} == set(), f"{name}: outputs"


def test_a_task_wired_to_an_output_its_step_does_not_declare_fails_at_compile_time(monkeypatch):
    from workflows.settings import Settings

    train = training.STEPS["train"]
    without = StepSpec(train.name, inputs=train.inputs, outputs=("model-uri", "best-val-auc"))
    monkeypatch.setitem(training.STEPS, "train", without)
    with pytest.raises(KeyError, match="run-id"):
        training.training_template(Settings())


def test_an_input_that_is_neither_wired_nor_a_parameter_fails_at_compile_time(monkeypatch):
    from workflows.settings import Settings

    promote = training.STEPS["promote"]
    monkeypatch.setitem(training.STEPS, "promote", StepSpec("promote", inputs=(*promote.inputs, "dry-run")))
    with pytest.raises(ValueError, match="'dry-run' is neither wired nor a workflow parameter"):
        training.training_template(Settings())
