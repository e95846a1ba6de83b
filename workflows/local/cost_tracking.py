"""A run's cost where its model is looked at: metrics on the MLflow runs it logged to, and tags on the
version it registered (``mlops.cost_usd``, ``mlops.gpu_hours``), so the registry answers what a version cost.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from workflows.argo.ledger import Ledger
from workflows.settings import Settings

if TYPE_CHECKING:
    from workflows.local.warm_start import WarmStarter

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
        client.log_batch(run_id, metrics=as_metrics(metrics, 0, recorded_at(ledger)))
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


def recorded_at(ledger: Ledger) -> int:
    """The cost metrics' timestamp (ms): when the run finished, so that recording the same ledger again
    (its recorder's starter gone after it logged) adds no second point; MLflow keeps one row per key,
    value, step and timestamp. A resumed run finishes later: its new totals are a new point."""
    stamp = ledger.finished_at or ledger.started_at
    return int(datetime.fromisoformat(stamp).timestamp() * 1000) if stamp else int(time.time() * 1000)


# ---- through the warm starter ------------------------------------------------------------------

RESULT_MARK = "recorded: "  # a line of the forked recorder's log that holds one ledger's outcome


def record_costs(ledgers: list[tuple[Path, Ledger]], settings: Settings, starter: WarmStarter | None):
    """``record_cost`` of each run's ledger (its folder, its ledger written there as cost.json), in order,
    until one fails: yields (what was recorded, the error's first line or ""). With a warm starter, in a
    process forked from it: MLflow is imported there already, which in this process would take seconds."""
    wanted = any(ledger.mlflow_runs or ledger.model for _, ledger in ledgers)
    outcomes = forked(ledgers, settings, starter) if wanted and starter is not None else None
    if outcomes is not None:
        yield from outcomes
        return
    for _, ledger in ledgers:
        try:
            yield record_cost(ledger, settings), ""
        except Exception as exc:  # the tracking store is down: the ledger is on disk, the run stands
            yield [], first_line(exc)
            return


def forked(ledgers: list[tuple[Path, Ledger]], settings: Settings, starter: WarmStarter) -> list | None:
    """The outcomes of recording in a process forked from ``starter``; None when it could not start one."""
    from workflows.local.warm_start import StarterGone

    log = ledgers[0][0] / "logs" / "cost.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)  # a resumed run settles again: only this time's lines count
    command = [sys.executable, "-m", __name__, settings.tracking_uri, *(str(folder) for folder, _ in ledgers)]
    try:
        code = starter.start(command, dict(os.environ), None, log).wait()
    except (OSError, StarterGone):
        return None
    found = [json.loads(line[len(RESULT_MARK) :]) for line in log.read_text().splitlines()
             if line.startswith(RESULT_MARK)]  # fmt: skip
    outcomes = [(each["recorded"], each["error"]) for each in found]
    if any(error for _, error in outcomes):
        return outcomes[: next(i for i, (_, error) in enumerate(outcomes) if error) + 1]
    if code != 0 or len(outcomes) < len(ledgers):
        outcomes.append(([], f"the recorder exited {code}; see {log}"))
    return outcomes


def first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else repr(exc)


def main(argv: list[str]) -> None:
    """``python -m workflows.local.cost_tracking TRACKING_URI RUN_DIR...``: record each run's cost.json."""
    from workflows.local.ledger import read_cost

    tracking = SimpleNamespace(tracking_uri=argv[0])  # all that record_cost reads of the settings
    for folder in argv[1:]:
        try:
            recorded, error = record_cost(read_cost(Path(folder)), tracking), ""
        except Exception as exc:
            recorded, error = [], first_line(exc)
        print(RESULT_MARK + json.dumps({"recorded": recorded, "error": error}), flush=True)
        if error:
            return


if __name__ == "__main__":
    main(sys.argv[1:])
