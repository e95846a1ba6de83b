"""Validate data: the checks a careful engineer makes before spending a GPU on training.

The label is binary and every split has both classes; there are enough rows; no feature is
mostly missing, entirely missing, constant or infinite; every feature is a number, a flag or a
category with a bounded number of values. Every problem found is written to
``validate-data/report.json``; the step exits 65 with the first one named by column and rule.
The report also fixes the feature schema (numeric and categorical columns) that ``features``
uses, whether the columns were given or inferred.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pydantic import Field

from steps import storage
from steps.contract import CommaList, StepParams, StepResult, log, run_step, step_folder
from steps.errors import BadInput, shown
from steps.ingest import SPLITS

ID_NAME = re.compile(r"(^id$|_id$|^uuid$)", re.IGNORECASE)


class ValidateDataParams(StepParams):
    """Check the ingested splits and fix the feature schema."""

    target_column: str | None = Field(None, description="label column; default MLOPS_TARGET_COLUMN")
    feature_columns: CommaList[str] = Field(
        default_factory=list, description="comma-separated; default inferred"
    )
    min_rows: int = Field(200, ge=1, description="fewest rows worth training on")
    min_class_rows: int = Field(5, ge=1, description="fewest rows of the rarer class in train")
    max_null_share: float = Field(0.5, ge=0, le=1, description="largest share of missing values in a feature")
    max_categories: int = Field(100, ge=2, description="most distinct values of a categorical feature")


class ValidateDataResult(StepResult):
    rows: int
    numeric_features: int
    categorical_features: int
    positive_rate: float


@dataclass
class Findings:
    """Problems found so far, each ``column 'x': rule r: detail``."""

    problems: list[str] = field(default_factory=list)
    # What a user can change to get past the problems (a workflow parameter), said once at the end.
    remedy: str = ""

    def add(self, column: str, rule: str, detail: str) -> None:
        self.problems.append(f"column '{column}': rule {rule}: {detail}")

    def message(self) -> str:
        """The first problem, how many more there are, and the remedy: one line."""
        more = (
            f" (and {len(self.problems) - 1} more in validate-data/report.json)"
            if len(self.problems) > 1
            else ""
        )
        return self.problems[0] + more + (f"; {self.remedy}" if self.remedy else "")


def _first_row(mask: pd.Series) -> int:
    return int(np.flatnonzero(mask.to_numpy())[0]) + 1


def split_remedy(how: str | None, time_column: str | None) -> str:
    """How to get both classes into every split, given how ingest split the rows."""
    if how == "time":
        return (
            f"the split by '{time_column}' puts all rows of a class on one side (e.g. every normal row"
            " before the first fault): use -p split=stratified (ingest --split stratified)"
        )
    if how == "random":
        return "use -p split=stratified (ingest --split stratified) to keep both classes in every split"
    if how == "stratified":
        return "the rarer class has too few rows to appear in every split: add rows of it"
    return ""


def check_target(
    splits: dict[str, pd.DataFrame],
    target: str,
    min_class_rows: int,
    found: Findings,
    how: str | None = None,
    time_column: str | None = None,
) -> None:
    values = pd.concat([s[target] for s in splits.values()], ignore_index=True)
    if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
        found.add(
            target, "binary", f"the label must be 0/1, found text such as {shown(values.dropna().iloc[0])}"
        )
        return
    classes = sorted(pd.unique(values.astype(float)))
    if len(classes) > 2 or not set(classes) <= {0.0, 1.0}:
        listed = ", ".join(f"{c:g}" for c in classes[:5])
        found.add(target, "binary", f"found {len(classes)} classes ({listed}); the label must be 0 or 1")
        return
    for name, part in splits.items():
        counts = part[target].astype(int).value_counts()
        if len(counts) < 2:
            only = int(counts.index[0]) if len(counts) else "none"
            found.add(target, "both-classes", f"the {name} split has only class {only}")
            if len(counts):
                found.remedy = found.remedy or split_remedy(how, time_column)
        elif name == "train" and counts.min() < min_class_rows:
            found.add(
                target,
                "both-classes",
                f"train has {counts.min()} rows of class {counts.idxmin()}, need {min_class_rows}",
            )
            if how != "stratified":
                found.remedy = found.remedy or split_remedy(how, time_column)


def infer_features(
    frame: pd.DataFrame, target: str, time_column: str | None, max_categories: int
) -> tuple[list[str], dict[str, str]]:
    """Feature columns when none are given: everything but the label, the time and identifiers."""
    features, excluded = [], {}
    for column in map(str, frame.columns):
        series = frame[column]
        if column in (target, time_column):
            continue
        if ID_NAME.search(column):
            excluded[column] = "identifier"
        elif pd.api.types.is_datetime64_any_dtype(series):
            excluded[column] = "timestamp"
        elif series.dtype == object and series.nunique() > max_categories:
            excluded[column] = f"text with {series.nunique():,} distinct values"
        else:
            features.append(column)
    return features, excluded


def check_feature(column: str, series: pd.Series, params: ValidateDataParams, found: Findings) -> str | None:
    """The feature's kind (numeric or categorical), or None after recording why it is unusable."""
    missing = series.isna()
    if missing.all():
        found.add(column, "not-all-missing", "every value is missing")
        return None
    if missing.mean() > params.max_null_share:
        found.add(column, "max-null-share", f"{missing.mean():.0%} missing (max {params.max_null_share:.0%})")
    present = series[~missing]
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        values = present.astype(float)
        infinite = np.isinf(values)
        if infinite.any():
            found.add(
                column,
                "finite",
                f"{int(infinite.sum())} infinite values (first at row {_first_row(infinite)})",
            )
        if values.nunique() == 1:
            found.add(column, "not-constant", f"every value is {values.iloc[0]:g}")
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(series):
        found.add(column, "type", "timestamps are not a feature; derive hour or day columns from them")
        return None
    text = present.astype(str)
    if text.nunique() > params.max_categories:
        found.add(
            column,
            "categorical-cardinality",
            f"{text.nunique():,} distinct values (max {params.max_categories})",
        )
        return None
    if text.nunique() == 1:
        found.add(column, "not-constant", f"every value is {shown(text.iloc[0])}")
    return "categorical"


def validate_data(params: ValidateDataParams, settings) -> ValidateDataResult:
    """Check the ingested splits; exit 65 naming the first problem; write the schema and report."""
    source = step_folder(params.run_dir, "ingest")
    metadata = storage.read_json(storage.join(source, "metadata.json"))
    target = params.target_column or metadata["target_column"] or settings.target_column
    splits = {name: storage.read_table(storage.join(source, f"{name}.parquet")) for name in SPLITS}
    frame = pd.concat(splits.values(), ignore_index=True)
    found = Findings()

    if target not in frame.columns:
        raise BadInput(f"column '{target}': rule present: the label column is not in the data")
    if len(frame) < params.min_rows:
        found.add(target, "min-rows", f"{len(frame):,} rows, need at least {params.min_rows:,}")
    check_target(
        splits, target, params.min_class_rows, found, metadata.get("split"), metadata.get("time_column")
    )

    requested = params.feature_columns or settings.feature_columns
    if requested:
        excluded: dict[str, str] = {}
        for column in requested:
            if column not in frame.columns:
                found.add(column, "present", "a requested feature column is not in the data")
        features = [c for c in requested if c in frame.columns]
    else:
        features, excluded = infer_features(frame, target, metadata.get("time_column"), params.max_categories)
    kinds = {column: check_feature(column, frame[column], params, found) for column in features}
    if not features:
        found.add(target, "features", "no usable feature columns")

    schema = {
        "target": target,
        "numeric": [c for c, k in kinds.items() if k == "numeric"],
        "categorical": [c for c, k in kinds.items() if k == "categorical"],
        "excluded": excluded,
    }
    report = {
        "passed": not found.problems,
        "problems": found.problems,
        "remedy": found.remedy,
        "schema": schema,
        "rows": len(frame),
    }
    storage.write_json(storage.join(step_folder(params.run_dir, "validate_data"), "report.json"), report)
    if found.problems:
        raise BadInput(found.message())
    for column, why in excluded.items():
        log("validate-data", f"not a feature: '{column}' ({why})")
    log(
        "validate-data",
        f"{len(frame):,} rows passed; {len(schema['numeric'])} numeric and {len(schema['categorical'])} categorical features",
    )
    return ValidateDataResult(
        rows=len(frame),
        numeric_features=len(schema["numeric"]),
        categorical_features=len(schema["categorical"]),
        positive_rate=round(float(frame[target].astype(float).mean()), 6),
    )


def main(argv: list[str] | None = None) -> None:
    run_step("validate_data", ValidateDataParams, validate_data, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
