"""The champion's columns against the data's: one comparison, one sentence (steps/schema.py), and
evaluate's decision with it."""

from __future__ import annotations

import pandas as pd
import pytest

from steps.errors import BadInput
from steps.evaluate import EvaluateParams, decide
from steps.schema import ColumnComparison, compare_columns
from workflows.local.serve import SERVE_REMEDY, model_columns, to_frame

FRAUD = [
    "amount",
    "hour",
    "customer_age",
    "distance_from_home_km",
    "txn_count_30d",
    "avg_amount_30d",
    "device",
]


def test_comparison_names_missing_and_extra_and_ignores_the_label():
    found = compare_columns("fraud", 3, FRAUD, ["mean_radius", "amount", "target"], ignore=("target",))
    assert found.missing == [c for c in FRAUD if c != "amount"] and found.extra == ["mean_radius"]
    assert not found.compatible and found.other_columns
    assert found.sentence() == (
        "champion v3 of 'fraud' was trained on other columns: missing 'hour', 'customer_age',"
        " 'distance_from_home_km', 'txn_count_30d', 'avg_amount_30d', 'device'; extra 'mean_radius'"
    )
    assert found.message() == (
        found.sentence() + "; use another model-name, or retrain with -p replace-incompatible-champion=true"
        " to replace it"
    )


def test_extra_can_be_what_another_model_was_trained_on():
    """evaluate: missing from the test split, extra among the new model's inputs (not its identifiers)."""
    test_split = ["transaction_id", "amt", *FRAUD[1:], "target"]
    found = compare_columns("fraud", "2", FRAUD, test_split, offered=["amt", *FRAUD[1:]])
    assert (found.missing, found.extra) == (["amount"], ["amt"])


def test_long_lists_are_cut_to_one_line():
    found = compare_columns("m", "1", FRAUD, [f"x{i}" for i in range(30)], alias="challenger")
    assert found.sentence() == (
        "challenger v1 of 'm' was trained on other columns: missing 'amount', 'hour', 'customer_age',"
        " 'distance_from_home_km', 'txn_count_30d', 'avg_amount_30d' (+1 more);"
        " extra 'x0', 'x1', 'x2', 'x3', 'x4', 'x5' (+24 more)"
    )


def test_more_columns_than_the_model_needs_are_compatible():
    found = compare_columns("fraud", "3", FRAUD, [*FRAUD, "merchant_name"])
    assert found.compatible and not found.other_columns and found.extra == ["merchant_name"]


def test_a_dropped_column_alone_is_not_other_columns():
    found = compare_columns("fraud", "3", FRAUD, FRAUD[1:])
    assert not found.compatible and not found.other_columns
    assert found.sentence() == "champion v3 of 'fraud' was trained on other columns: missing 'amount'"


CHANGE = compare_columns("fraud", "1", FRAUD, ["mean_radius", "target"], ignore=("target",))


def test_an_incompatible_champion_is_rejected_with_the_sentence_even_when_the_new_model_is_good():
    decision, reason = decide(0.99, None, EvaluateParams(min_auc=0.7), False, CHANGE)
    assert (decision, reason) == ("reject", CHANGE.message())


def test_replace_incompatible_champion_promotes_on_min_auc_alone():
    params = EvaluateParams(min_auc=0.7, replace_incompatible_champion=True)
    decision, reason = decide(0.8, None, params, False, CHANGE)
    assert decision == "promote"
    assert reason == (
        f"test AUC 0.8000 >= min-auc 0.7000; {CHANGE.sentence()}; replacing it (replace-incompatible-champion=true)"
    )


def test_replace_incompatible_champion_keeps_the_quality_gate():
    params = EvaluateParams(min_auc=0.9, replace_incompatible_champion=True)
    assert decide(0.8, None, params, False, CHANGE) == ("reject", "test AUC 0.8000 is below min-auc 0.9000")


def test_the_comparison_travels_between_steps_as_json():
    assert ColumnComparison.model_validate_json(CHANGE.model_dump_json()) == CHANGE


def test_serve_states_rows_of_another_dataset_and_names_a_dropped_column():
    other = to_frame({"dataframe_split": {"columns": ["mean_radius"], "data": [[1.0]]}})
    found = compare_columns("fraud", "1", FRAUD, other.columns)
    with pytest.raises(ValueError) as caught:
        model_columns(other, FRAUD, found)
    assert (caught.value.status, str(caught.value)) == (422, found.message(SERVE_REMEDY))

    dropped = to_frame({"dataframe_records": [dict.fromkeys(FRAUD[1:], 1.0)]})
    with pytest.raises(ValueError) as caught:
        model_columns(dropped, FRAUD, compare_columns("fraud", "1", FRAUD, dropped.columns))
    assert str(caught.value).startswith("missing column 'amount' (the model needs: amount, hour,")

    rows = to_frame({"dataframe_records": [dict.fromkeys([*FRAUD, "target"], 1.0)]})
    assert (
        list(model_columns(rows, FRAUD, compare_columns("fraud", "1", FRAUD, rows.columns)).columns) == FRAUD
    )


def test_probabilities_names_missing_columns_instead_of_a_key_error(tmp_path):
    import mlflow.pyfunc
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    from steps.model import probabilities

    class Constant(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input: pd.DataFrame, params=None) -> list[float]:
            return [0.5] * len(model_input)

    signature = ModelSignature(inputs=Schema([ColSpec("double", "amount"), ColSpec("double", "hour")]))
    example = pd.DataFrame({"amount": [1.0], "hour": [2.0]})
    mlflow.pyfunc.save_model(
        str(tmp_path / "model"), python_model=Constant(), signature=signature, input_example=example
    )
    model = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    assert list(probabilities(model, example)) == [0.5]
    with pytest.raises(BadInput) as caught:
        probabilities(model, pd.DataFrame({"mean_radius": [1.0]}))
    assert str(caught.value) == "the model was trained on other columns: missing 'amount', 'hour'"
