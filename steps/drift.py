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
20,000 rows a side), logs both and the metrics to MLflow, and outputs ``drifted``,
``drift-share`` and the top columns.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pandas as pd
from pydantic import Field

from steps import storage
from steps.contract import CommaList, StepParams, StepResult, log, run_step, step_folder
from steps.drift_columns import column_verdicts
from steps.errors import BadInput
from steps.ingest import fingerprint, read_dataset
from steps.load_current import current_data_uri, window
from steps.schema import compare_columns, input_columns
from steps.threads import apply_thread_policy

PREDICTION = "prediction"
TOP_COLUMNS = 5
# The HTML report is drawn from at most this many rows a side; the verdicts use every row.
REPORT_ROWS = 20_000


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


def _sample(frame: pd.DataFrame, params: DriftParams) -> pd.DataFrame:
    if params.max_rows and len(frame) > params.max_rows:
        return frame.sample(n=params.max_rows, random_state=params.seed)
    return frame


def drift_report(reference: pd.DataFrame, current: pd.DataFrame, params: DriftParams, overrides, rows: int):
    """Evidently's drift report, the page people read, drawn from at most ``rows`` rows of each side
    (seeded): its plots cost far more than the tests, and a sample draws the same distributions."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    def sample(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sample(n=rows, random_state=params.seed) if len(frame) > rows else frame

    preset = DataDriftPreset(drift_share=params.drift_share, per_column_method=overrides or None)
    return Report([preset]).run(current_data=sample(current), reference_data=sample(reference))


def check_columns(name: str, version, params: DriftParams, features, current, reference) -> None:
    """Refuse current data the champion cannot score: data of other columns than its training data
    in the sentence every step uses (``steps.schema``), one dropped column by its name."""
    columns = compare_columns(
        name,
        version,
        features,
        current.columns,
        alias=params.alias,
        ignore=[*reference.columns, "event_time"],
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


def read_sides(params: DriftParams, name: str, champion) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(reference, current, reference URI): the champion's training data, found by its lineage tags,
    and the current window."""
    current, _ = read_dataset(params.current_uri, keep_text={"event_time"})
    current = window(current, params.current_uri, params.since or "", params.until or "")
    reference_uri = champion.tags.get("mlops.data_uri")
    if not reference_uri:
        raise BadInput(
            f"{name} version {champion.version} has no mlops.data_uri lineage tag: its training data is unknown"
        )
    reference, _ = read_dataset(reference_uri, keep_text={"event_time"})
    reference = reference.drop_duplicates(ignore_index=True)
    trained_on = champion.tags.get("mlops.data_fingerprint", "")
    if trained_on and fingerprint(reference) != trained_on:
        log(
            "drift",
            f"note: {reference_uri} changed since version {champion.version} was trained (fingerprint differs)",
        )
    return reference, current, reference_uri


def with_predictions(params: DriftParams, settings, name: str, champion, features, reference, current):
    """Both sides sampled to the checked columns, each with the champion's predicted probability."""
    import mlflow.pyfunc

    from steps.model import probabilities
    from steps.tracking import tracking_errors

    target = settings.target_column
    check_columns(name, champion.version, params, features, current, reference)
    with tracking_errors("loading the champion"):
        model = mlflow.pyfunc.load_model(f"models:/{name}/{champion.version}")
    columns = list(features) + ([target] if target in current.columns and target in reference.columns else [])
    reference, current = _sample(reference, params)[columns].copy(), _sample(current, params)[columns].copy()
    reference[PREDICTION] = probabilities(model, reference)
    current[PREDICTION] = probabilities(model, current)
    log(
        "drift",
        f"reference {len(reference):,} rows (version {champion.version}'s data), current {len(current):,} rows",
    )
    return reference, current


def judge(params: DriftParams, reference: pd.DataFrame, current: pd.DataFrame) -> list[dict]:
    """Each column's drift verdict, with the methods ``--column-methods`` sets; bad methods are bad input."""
    overrides = params.method_overrides()
    unknown = sorted(set(overrides) - set(reference.columns))
    if unknown:
        raise BadInput(
            f"parameter --column-methods: column '{unknown[0]}' is not checked (columns: {', '.join(reference.columns)})"
        )
    try:
        return column_verdicts(reference, current, overrides)
    except (ValueError, KeyError) as exc:  # an unknown method name, or one that does not fit the column
        raise BadInput(f"parameter --column-methods: {str(exc).splitlines()[0][:200]}") from None


def publish(
    params: DriftParams, settings, client, name: str, champion, details: dict, reference, current
) -> str:
    """report.html and columns.json in the step's folder, and an MLflow run; returns the report's URI."""
    from steps.tracking import as_metrics, as_tags, experiment_id, tracking_errors

    folder = step_folder(params.run_dir, "drift")
    report_rows = details["report_rows"]
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp, "report.html")
        drift_report(reference, current, params, params.method_overrides(), report_rows).save_html(str(html))
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


def drift(params: DriftParams, settings) -> DriftResult:
    """Evidently's drift verdict for the current data against the champion's training data."""
    params = params.model_copy(update={"current_uri": current_data_uri(params.current_uri, settings)})
    apply_thread_policy(settings)  # before torch loads: threads this process may really use
    name = params.model_name or settings.model_name
    client, champion, features = find_champion(params, settings, name)
    reference, current, reference_uri = read_sides(params, name, champion)
    # Judged on the sides as read: after sampling no side is over max-rows.
    sampled = bool(params.max_rows and params.max_rows < max(len(reference), len(current)))
    reference, current = with_predictions(params, settings, name, champion, features, reference, current)
    if sampled:
        log(
            "drift",
            f"sampled each side to at most {params.max_rows:,} rows (seed {params.seed}); columns.json says so",
        )
    verdicts = judge(params, reference, current)
    drifted_columns = [v for v in verdicts if v["drifted"]]
    share = len(drifted_columns) / len(verdicts)
    drifted = share >= params.drift_share
    top = [v["column"] for v in sorted(drifted_columns, key=lambda v: -abs(v["score"]))][:TOP_COLUMNS]
    report_rows = min(REPORT_ROWS, max(len(reference), len(current)))
    details = {
        "drifted": drifted, "drift_share": share, "threshold_share": params.drift_share, "columns": verdicts,
        "reference_uri": reference_uri, "current_uri": params.current_uri, "champion_version": str(champion.version),
        "sampled": sampled, "seed": params.seed, "report_rows": report_rows,
    }  # fmt: skip
    if report_rows < max(len(reference), len(current)):
        log("drift", f"report.html is drawn from {report_rows:,} rows a side; the verdicts use every row")
    report_uri = publish(params, settings, client, name, champion, details, reference, current)
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
