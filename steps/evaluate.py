"""Evaluate: score the new model and the current champion on the same test split, and decide.

Both models are loaded as the pyfunc they are served as and score the raw test rows, so the
comparison covers preprocessing too. Metrics: ROC AUC, PR AUC, log loss, and F1 at the threshold
that maximises F1 on the validation split. The decision is ``promote`` when the new AUC reaches
``--min-auc`` and beats the champion's by more than ``--min-delta`` (or there is no champion), else
``reject``, with the reason: a tie is not promoted, and neither is a model with the champion's
very weights (the same data and seed again), whatever ``--min-delta`` says. ROC and PR curves and the confusion matrix go to the MLflow run.

A champion trained on other columns (another dataset under the same model name) cannot score the
test split: its signature is compared with the split first, and the decision is ``reject``, naming
the missing and extra columns, unless ``--replace-incompatible-champion`` lets the new model
replace it on ``--min-auc`` alone (the comparison is then in the result, for ``register`` to record).
"""

from __future__ import annotations

import sys
from typing import Any, Literal

import numpy as np
from pydantic import Field

from steps import storage
from steps.contract import StepParams, StepResult, earlier_result, log, run_step, step_folder
from steps.errors import BadInput
from steps.schema import ColumnComparison
from steps.threads import apply_thread_policy

CHAMPION = "champion"


class EvaluateParams(StepParams):
    """Compare the trained model with the champion on the test split and decide promote or reject."""

    run_id: str | None = Field(None, description="MLflow run of the new model; default from train")
    model_uri: str | None = Field(None, description="the new model; default from train")
    model_name: str | None = Field(None, description="registered model; default MLOPS_MODEL_NAME")
    min_auc: float = Field(0.7, ge=0, le=1, description="lowest test ROC AUC a model may be promoted with")
    min_delta: float = Field(
        0.0, ge=-1, le=1, description="the new AUC must beat the champion's by more than this to promote"
    )
    replace_incompatible_champion: bool = Field(
        False,
        description="a champion trained on other columns is replaced when the new model reaches min-auc",
    )


class EvaluateResult(StepResult):
    decision: Literal["promote", "reject"]
    reason: str
    auc: float
    champion_version: str | None
    champion_auc: float | None
    metrics: dict[str, float]
    # Set when the champion was trained on other columns than this test split's.
    schema_change: ColumnComparison | None = None


def score(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, f1_score, log_loss, roc_auc_score

    clipped = np.clip(probabilities, 1e-7, 1 - 1e-7)
    return {
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "pr_auc": float(average_precision_score(labels, probabilities)),
        "f1": float(f1_score(labels, probabilities >= threshold, zero_division=0)),
        "log_loss": float(log_loss(labels, clipped, labels=[0, 1])),
    }


def best_f1_threshold(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The probability cut that maximises F1 on held-out data (0.5 is far off for rare fraud)."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(labels, probabilities)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))]) if len(thresholds) else 0.5


def decide(
    auc: float,
    champion_auc: float | None,
    params: EvaluateParams,
    same_run: bool,
    schema_change: ColumnComparison | None = None,
    same_weights: str | None = None,
    reused_from: str | None = None,
) -> tuple[str, str]:
    """Promote or reject, and why. ``same_weights``: the weights digest, when the new model's equals
    the champion's (it would redeploy what already serves). ``reused_from``: the run folder the
    candidate was trained in, when it is the champion's own run reused by the step cache."""
    if schema_change is not None and not params.replace_incompatible_champion:
        return "reject", schema_change.message()
    if auc < params.min_auc:
        return "reject", f"test AUC {auc:.4f} is below min-auc {params.min_auc:.4f}"
    if schema_change is not None:
        return (
            "promote",
            f"test AUC {auc:.4f} >= min-auc {params.min_auc:.4f}; {schema_change.sentence()};"
            " replacing it (replace-incompatible-champion=true)",
        )
    if champion_auc is None:
        return "promote", f"test AUC {auc:.4f} >= min-auc {params.min_auc:.4f} and there is no champion yet"
    if same_run and reused_from:
        return "reject", f"the candidate is the champion itself (trained in {reused_from}): nothing new"
    if same_run:  # this run's own model, promoted by an earlier attempt: promote stays a no-op
        return "promote", "this model is already the champion"
    compared = f"champion {champion_auc:.4f} + min-delta {params.min_delta:.4f}"
    if not auc > champion_auc + params.min_delta:  # strictly: a tie is not an improvement
        return "reject", f"test AUC {auc:.4f} does not beat {compared}"
    if same_weights:
        return "reject", f"the champion has the same weights (digest {same_weights}): nothing new to deploy"
    return "promote", f"test AUC {auc:.4f} > {compared}"


def find_champion(client, name: str) -> Any | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


def run_weights_digest(client, run_id: str | None) -> str | None:
    """The weights digest ``train`` tagged on a run (None: no run, no longer there, or no digest)."""
    from mlflow.exceptions import MlflowException

    if not run_id:
        return None
    try:
        return client.get_run(run_id).data.tags.get("mlops.weights_digest")
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def champion_columns(name: str, champion, test, model_uri: str) -> ColumnComparison:
    """The champion's signature against the test split (missing: it cannot score the split without
    them) and the new model's (extra: what the new model was trained on and the champion was not)."""
    from steps.schema import compare_columns, input_columns

    expected = input_columns(f"models:/{name}/{champion.version}")
    return compare_columns(
        name,
        champion.version,
        list(test.columns) if expected is None else expected,
        test.columns,
        offered=input_columns(model_uri) or [],
    )


def plots(labels: np.ndarray, curves: dict[str, np.ndarray], threshold: float) -> dict[str, Any]:
    """ROC and PR curves of every model, and the new model's confusion matrix."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

    roc, roc_ax = plt.subplots(figsize=(5, 5))
    pr, pr_ax = plt.subplots(figsize=(5, 5))
    for name, probabilities in curves.items():
        RocCurveDisplay.from_predictions(labels, probabilities, name=name, ax=roc_ax)
        PrecisionRecallDisplay.from_predictions(labels, probabilities, name=name, ax=pr_ax)
    matrix, matrix_ax = plt.subplots(figsize=(4, 4))
    ConfusionMatrixDisplay.from_predictions(labels, curves["new"] >= threshold, ax=matrix_ax, colorbar=False)
    matrix_ax.set_title(f"threshold {threshold:.3f}")
    return {
        "evaluation/roc_curve.png": roc,
        "evaluation/pr_curve.png": pr,
        "evaluation/confusion_matrix.png": matrix,
    }


def evaluate(params: EvaluateParams, settings) -> EvaluateResult:
    """Score new model and champion on the test split; decide promote or reject, with the reason."""
    apply_thread_policy(settings)  # before torch loads: threads this process may really use
    import mlflow.pyfunc

    from steps.model import probabilities
    from steps.tracking import as_metrics, as_tags, connect, tracking_errors

    trained = earlier_result(params.run_dir, "train") if not (params.run_id and params.model_uri) else {}
    run_id = params.run_id or trained["run_id"]
    model_uri = params.model_uri or trained["model_uri"]
    name = params.model_name or settings.model_name
    source = step_folder(params.run_dir, "ingest")
    test = storage.read_table(storage.join(source, "test.parquet"))
    validation = storage.read_table(storage.join(source, "validation.parquet"))
    target = storage.read_json(storage.join(source, "metadata.json"))["target_column"]
    labels = test[target].to_numpy().astype(int)

    with tracking_errors("loading the models"):
        client = connect(settings)
        champion = find_champion(client, name)
        schema_change = None
        if champion is not None:
            columns = champion_columns(name, champion, test, model_uri)
            if not columns.compatible:
                schema_change = columns
                log("evaluate", f"not scoring the champion: {columns.sentence()}")
        model = mlflow.pyfunc.load_model(model_uri)
        threshold = best_f1_threshold(
            validation[target].to_numpy().astype(int), probabilities(model, validation)
        )
        curves = {"new": probabilities(model, test)}
        champion_metrics = None
        if champion is not None and schema_change is None:
            champion_model = mlflow.pyfunc.load_model(f"models:/{name}/{champion.version}")
            curves["champion"] = probabilities(champion_model, test)
            champion_metrics = score(labels, curves["champion"], threshold)
    if len(np.unique(labels)) < 2:
        raise BadInput(f"column '{target}': the test split has one class; AUC is undefined")
    metrics = score(labels, curves["new"], threshold) | {"threshold": threshold}
    same_run = champion is not None and champion.run_id == run_id
    champion_auc = champion_metrics["roc_auc"] if champion_metrics else None
    same_weights = None
    if champion is not None and not same_run:
        with tracking_errors("reading the weights digests"):
            digest = run_weights_digest(client, run_id)
            if digest and digest == run_weights_digest(client, champion.run_id):
                same_weights = digest
    reused_from = None
    if same_run:
        with tracking_errors("reading the champion's run"):
            trained_in = client.get_run(run_id).data.tags.get("mlops.run_dir")
        reused_from = trained_in if trained_in and trained_in != params.run_dir else None
    decision, reason = decide(
        metrics["roc_auc"], champion_auc, params, same_run, schema_change, same_weights, reused_from
    )

    logged = {f"test_{k}": v for k, v in metrics.items()}
    if champion_metrics:
        logged |= {f"champion_test_{k}": v for k, v in champion_metrics.items()}
    with tracking_errors("logging the evaluation"):
        client.log_batch(
            run_id,
            metrics=as_metrics(logged, 0),
            tags=as_tags({"mlops.decision": decision, "mlops.decision_reason": reason}),
        )
        for path, figure in plots(labels, curves, threshold).items():
            client.log_figure(run_id, figure, path)
    storage.write_json(storage.join(step_folder(params.run_dir, "evaluate"), "metrics.json"), logged)
    log("evaluate", f"{decision}: {reason}")
    return EvaluateResult(
        decision=decision,
        reason=reason,
        auc=round(metrics["roc_auc"], 6),
        champion_version=str(champion.version) if champion is not None else None,
        champion_auc=round(champion_auc, 6) if champion_auc is not None else None,
        metrics={k: round(v, 6) for k, v in logged.items()},
        schema_change=schema_change,
    )


def main(argv: list[str] | None = None) -> None:
    run_step("evaluate", EvaluateParams, evaluate, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
