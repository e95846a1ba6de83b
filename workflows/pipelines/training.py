"""The training WorkflowTemplate: ingest -> validate-data -> features -> train -> evaluate
-> register -> promote -> deploy (the last two when the evaluation says promote), with
``notify`` as the exit handler."""

from __future__ import annotations

from hera.workflows import DAG, WorkflowTemplate

from workflows.pipelines.templates import StepSpec, pipeline_template, step_template
from workflows.settings import Settings

NAME = "training"
RUN_DIR = "{{workflow.parameters.storage-root}}/runs/{{workflow.name}}"
WORKFLOW_NAME, WORKFLOW_UID = "{{workflow.name}}", "{{workflow.uid}}"
# Inputs a task takes from another task's outputs or from Argo's workflow variables, not a parameter.
WIRED_INPUTS = {
    "run-id",
    "model-uri",
    "decision",
    "version",
    "workflow-name",
    "workflow-uid",
    "workflow-status",
    "failures",
}

STEPS = {
    "ingest": StepSpec(
        "ingest",
        inputs=("data-uri", "seed", "split", "time-column", "cache"),
        outputs=("rows-out", "fingerprint"),
        memory="2Gi",
    ),
    "validate-data": StepSpec("validate-data", inputs=("cache",), outputs=("rows", "positive-rate")),
    "features": StepSpec("features", inputs=("cache",), outputs=("output-features",), memory="2Gi"),
    "train": StepSpec(
        "train",
        inputs=("epochs", "lr", "batch-size", "hidden-sizes", "seed", "experiment", "cache"),
        outputs=("run-id", "model-uri", "best-val-auc"),
        cpu="2",
        memory="8Gi",
        memory_limit="16Gi",
        gpu=True,
        deadline_seconds=4 * 3600,
    ),
    "evaluate": StepSpec(
        "evaluate",
        inputs=(
            "run-id",
            "model-uri",
            "model-name",
            "min-auc",
            "min-delta",
            "replace-incompatible-champion",
            "cache",
        ),
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
        # false: every step runs, whatever an identical earlier run left in the step cache (steps.cache).
        "cache": "true",
    }


def task_arguments(spec: StepSpec, **wired: str) -> dict[str, str]:
    """A task's arguments from its step's declared inputs: the run folder, each input not ``wired``
    from the workflow parameter of its name, then the wired ones (task outputs, workflow variables)."""
    unknown = set(wired) - set(spec.inputs)
    if unknown:
        raise ValueError(f"step {spec.name!r} declares no input {sorted(unknown)[0]!r}")
    return {
        "run-dir": RUN_DIR,
        **{name: f"{{{{workflow.parameters.{name}}}}}" for name in spec.inputs if name not in wired},
        **wired,
    }


def release(task, args, candidate):
    """evaluate -> register -> promote -> deploy of the model the ``candidate`` task outputs (its
    ``run-id`` and ``model-uri``), promote and deploy only on evaluate's ``promote``; returns evaluate.
    Outputs are wired through Hera: a misspelt output name fails here, at compile time."""
    chosen = {
        "run-id": candidate.get_parameter("run-id").value,
        "model-uri": candidate.get_parameter("model-uri").value,
    }
    evaluate = task("evaluate", arguments=args("evaluate", **chosen))
    decision = evaluate.get_parameter("decision").value
    register = task(
        "register",
        arguments=args(
            "register",
            **chosen,
            decision=decision,
            **{"workflow-name": WORKFLOW_NAME, "workflow-uid": WORKFLOW_UID},
        ),
    )
    version = register.get_parameter("version").value
    promoted = f"'{decision}' == 'promote'"
    promote = task("promote", arguments=args("promote", version=version), when=promoted)
    deploy = task(
        "deploy",
        arguments=args("deploy", version=version, **{"workflow-name": WORKFLOW_NAME}),
        when=promoted,
    )
    evaluate >> register >> promote >> deploy
    return evaluate


def training_template(settings: Settings) -> WorkflowTemplate:
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
        deadline_seconds=6 * 3600,
    ) as template:
        steps = {name: step_template(spec, settings) for name, spec in STEPS.items() if name != "notify"}
        step_template(STEPS["notify"], settings, input_values=EXIT_HANDLER_INPUTS)

        def task(name: str, **kwargs):
            return steps[name](name=name, **kwargs)

        def args(name: str, **wired: str) -> dict[str, str]:
            return task_arguments(STEPS[name], **wired)

        with DAG(name=NAME):
            ingest = task("ingest", arguments=args("ingest"))
            validate = task("validate-data", arguments=args("validate-data"))
            features = task("features", arguments=args("features"))
            train = task("train", arguments=args("train"))
            evaluate = release(task, args, train)
            ingest >> validate >> features >> train >> evaluate
    return template
