"""ingest, validate_data and features as functions: the rules each one enforces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from steps import storage
from steps.errors import BadInput
from steps.evaluate import EvaluateParams, decide
from steps.features import FeaturesParams, features, load_arrays
from steps.ingest import IngestParams, fingerprint, ingest
from steps.validate_data import ValidateDataParams, validate_data
from workflows.local.sample_data import generate
from workflows.settings import Settings

SETTINGS = Settings()


def ingested(tmp_path, frame: pd.DataFrame, **params) -> str:
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(data / "part-0.parquet", index=False)
    run_dir = str(tmp_path / "run")
    ingest(IngestParams(run_dir=run_dir, data_uri=str(data), **params), SETTINGS)
    return run_dir


def test_ingest_drops_duplicates_and_splits_by_time(tmp_path):
    frame = generate(3000, seed=2)
    run_dir = tmp_path / "run"
    data = tmp_path / "data"
    data.mkdir()
    frame.to_parquet(data / "part-0.parquet", index=False)
    result = ingest(IngestParams(run_dir=str(run_dir), data_uri=str(data)), SETTINGS)
    assert result.duplicates_dropped == frame.duplicated().sum() > 0
    assert result.split == "time"
    train, test = (pd.read_parquet(run_dir / "ingest" / f"{n}.parquet") for n in ("train", "test"))
    assert train["event_time"].max() <= test["event_time"].min()
    assert (
        len(train) + len(test) + len(pd.read_parquet(run_dir / "ingest" / "validation.parquet"))
        == result.rows_out
    )


def test_ingest_without_time_column_splits_at_random_by_seed(tmp_path):
    frame = generate(2000, seed=2).drop(columns=["event_time"]).drop_duplicates()
    first = pd.read_parquet(ingested(tmp_path / "a", frame, seed=1) + "/ingest/test.parquet")
    again = pd.read_parquet(ingested(tmp_path / "b", frame, seed=1) + "/ingest/test.parquet")
    other = pd.read_parquet(ingested(tmp_path / "c", frame, seed=2) + "/ingest/test.parquet")
    assert first.equals(again) and not first.equals(other)


def test_fingerprint_ignores_row_order_but_not_content():
    frame = generate(500, seed=2)
    assert fingerprint(frame) == fingerprint(frame.sample(frac=1, random_state=0))
    changed = frame.copy()
    changed.loc[3, "amount"] += 0.01
    assert fingerprint(frame) != fingerprint(changed)


def test_partitions_must_agree_on_columns_and_kinds(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    frame = generate(600, seed=2)
    frame.iloc[:300].to_parquet(data / "part-0.parquet", index=False)
    frame.iloc[300:].rename(columns={"amount": "amt"}).to_parquet(data / "part-1.parquet", index=False)
    with pytest.raises(
        BadInput, match=r"part-1.parquet: columns differ from .*part-0.parquet: missing 'amount'"
    ):
        ingest(IngestParams(run_dir=str(tmp_path / "r"), data_uri=str(data)), SETTINGS)
    later = frame.iloc[300:].copy()
    later["hour"] = later["hour"].map(lambda h: f"h{h}")
    later.to_parquet(data / "part-1.parquet", index=False)
    with pytest.raises(BadInput, match="column 'hour' holds text where .* holds number"):
        ingest(IngestParams(run_dir=str(tmp_path / "r"), data_uri=str(data)), SETTINGS)


def test_text_numbers_are_converted(tmp_path):
    frame = generate(600, seed=2)
    frame["amount"] = frame["amount"].astype(str)
    run_dir = ingested(tmp_path, frame)
    assert pd.api.types.is_float_dtype(pd.read_parquet(run_dir + "/ingest/train.parquet")["amount"])


def rules_failed(tmp_path, frame: pd.DataFrame, **params) -> str:
    run_dir = ingested(tmp_path, frame)
    with pytest.raises(BadInput) as caught:
        validate_data(ValidateDataParams(run_dir=run_dir, **params), SETTINGS)
    return str(caught.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda f: f.assign(target=f["target"].where(f.index % 50 != 0, 2)),
            "column 'target': rule binary: found 3 classes",
        ),
        (
            lambda f: f.assign(amount=np.where(f.index % 3 == 0, np.inf, f["amount"])),
            "column 'amount': rule finite",
        ),
        (lambda f: f.assign(is_foreign=1), "column 'is_foreign': rule not-constant: every value is 1"),
        (
            lambda f: f.assign(customer_age=f["customer_age"].where(f.index % 4 == 0)),
            "column 'customer_age': rule max-null-share: 75% missing",
        ),
        (lambda f: f.head(150), "column 'target': rule min-rows: 150 rows"),
    ],
)
def test_validation_rules_name_column_and_rule(tmp_path, change, message):
    assert message in rules_failed(tmp_path, change(generate(3000, seed=4)))


def test_requested_columns_must_exist_and_be_usable(tmp_path):
    frame = generate(3000, seed=4)
    frame["note"] = [f"free text {i}" for i in range(len(frame))]
    problem = rules_failed(tmp_path, frame, feature_columns="amount,nope,note")
    assert problem.startswith("column 'nope': rule present") and "(and 1 more" in problem


def test_validation_report_fixes_the_schema_and_features_fit_on_train_only(tmp_path):
    run_dir = ingested(tmp_path, generate(3000, seed=4))
    result = validate_data(ValidateDataParams(run_dir=run_dir), SETTINGS)
    schema = storage.read_json(run_dir + "/validate-data/report.json")["schema"]
    assert schema["excluded"] == {"transaction_id": "identifier"}
    assert set(schema["categorical"]) == {"merchant_category", "device"}
    assert result.numeric_features == len(schema["numeric"]) == 7
    features(FeaturesParams(run_dir=run_dir), SETTINGS)
    train_x, train_y = load_arrays(run_dir + "/features/train.npz")
    test_x, _ = load_arrays(run_dir + "/features/test.npz")
    amount = schema["numeric"].index("amount")
    # Scaled with train statistics: train is centred, the later test period need not be.
    assert abs(train_x[:, amount].mean()) < 1e-5 and abs(train_x[:, amount].std() - 1) < 1e-3
    assert train_x.dtype == np.float32 and set(np.unique(train_y)) == {0.0, 1.0}
    assert test_x.shape[1] == train_x.shape[1]


@pytest.mark.parametrize(
    ("auc", "champion", "delta", "decision", "reason"),
    [
        (0.80, None, 0.0, "promote", "no champion yet"),
        (0.60, None, 0.0, "reject", "below min-auc"),
        (0.85, 0.80, 0.02, "promote", "0.8500 > champion 0.8000 + min-delta 0.0200"),
        (0.81, 0.80, 0.02, "reject", "0.8100 does not beat champion 0.8000 + min-delta 0.0200"),
        (0.8765, 0.8765, 0.0, "reject", "0.8765 does not beat champion 0.8765 + min-delta 0.0000"),
        (0.82, 0.80, 0.02, "reject", "0.8200 does not beat champion"),
    ],
)
def test_decision_in_both_directions(auc, champion, delta, decision, reason):
    made, why = decide(auc, champion, EvaluateParams(min_auc=0.7, min_delta=delta), same_run=False)
    assert made == decision and reason in why


def test_the_champions_own_run_is_promoted_again_only_by_the_run_that_trained_it():
    params = EvaluateParams(min_auc=0.7)
    # a retry or resume of the run that trained the champion: promote stays a no-op, deploy completes
    assert decide(0.9, 0.9, params, same_run=True) == ("promote", "this model is already the champion")
    # a later run whose train the step cache reused: the same model, nothing to register or deploy
    made, why = decide(0.9, 0.9, params, same_run=True, reused_from="/r/.mlops/runs/training-abc12")
    assert (made, why) == (
        "reject",
        "the candidate is the champion itself (trained in /r/.mlops/runs/training-abc12): nothing new",
    )


def test_the_champions_weights_are_never_promoted_whatever_min_delta_says():
    params = EvaluateParams(min_auc=0.7, min_delta=-0.1)
    assert decide(0.8765, 0.8765, params, same_run=False)[0] == "promote"  # a negative delta lets a tie in
    made, why = decide(0.8765, 0.8765, params, same_run=False, same_weights="3f2a9c0b1d4e5f60")
    assert (made, why) == (
        "reject",
        "the champion has the same weights (digest 3f2a9c0b1d4e5f60): nothing new to deploy",
    )
