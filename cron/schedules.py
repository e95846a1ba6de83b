"""The schedules: a weekly retrain and a daily drift check, each starting its WorkflowTemplate.

``concurrencyPolicy: Forbid`` only stops a cron from overlapping its own runs; the templates'
mutex per model is what keeps a cron-started retrain from racing a sensor- or CI-started one.
"""

from __future__ import annotations

from hera.workflows import CronWorkflow
from hera.workflows import models as m

from workflows.pipelines import drift, training
from workflows.settings import Settings


def cron_workflow(name: str, template: str, schedule: str, settings: Settings) -> CronWorkflow:
    return CronWorkflow(
        name=name,
        namespace=settings.namespace,
        labels={"app.kubernetes.io/part-of": "argo-mlops", "argo-mlops/pipeline": template},
        schedules=[schedule],
        timezone=settings.schedule_timezone,
        concurrency_policy="Forbid",
        starting_deadline_seconds=3600,
        successful_jobs_history_limit=3,
        failed_jobs_history_limit=5,
        workflow_template_ref=m.WorkflowTemplateRef(name=template),
    )


def schedules(settings: Settings) -> dict[str, CronWorkflow]:
    return {
        "retrain": cron_workflow("retrain", training.NAME, settings.retrain_schedule, settings),
        "drift-check": cron_workflow("drift-check", drift.NAME, settings.drift_schedule, settings),
    }
