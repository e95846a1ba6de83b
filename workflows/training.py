"""The training WorkflowTemplate: ingest -> validate-data -> features -> train -> evaluate
-> register -> promote -> deploy (the last two when the evaluation says promote), with
``notify`` as the exit handler."""

from __future__ import annotations

from hera.workflows import DAG, WorkflowTemplate

from workflows.settings import Settings
from workflows.templates import StepSpec, pipeline_template, step_template

NAME = "training"
RUN_DIR = "{{workflow.parameters.storage-root}}/runs/{{workflow.name}}"

STEPS = {
    "ingest": StepSpec(
        "ingest",
        inputs=("data-uri", "seed", "split", "time-column"),
        outputs=("rows-out", "fingerprint"),
        memory="2Gi",
    ),
    "validate-data": StepSpec("validate-data", outputs=("rows", "positive-rate")),
    "features": StepSpec("features", outputs=("output-features",), memory="2Gi"),
    "train": StepSpec(
        "train",
        inputs=("epochs", "lr", "batch-size", "hidden-sizes", "seed", "experiment"),
        outputs=("run-id", "model-uri", "best-val-auc"),
        cpu="2",
        memory="8Gi",
        memory_limit="16Gi",
        gpu=True,
        deadline_seconds=4 * 3600,
    ),
    "evaluate": StepSpec(
        "evaluate",
        inputs=("run-id", "model-uri", "model-name", "min-auc", "min-delta", "replace-incompatible-champion"),
        outputs=("decision", "reason", "auc"),
        memory="2Gi",
    ),
    "register": StepSpec(
        "register",
        inputs=("run-id", "model-uri", "model-name", "decision", "workflow-name", "workflow-uid"),
        outputs=("version",),
    ),
    "promote": StepSpec("promote", inputs=("model-name", "version"), outputs=("champion-version",)),
    "deploy": StepSpec(
        "deploy",
        inputs=("model-name", "version", "canary-percent", "workflow-name"),
        outputs=("commit", "changed"),
        retries=2,
        deadline_seconds=1800,
    ),
    "notify": StepSpec(
        "notify",
        inputs=("workflow-name", "workflow-status", "failures"),
        outputs=("status",),
        retries=2,
        backoff="5s",
    ),
}


# The exit handler is called without arguments: its inputs name what Argo knows at the end.
EXIT_HANDLER_INPUTS = {
    "run-dir": RUN_DIR,
    "workflow-name": "{{workflow.name}}",
    "workflow-status": "{{workflow.status}}",
    "failures": "{{workflow.failures}}",
}


def parameters(settings: Settings) -> dict[str, str]:
    """The workflow's parameters and their defaults: what a run may change."""
    return {
        **settings.workflow_parameters(),
        "epochs": "20",
        "lr": "0.003",
        "batch-size": "512",
        "hidden-sizes": "64,32",
        "min-auc": "0.7",
        "min-delta": "0.0",
        "seed": "42",
        # auto: by time-column when the data has it, else random; random and stratified on request.
        "split": "auto",
        "time-column": "event_time",
        # A champion trained on other columns is replaced on min-auc alone (else evaluate rejects).
        "replace-incompatible-champion": "false",
        "canary-percent": "0",
    }


def training_template(settings: Settings) -> WorkflowTemplate:
    def task_args(*names: str, **wired: str) -> dict[str, str]:
        return {"run-dir": RUN_DIR, **{n: f"{{{{workflow.parameters.{n}}}}}" for n in names}, **wired}

    with pipeline_template(
        NAME,
        entrypoint=NAME,
        settings=settings,
        parameters=parameters(settings),
        mutex="training-{{workflow.parameters.model-name}}",
        deadline_seconds=6 * 3600,
    ) as template:
        steps = {name: step_template(spec, settings) for name, spec in STEPS.items() if name != "notify"}
        step_template(STEPS["notify"], settings, input_values=EXIT_HANDLER_INPUTS)
        with DAG(name=NAME):
            ingest = steps["ingest"](
                name="ingest", arguments=task_args("data-uri", "seed", "split", "time-column")
            )
            validate = steps["validate-data"](name="validate-data", arguments=task_args())
            features = steps["features"](name="features", arguments=task_args())
            train = steps["train"](
                name="train",
                arguments=task_args("epochs", "lr", "batch-size", "hidden-sizes", "seed", "experiment"),
            )
            evaluate = steps["evaluate"](
                name="evaluate",
                arguments=task_args(
                    "model-name",
                    "min-auc",
                    "min-delta",
                    "replace-incompatible-champion",
                    **{
                        "run-id": "{{tasks.train.outputs.parameters.run-id}}",
                        "model-uri": "{{tasks.train.outputs.parameters.model-uri}}",
                    },
                ),
            )
            register = steps["register"](
                name="register",
                arguments=task_args(
                    "model-name",
                    **{
                        "run-id": "{{tasks.train.outputs.parameters.run-id}}",
                        "model-uri": "{{tasks.train.outputs.parameters.model-uri}}",
                        "decision": "{{tasks.evaluate.outputs.parameters.decision}}",
                        "workflow-name": "{{workflow.name}}",
                        "workflow-uid": "{{workflow.uid}}",
                    },
                ),
            )
            promoted = "'{{tasks.evaluate.outputs.parameters.decision}}' == 'promote'"
            promote = steps["promote"](
                name="promote",
                arguments=task_args("model-name", version="{{tasks.register.outputs.parameters.version}}"),
                when=promoted,
            )
            deploy = steps["deploy"](
                name="deploy",
                arguments=task_args(
                    "model-name",
                    "canary-percent",
                    version="{{tasks.register.outputs.parameters.version}}",
                    **{"workflow-name": "{{workflow.name}}"},
                ),
                when=promoted,
            )
            ingest >> validate >> features >> train >> evaluate >> register >> promote >> deploy
    return template
