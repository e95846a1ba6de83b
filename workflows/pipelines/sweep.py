"""The sweep WorkflowTemplate: ingest -> validate-data -> features -> suggest -> train-trials (a
fan-out of ``train-trial`` over the trials suggest drew) -> select -> evaluate -> register ->
promote -> deploy (the last two when the evaluation says promote), ``notify`` as the exit handler,
and the model's mutex shared with training, so a sweep and a retrain of one model never race.

Argo takes a template's ``parallelism`` as a number, never a parameter (argo-workflows #1780), so
the ``parallelism`` parameter sets how many lanes suggest deals the trials into: ``train-trials``
fans out over the lanes with ``withParam``, and each lane (``trial-lane``, parallelism 1) runs its
trials one after another, each a ``withParam`` item. A trial that fails (bad hyperparameters, or its
retries spent) does not stop its lane (``continueOn``); ``select`` decides whether enough succeeded.
"""

from __future__ import annotations

import json

from hera.workflows import DAG, Parameter, WorkflowTemplate
from hera.workflows import models as m

from steps.sweep_space import DEFAULT_SPACE
from workflows.pipelines import training
from workflows.pipelines.templates import StepSpec, pipeline_template, step_template
from workflows.settings import Settings

NAME = "sweep"
LANE = "trial-lane"
TRAIN = training.STEPS["train"]
STEPS = {
    **{name: spec for name, spec in training.STEPS.items() if name != "train"},
    "suggest": StepSpec(
        "suggest",
        inputs=("search-space", "trials", "seed", "sampler", "pruner", "parallelism", "experiment"),
        outputs=("lanes", "trials", "parent-run-id"),
    ),
    "train-trial": StepSpec(
        "train-trial",
        inputs=("trial-id", "seed", "experiment"),
        outputs=("status", "best-val-auc", "run-id"),
        cpu=TRAIN.cpu,
        memory=TRAIN.memory,
        memory_limit=TRAIN.memory_limit,
        gpu=True,
        deadline_seconds=TRAIN.deadline_seconds,
    ),
    "select": StepSpec(
        "select",
        inputs=("min-success-ratio",),
        outputs=("run-id", "model-uri", "trial-id", "best-val-auc"),
    ),
}
WIRED_INPUTS = training.WIRED_INPUTS | {"trial-id"}
# train's hyperparameters are the search space's here.
TRAIN_ONLY = {"epochs", "lr", "batch-size", "hidden-sizes"}


def parameters(settings: Settings) -> dict[str, str]:
    """The sweep's parameters and their defaults: training's, but the search space for train's."""
    return {
        **{k: v for k, v in training.parameters(settings).items() if k not in TRAIN_ONLY},
        "search-space": json.dumps(DEFAULT_SPACE),
        "trials": "16",
        "parallelism": "4",
        "sampler": "tpe",
        "pruner": "median",
        "min-success-ratio": "0.75",
    }


def sweep_template(settings: Settings) -> WorkflowTemplate:
    declared = parameters(settings)
    for spec in STEPS.values():  # an input no task wires must be a workflow parameter
        missing = [n for n in spec.inputs if n not in declared and n not in WIRED_INPUTS]
        if missing:
            raise ValueError(
                f"step {spec.name!r}: input {missing[0]!r} is neither wired nor a workflow parameter"
            )

    with pipeline_template(
        NAME,
        entrypoint=NAME,
        settings=settings,
        parameters=declared,
        mutex="training-{{workflow.parameters.model-name}}",
        deadline_seconds=12 * 3600,
    ) as template:
        steps = {name: step_template(spec, settings) for name, spec in STEPS.items() if name != "notify"}
        step_template(STEPS["notify"], settings, input_values=training.EXIT_HANDLER_INPUTS)

        def task(name: str, **kwargs):
            return steps[name](name=name, **kwargs)

        def args(name: str, **wired: str) -> dict[str, str]:
            return training.task_arguments(STEPS[name], **wired)

        with DAG(name=LANE, parallelism=1, inputs=[Parameter(name="trials")]) as lane:
            # A failed trial leaves the lane going; select counts it.
            task(
                "train-trial",
                arguments=args("train-trial", **{"trial-id": "{{item}}"}),
                with_param="{{inputs.parameters.trials}}",
                continue_on=m.ContinueOn(failed=True, error=True),
            )

        with DAG(name=NAME):
            ingest = task("ingest", arguments=args("ingest"))
            validate = task("validate-data", arguments=args("validate-data"))
            features = task("features", arguments=args("features"))
            suggest = task("suggest", arguments=args("suggest"))
            trials = lane(
                name="train-trials",
                arguments={"trials": "{{item.trials}}"},
                with_param=suggest.get_parameter("lanes").value,
            )
            select = task("select", arguments=args("select"))
            evaluate = training.release(task, args, select)
            ingest >> validate >> features >> suggest >> trials >> select >> evaluate
    return template
