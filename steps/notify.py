"""Notify: the exit handler's report of a run, kept in the run folder and sent to a webhook.

It reads the workflow's status and failures (Argo's ``{{workflow.status}}`` and
``{{workflow.failures}}``), adds for each failed step its first error line and the last lines of
its log where the run folder has them, and what the run produced (MLflow run link, decision,
registered version). The summary is written to ``notify/summary.json``, then POSTed as a
Slack-compatible message to ``MLOPS_NOTIFY_URL`` when set. A webhook that is down is retried a
few times and then reported in the log: it never fails the workflow.
"""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field

from steps import storage
from steps.contract import StepParams, StepResult, earlier_result, log, run_step, step_folder
from steps.errors import StepError

LOG_TAIL_LINES = 20
ERROR_LINE = re.compile(r"^[\w.-]+: error: |^\w*(Error|Exception)\b|^error:", re.IGNORECASE)
WEBHOOK_ATTEMPTS = 3


class NotifyParams(StepParams):
    """Summarise the run for the exit handler and send it to the notify webhook."""

    workflow_name: str | None = Field(None, description="default: the run folder's name")
    workflow_status: str = Field("Unknown", description="Argo's {{workflow.status}}")
    failures: str = Field("", description="Argo's {{workflow.failures}} (JSON list)")


class NotifyResult(StepResult):
    status: str
    failed_steps: list[str]
    delivered: bool


def parse_failures(text: str) -> list[dict[str, Any]]:
    """Argo's failures list; anything unparseable is kept as one message rather than lost."""
    if not text.strip() or text.strip() == "null":
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return [{"displayName": "unknown", "message": text.strip()[:500]}]
    return value if isinstance(value, list) else [value]


def log_excerpt(run_dir: str, step: str) -> tuple[str, list[str]]:
    """The first error line and the last lines of a step's latest log, when the run folder has it."""
    if storage.is_s3(run_dir):
        return "", []
    logs = sorted(Path(run_dir, "logs").glob(f"{step}.*log"), key=lambda p: p.stat().st_mtime)
    if not logs:
        return "", []
    lines = logs[-1].read_text(errors="replace").splitlines()
    first_error = next((line for line in lines if ERROR_LINE.search(line.strip())), "")
    return first_error.strip(), lines[-LOG_TAIL_LINES:]


def optional_result(run_dir: str, step: str) -> dict[str, Any]:
    try:
        return earlier_result(run_dir, step)
    except StepError:
        return {}


def build_summary(params: NotifyParams, settings) -> dict[str, Any]:
    failures = []
    for failure in parse_failures(params.failures):
        step = str(failure.get("displayName") or failure.get("templateName") or "unknown")
        first_error, tail = log_excerpt(params.run_dir, step)
        failures.append(
            {
                "step": step,
                "template": failure.get("templateName", ""),
                "phase": failure.get("phase", ""),
                "message": failure.get("message", ""),
                "first_error": first_error or failure.get("message", ""),
                "log_tail": tail,
            }
        )
    trained, evaluated, registered, promoted, deployed = (
        optional_result(params.run_dir, s) for s in ("train", "evaluate", "register", "promote", "deploy")
    )
    model: dict[str, Any] = {}
    if trained:
        model["mlflow_run_id"] = trained.get("run_id")
        model["model_uri"] = trained.get("model_uri")
        if settings.mlflow_ui_url:
            model["mlflow_run_url"] = f"{settings.mlflow_ui_url.rstrip('/')}/#/runs/{trained.get('run_id')}"
    if evaluated:
        model |= {
            "decision": evaluated.get("decision"),
            "reason": evaluated.get("reason"),
            "auc": evaluated.get("auc"),
        }
    if registered:
        model["version"] = registered.get("version")
    # When promote was skipped, the champion is the one evaluate compared against.
    champion = promoted.get("champion_version") if promoted else evaluated.get("champion_version")
    if registered or champion:
        model["champion_version"] = champion
    if deployed:
        model["deployed_commit"] = deployed.get("commit")
        model["deploy_changed"] = deployed.get("changed")
    drift = optional_result(params.run_dir, "drift")
    return {
        "drift": {k: drift.get(k) for k in ("drifted", "drift_share", "drifted_columns", "report_uri")}
        if drift
        else {},
        "workflow": params.workflow_name or params.run_dir.rstrip("/").rsplit("/", 1)[-1],
        "status": params.workflow_status,
        "run_dir": params.run_dir,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "failures": failures,
        "model": model,
    }


def slack_message(summary: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook body; other chat tools accept the same ``text`` field."""
    icon = ":white_check_mark:" if summary["status"] == "Succeeded" else ":x:"
    lines = [f"{icon} *{summary['workflow']}* {summary['status']}"]
    for failure in summary["failures"]:
        lines.append(f"- `{failure['step']}` failed: {failure['first_error'] or failure['message']}")
    model = summary["model"]
    if model.get("decision"):
        lines.append(f"- model: {model['decision']} ({model.get('reason', '')})")
    if model.get("version"):
        lines.append(
            f"- registered version {model['version']}, champion {model.get('champion_version') or 'none'}"
        )
    if model.get("mlflow_run_url"):
        lines.append(f"- <{model['mlflow_run_url']}|MLflow run>")
    text = "\n".join(lines)
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def deliver(url: str, body: dict[str, Any]) -> bool:
    """POST with a timeout and a few retries; False (never an exception) when it cannot be delivered."""
    import requests

    for attempt in range(1, WEBHOOK_ATTEMPTS + 1):
        try:
            response = requests.post(url, json=body, timeout=5)
            if response.status_code < 300:
                return True
            # Never log the URL: a webhook URL is a credential.
            log("notify", f"webhook answered {response.status_code} (attempt {attempt})")
            if response.status_code < 500 and response.status_code != 429:
                return False
        except requests.RequestException as exc:
            log("notify", f"webhook unreachable: {type(exc).__name__} (attempt {attempt})")
        if attempt < WEBHOOK_ATTEMPTS:
            time.sleep(attempt)
    return False


def notify(params: NotifyParams, settings) -> NotifyResult:
    """Write the run summary and send it; succeeds even when the webhook is down."""
    summary = build_summary(params, settings)
    storage.write_json(storage.join(step_folder(params.run_dir, "notify"), "summary.json"), summary)
    delivered = bool(settings.notify_url) and deliver(settings.notify_url, slack_message(summary))
    failed = [f["step"] for f in summary["failures"]]
    log(
        "notify",
        f"{summary['workflow']} {summary['status']}" + (f"; failed: {', '.join(failed)}" if failed else ""),
    )
    if settings.notify_url and not delivered:
        log("notify", "the summary could not be delivered to the webhook; it is kept in notify/summary.json")
    return NotifyResult(status=summary["status"], failed_steps=failed, delivered=delivered)


def main(argv: list[str] | None = None) -> None:
    run_step("notify", NotifyParams, notify, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
