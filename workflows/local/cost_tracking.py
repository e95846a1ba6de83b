"""A run's cost where its model is looked at: metrics on the MLflow runs it logged to, and tags on the
version it registered (``mlops.cost_usd``, ``mlops.gpu_hours``), so the registry answers what a version cost.
"""

from __future__ import annotations

from workflows.argo.ledger import Ledger
from workflows.settings import Settings

COST_TAG, GPU_HOURS_TAG = "mlops.cost_usd", "mlops.gpu_hours"


def cost_metrics(ledger: Ledger) -> dict[str, float]:
    totals = ledger.totals()
    return {
        COST_TAG: totals["model_cost"],  # the drift check that started the run included
        "mlops.run_cost_usd": totals["cost"],
        GPU_HOURS_TAG: totals["gpu_hours"],
        "mlops.vcpu_hours": totals["vcpu_hours"],
        "mlops.gib_hours": totals["gib_hours"],
        "mlops.cpu_seconds": totals["cpu_seconds"],
        "mlops.retries_cost_usd": totals["retries_cost"],
    }


def record_cost(ledger: Ledger, settings: Settings) -> list[str]:
    """Log the ledger's totals to its MLflow runs and tag its registered version; what was recorded, as lines."""
    if not ledger.mlflow_runs and not ledger.model:
        return []
    from steps.tracking import as_metrics, connect

    client = connect(settings)
    metrics = cost_metrics(ledger)
    done = []
    for run_id in ledger.mlflow_runs:
        client.log_batch(run_id, metrics=as_metrics(metrics, 0))
        done.append(f"MLflow run {run_id}")
    if ledger.model:
        name, version = ledger.model["name"], ledger.model["version"]
        for key in (COST_TAG, GPU_HOURS_TAG):
            client.set_model_version_tag(name, version, key, str(metrics[key]))
        client.set_model_version_tag(
            name, version, "mlops.cost_currency", ledger.prices.get("currency", "USD")
        )
        done.append(f"model {name} version {version}")
    return done
