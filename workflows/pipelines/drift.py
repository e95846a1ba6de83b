"""The drift WorkflowTemplate: load-current -> drift -> retrain-data -> start-retrain (the last two
only when drifted), onExit notify.

``retrain-data`` assembles what the retrain learns from (``retrain-data``: the champion's training
data plus the current window by default, the window alone, or a URI). ``start-retrain`` starts the
training WorkflowTemplate the Argo way, with a resource template that creates a Workflow from
``workflowTemplateRef`` on that data, and waits for it. The drift template reports a
``model_drift_share`` gauge and counts drift-started retrains as Prometheus metrics.
"""

from __future__ import annotations

from hera.workflows import DAG, Counter, Gauge, Label, Parameter, Resource, RetryStrategy, WorkflowTemplate
from hera.workflows import models as m

from workflows.argo import yaml_io
from workflows.pipelines.templates import StepSpec, pipeline_template, retry_strategy, step_template
from workflows.pipelines.training import EXIT_HANDLER_INPUTS, RUN_DIR
from workflows.pipelines.training import NAME as TRAINING
from workflows.pipelines.training import STEPS as TRAINING_STEPS
from workflows.settings import Settings

NAME = "drift"
# Not "drift" (the step's template) nor "drift-check" (the CronWorkflow that starts this template).
DAG_NAME = "detect-and-retrain"
START_RETRAIN = "start-retrain"  # not "retrain": that is the weekly CronWorkflow

STEPS = {
    "load-current": StepSpec(
        "load-current", inputs=("current-uri", "since", "until"), outputs=("uri", "rows"), memory="2Gi"
    ),
    "drift": StepSpec(
        "drift",
        inputs=("current-uri", "model-name", "drift-share"),
        outputs=("drifted", "drift-share", "drifted-columns", "champion-version"),
        cpu="1",
        memory="4Gi",
        memory_limit="8Gi",
    ),
    "retrain-data": StepSpec(
        "retrain-data",
        inputs=("current-uri", "retrain-data", "model-name", "champion-version"),
        outputs=("uri", "rows"),
        memory="4Gi",
        memory_limit="8Gi",
    ),
}
# What Argo's resource pod says when the created Workflow met the failure condition (argoexec exits 64
# with "failure condition '<requirement>' evaluated true"): the child ran and failed.
CHILD_FAILED = "failure condition"


def parameters(settings: Settings) -> dict[str, str]:
    return {
        "current-uri": settings.drift_current_uri,
        "since": "",
        "until": "",
        "drift-share": "0.5",
        # reference+current: the champion's training data plus the window; current: the window alone; or a URI.
        "retrain-data": "reference+current",
        # Stratified, so the new window's rows are learned from too, not only held out as the newest.
        "retrain-split": "stratified",
        "model-name": settings.model_name,
        "storage-root": settings.storage_root,
    }


# The training parameters a drift-started retrain sets; the rest keep the template's defaults.
RETRAIN_INPUTS = ("data-uri", "model-name", "storage-root", "split")


def retrain_manifest() -> str:
    """The Workflow a drift creates: the training template on the current data."""
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": f"{TRAINING}-", "labels": {"argo-mlops/started-by": NAME}},
        "spec": {
            "workflowTemplateRef": {"name": TRAINING},
            "arguments": {
                "parameters": [
                    {"name": name, "value": f"{{{{inputs.parameters.{name}}}}}"} for name in RETRAIN_INPUTS
                ]
            },
        },
    }
    return yaml_io.dump(workflow)


def retrain_retry() -> RetryStrategy:
    """Retry what happened to the start-retrain node itself (its pod lost before the child's verdict),
    never a child that ran and failed: its steps already retried what a retry can change, and what is left
    (a refusal of its data, 65/77/78, a rollback, a bug) would fail the same way again."""
    retry = retry_strategy(StepSpec(START_RETRAIN, retries=1))
    retry.expression = f"{retry.expression} && !(lastRetry.message matches '{CHILD_FAILED}')"
    return retry


def drift_template(settings: Settings) -> WorkflowTemplate:
    run_dir = RUN_DIR
    with pipeline_template(
        NAME,
        entrypoint=DAG_NAME,
        settings=settings,
        parameters=parameters(settings),
        mutex="drift-{{workflow.parameters.model-name}}",
        deadline_seconds=8 * 3600,
    ) as template:
        model = Label(key="model", value="{{inputs.parameters.model-name}}")
        load = step_template(STEPS["load-current"], settings)
        check = step_template(
            STEPS["drift"],
            settings,
            metrics=[
                Gauge(
                    name="model_drift_share",
                    help="Share of columns whose distribution drifted from the champion's training data",
                    labels=[model, Label(key="version", value="{{outputs.parameters.champion-version}}")],
                    realtime=False,
                    value="{{outputs.parameters.drift-share}}",
                )
            ],
        )
        assemble = step_template(STEPS["retrain-data"], settings)
        start_retrain = Resource(
            name=START_RETRAIN,
            action="create",
            manifest=retrain_manifest(),
            success_condition="status.phase == Succeeded",
            failure_condition="status.phase in (Failed, Error)",
            set_owner_reference=True,
            inputs=[Parameter(name=name) for name in RETRAIN_INPUTS],
            outputs=[Parameter(name="workflow-name", value_from=m.ValueFrom(json_path="{.metadata.name}"))],
            retry_strategy=retrain_retry(),
            metrics=[
                Counter(name="drift_retrains", help="Retrains started by drift", labels=[model], value="1")
            ],
        )
        step_template(TRAINING_STEPS["notify"], settings, input_values=EXIT_HANDLER_INPUTS)
        with DAG(name=DAG_NAME):
            loaded = load(
                name="load-current",
                arguments={
                    "run-dir": run_dir,
                    **{p: f"{{{{workflow.parameters.{p}}}}}" for p in ("current-uri", "since", "until")},
                },
            )
            current = loaded.get_parameter(
                "uri"
            ).value  # through Hera: a misspelt output fails at compile time
            checked = check(
                name="drift",
                arguments={
                    "run-dir": run_dir,
                    "current-uri": current,
                    "model-name": "{{workflow.parameters.model-name}}",
                    "drift-share": "{{workflow.parameters.drift-share}}",
                },
            )
            drifted = f"{checked.get_parameter('drifted').value} == true"
            assembled = assemble(
                name="retrain-data",
                arguments={
                    "run-dir": run_dir,
                    "current-uri": current,
                    "retrain-data": "{{workflow.parameters.retrain-data}}",
                    "model-name": "{{workflow.parameters.model-name}}",
                    "champion-version": checked.get_parameter("champion-version").value,
                },
                when=drifted,
            )
            retrained = start_retrain(
                name=START_RETRAIN,
                arguments={
                    "data-uri": assembled.get_parameter("uri").value,
                    "model-name": "{{workflow.parameters.model-name}}",
                    "storage-root": "{{workflow.parameters.storage-root}}",
                    "split": "{{workflow.parameters.retrain-split}}",
                },
                when=drifted,
            )
            loaded >> checked >> assembled >> retrained
    return template
