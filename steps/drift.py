"""Drift: has the data the champion now sees moved away from what it was trained on?

Reference: the champion's training data, found through the lineage tags ``register`` set
(data URI, fingerprint: a changed dataset is reported). Current: the data under
``--current-uri``, optionally a window over ``event_time``; current data of another shape than the
champion's inputs is refused (exit 65) in the sentence ``evaluate`` uses. Each column gets Evidently's
data drift test, chosen as its preset chooses (normed Wasserstein / Jensen-Shannon on large
references, K-S / chi-square on small ones), on every row; the data drifted when the drifted
share reaches ``--drift-share``. The label (target drift) and the champion's predictions
(prediction drift) are compared too when the current data has them. Writes
``drift/columns.json`` and Evidently's ``drift/report.html`` (drawn from a sample of at most
20,000 rows a side, in a process forked beside the tests: ``steps.drift_report``), logs both
and the metrics to MLflow, and outputs ``drifted``, ``drift-share`` and the top columns. What the
check needs of the reference (sorted columns, value counts, the champion's predictions on it) is
kept for the next check of the same champion and data (``steps.drift_reference``).
"""

from __future__ import annotations

import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pandas as pd
from pydantic import Field

from steps import drift_reference, storage
from steps.contract import CommaList, StepParams, StepResult, log, run_step, step_folder
from steps.drift_columns import column_kinds, column_verdicts
from steps.drift_reference import Profile
from steps.drift_report import ReportProcess
from steps.drift_sides import (
    PREDICTION,
    REPORT_ROWS,
    kept_profile,
    lineage_uri,
    load_champion,
    made_profile,
    note_changes,
    read_current,
    sample,
)
from steps.errors import BadInput
from steps.load_current import current_data_uri
from steps.schema import compare_columns, input_columns
from steps.threads import apply_thread_policy

TOP_COLUMNS = 5


class DriftParams(StepParams):
    """Compare current data with the champion's training data (Evidently's data drift preset)."""

    current_uri: str | None = Field(
        None, description="the new data: a folder, file or s3:// prefix; default MLOPS_DRIFT_CURRENT_URI"
    )
    model_name: str | None = Field(None, description="default MLOPS_MODEL_NAME")
    alias: str = Field("champion", description="whose training data is the reference")
    drift_share: float = Field(
        0.5, gt=0, le=1, description="share of drifted columns that means the data drifted"
    )
    since: str | None = Field(None, description="only current rows with event_time >= this (ISO)")
    until: str | None = Field(None, description="only current rows with event_time < this (ISO)")
    max_rows: int = Field(0, ge=0, description="sample each side to at most this many rows (0: all), seeded")
    seed: int = Field(42, ge=0)
    experiment: str = Field("drift", description="MLflow experiment for drift runs")
    column_methods: CommaList[str] = Field(
        default_factory=list,
        description="per-column test overrides, e.g. amount=psi,hour=ks (Evidently names)",
    )

    def method_overrides(self) -> dict[str, str]:
        overrides = {}
        for pair in self.column_methods:
            column, sep, method = pair.partition("=")
            if not sep or not column or not method:
                raise BadInput(f"parameter --column-methods: use column=method pairs (got {pair!r})")
            overrides[column.strip()] = method.strip()
        return overrides


class DriftResult(StepResult):
    drifted: bool
    drift_share: float
    drifted_columns: list[str]
    columns_checked: int
    champion_version: str
    report_uri: str


def check_columns(name: str, version, params: DriftParams, features, current, reference_columns) -> None:
    """Refuse current data the champion cannot score: data of other columns than its training data
    in the sentence every step uses (``steps.schema``), one dropped column by its name."""
    columns = compare_columns(
        name,
        version,
        features,
        current.columns,
        alias=params.alias,
        ignore=[*reference_columns, "event_time"],
    )
    if columns.other_columns:
        raise BadInput(f"{columns.message()} (current data at {params.current_uri})")
    if columns.missing:
        raise BadInput(
            f"column '{columns.missing[0]}': missing from the current data at {params.current_uri}"
        )


def find_champion(params: DriftParams, settings, name: str):
    """(MLflow client, the champion's version, its input columns): what the data is checked against."""
    from mlflow.exceptions import MlflowException

    from steps.tracking import connect, tracking_errors

    with tracking_errors("finding the champion"):
        client = connect(settings)
        try:
            champion = client.get_model_version_by_alias(name, params.alias)
        except MlflowException:
            raise BadInput(
                f"model {name!r} has no {params.alias}: train and promote a model before checking drift"
            ) from None
        features = input_columns(f"models:/{name}/{champion.version}")
    if features is None:
        raise BadInput(f"{name} version {champion.version} has no signature: its input columns are unknown")
    return client, champion, features


def _verdicts(profile: Profile, current: pd.DataFrame, overrides: dict[str, str]) -> list[dict]:
    try:
        return column_verdicts(profile, current, overrides)
    except (ValueError, KeyError) as exc:  # an unknown method name, or one that does not fit the column
        raise BadInput(f"parameter --column-methods: {str(exc).splitlines()[0][:200]}") from None


def judge(params: DriftParams, profile: Profile, current: pd.DataFrame, predicting: Future) -> list[dict]:
    """Each column's drift verdict, with the methods ``--column-methods`` sets; bad methods are bad input.
    The current's predictions (``predicting``) are tested last: they are made while the others are."""
    overrides = params.method_overrides()
    checked = [*current.columns, PREDICTION]
    unknown = sorted(set(overrides) - set(checked))
    if unknown:
        raise BadInput(
            f"parameter --column-methods: column '{unknown[0]}' is not checked (columns: {', '.join(checked)})"
        )
    verdicts = _verdicts(profile, current, overrides)
    predicted = current.assign(**{PREDICTION: predicting.result()})[[PREDICTION]]
    return verdicts + _verdicts(profile, predicted, overrides)


def publish(params: DriftParams, settings, client, name: str, champion, details: dict, html: Path) -> str:
    """report.html and columns.json in the step's folder, and an MLflow run; returns the report's URI."""
    from steps.tracking import as_metrics, as_tags, experiment_id, tracking_errors

    folder = step_folder(params.run_dir, "drift")
    storage.write_bytes(storage.join(folder, "report.html"), html.read_bytes())
    storage.write_json(storage.join(folder, "columns.json"), details)
    drifted_columns = [v for v in details["columns"] if v["drifted"]]
    with tracking_errors("logging the drift run"):
        run = client.create_run(
            experiment_id(client, params.experiment, settings),
            tags={
                "mlops.step": "drift",
                "mlops.model": name,
                "mlops.champion_version": str(champion.version),
            },
        )
        client.log_batch(
            run.info.run_id,
            metrics=as_metrics(
                {"drift_share": details["drift_share"], "drifted_columns": len(drifted_columns)}, 0
            ),
            tags=as_tags(
                {
                    "mlops.drifted": str(details["drifted"]).lower(),
                    "mlops.current_uri": params.current_uri,
                }
            ),
        )
        client.log_artifact(run.info.run_id, str(html), "drift")
        client.log_dict(run.info.run_id, details, "drift/columns.json")
        client.set_terminated(run.info.run_id)
    return storage.join(folder, "report.html")


def reference_side(params: DriftParams, settings, name: str, champion, features, model, current, kept_read):
    """(the reference's profile, the current's checked columns): the kept profile when it answers
    every checked column's test, else one made from the data read now (and kept, unless the check
    is sampled or sets its own tests)."""
    target = settings.target_column
    checked = [*features, *([target] if target in current.columns else [])]
    own = bool(params.max_rows or params.column_methods)  # a sample, or tests that need every value
    kept, key = kept_read.result() if not own else (None, "")
    reference_uri = lineage_uri(name, champion)
    profile = kept or made_profile(
        name, champion, reference_uri, checked, model, params.max_rows, params.seed
    )
    check_columns(name, champion.version, params, features, current, profile.columns)
    current = current[[c for c in checked if c in profile.sizes]]
    kinds = column_kinds(current) | {PREDICTION: "num"}
    if kept is not None and not all(kept.answers(c, kind) for c, kind in kinds.items()):
        profile = made_profile(name, champion, reference_uri, checked, model, params.max_rows, params.seed)
    if profile is kept:
        log("drift", f"reference profile of version {champion.version} kept from an earlier check")
    elif key:
        drift_reference.store(settings.storage_root, name, key, profile)
    return profile, current


def drift(params: DriftParams, settings) -> DriftResult:
    """Evidently's drift verdict for the current data against the champion's training data."""
    # Forked first, before any thread or PyTorch: Evidently's import in the report's process overlaps all that follows.
    with ReportProcess() as report, ThreadPoolExecutor(max_workers=2) as pool:
        params = params.model_copy(update={"current_uri": current_data_uri(params.current_uri, settings)})
        # parquet reads and file hashes release the GIL for the imports
        current_read = pool.submit(read_current, params.current_uri, params.since or "", params.until or "")
        from steps.model import probabilities  # MLflow: seconds in a new interpreter, nothing in a warm one

        apply_thread_policy(settings)  # before torch loads: threads this process may really use
        name = params.model_name or settings.model_name
        client, champion, features = find_champion(params, settings, name)
        reference_uri = lineage_uri(name, champion)
        kept_read = pool.submit(
            kept_profile, settings.storage_root, name, champion, reference_uri, params.seed
        )
        model = load_champion(name, champion)
        current = current_read.result()
        profile, current = reference_side(
            params, settings, name, champion, features, model, current, kept_read
        )
        note_changes(champion, reference_uri, profile)
        # Judged on the sides as read: after sampling no side is over max-rows.
        sampled = bool(params.max_rows and params.max_rows < max(profile.read, len(current)))
        current = sample(current, params.max_rows, params.seed)
        log(
            "drift",
            f"reference {profile.rows:,} rows (version {champion.version}'s data), current {len(current):,} rows",
        )
        if sampled:
            log(
                "drift",
                f"sampled each side to at most {params.max_rows:,} rows (seed {params.seed}); columns.json says so",
            )
        report_rows = min(REPORT_ROWS, max(profile.rows, len(current)))
        current = current.copy()
        current_shown = sample(current, report_rows, params.seed)
        # The report's sample is predicted first, so that it is drawn while every row is predicted and tested.
        shown_predicted = probabilities(model, current_shown)
        if len(current_shown) == len(current):  # the report shows every row: predicted once, for both
            predicting: Future = Future()
            predicting.set_result(shown_predicted)
        else:
            predicting = pool.submit(probabilities, model, current)
        current_shown = current_shown.assign(**{PREDICTION: shown_predicted})
        report.request(
            profile.shown[[*current.columns, PREDICTION]],
            current_shown,
            params.drift_share,
            params.method_overrides(),
        )
        verdicts = judge(params, profile, current, predicting)
        drifted_columns = [v for v in verdicts if v["drifted"]]
        share = len(drifted_columns) / len(verdicts)
        drifted = share >= params.drift_share
        top = [v["column"] for v in sorted(drifted_columns, key=lambda v: -abs(v["score"]))][:TOP_COLUMNS]
        details = {
            "drifted": drifted, "drift_share": share, "threshold_share": params.drift_share, "columns": verdicts,
            "reference_uri": reference_uri, "current_uri": params.current_uri, "champion_version": str(champion.version),
            "sampled": sampled, "seed": params.seed, "report_rows": report_rows,
        }  # fmt: skip
        if report_rows < max(profile.rows, len(current)):
            log("drift", f"report.html is drawn from {report_rows:,} rows a side; the verdicts use every row")
        report_uri = publish(params, settings, client, name, champion, details, report.wait())
    log(
        "drift",
        f"{'DRIFT' if drifted else 'no drift'}: {len(drifted_columns)}/{len(verdicts)} columns drifted"
        + (f" ({', '.join(top)})" if top else ""),
    )
    return DriftResult(
        drifted=drifted,
        drift_share=round(share, 6),
        drifted_columns=top,
        columns_checked=len(verdicts),
        champion_version=str(champion.version),
        report_uri=report_uri,
    )


def main(argv: list[str] | None = None) -> None:
    run_step("drift", DriftParams, drift, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
