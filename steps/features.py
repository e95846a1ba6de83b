"""Features: fit preprocessing on the train split only, save it, transform every split.

Numeric features: median imputation (with a missing-value indicator) and standard scaling;
categorical features: one-hot encoding with unknown values ignored and missing as its own
category. The fitted preprocessor is saved as ``features/preprocessor.joblib`` and later
bundled into the model, so the served model takes the same raw columns as this step. The columns
with missing values in train (the only ones whose missing values the model learned, through the
imputer's indicator or the missing category) are listed in ``spec.json`` as ``nullable``.
"""

from __future__ import annotations

import io
import sys

import numpy as np
from pydantic import Field

from steps import storage
from steps.contract import StepParams, StepResult, log, run_step, step_folder
from steps.ingest import SPLITS
from steps.preprocessing import build_preprocessor
from steps.threads import apply_thread_policy


class FeaturesParams(StepParams):
    """Fit preprocessing on train and transform all splits into arrays."""

    min_category_share: float = Field(0.001, ge=0, lt=1, description="rarer categories are grouped")


class FeaturesResult(StepResult):
    input_columns: int
    output_features: int
    train_rows: int


def save_arrays(uri: str, features: np.ndarray, labels: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, X=features.astype(np.float32, copy=False), y=labels.astype(np.float32, copy=False))
    storage.write_bytes(uri, buffer.getvalue())


def load_arrays(uri: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(io.BytesIO(storage.read_bytes(uri))) as arrays:
        return arrays["X"], arrays["y"]


def features(params: FeaturesParams, settings) -> FeaturesResult:
    """Fit on train, transform train/validation/test into ``features/<split>.npz``."""
    # Before scikit-learn's OpenMP loads; no torch here: BLAS and OpenMP pools only.
    apply_thread_policy(settings, include_torch=False)
    import joblib

    schema = storage.read_json(storage.join(step_folder(params.run_dir, "validate_data"), "report.json"))[
        "schema"
    ]
    numeric, categorical, target = schema["numeric"], schema["categorical"], schema["target"]
    columns = numeric + categorical
    source, out = step_folder(params.run_dir, "ingest"), step_folder(params.run_dir, "features")
    preprocessor = build_preprocessor(numeric, categorical, params.min_category_share)
    train = storage.read_table(storage.join(source, "train.parquet"), columns=[*columns, target])
    save_arrays(
        storage.join(out, "train.npz"), preprocessor.fit_transform(train[columns]), train[target].to_numpy()
    )
    for name in SPLITS[1:]:
        part = storage.read_table(storage.join(source, f"{name}.parquet"), columns=[*columns, target])
        save_arrays(
            storage.join(out, f"{name}.npz"), preprocessor.transform(part[columns]), part[target].to_numpy()
        )
    buffer = io.BytesIO()
    joblib.dump(preprocessor, buffer)
    storage.write_bytes(storage.join(out, "preprocessor.joblib"), buffer.getvalue())
    names = [str(n) for n in preprocessor.named_steps["encode"].get_feature_names_out()]
    storage.write_json(
        storage.join(out, "spec.json"),
        {
            "numeric": numeric,
            "categorical": categorical,
            "target": target,
            "output_features": names,
            "nullable": [c for c in columns if train[c].isna().any()],
        },
    )
    log("features", f"{len(columns)} columns -> {len(names)} features, fitted on {len(train):,} train rows")
    return FeaturesResult(input_columns=len(columns), output_features=len(names), train_rows=len(train))


def main(argv: list[str] | None = None) -> None:
    run_step("features", FeaturesParams, features, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
