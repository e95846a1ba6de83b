"""The preprocessing pipeline, in a module of its own so that pickles of it load in any process.

It is fitted by ``features`` and bundled into the served model, so it must be importable under
one stable name (a function pickled from a module run as ``__main__`` cannot be loaded elsewhere).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def coerce_columns(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """Raw columns in the types the encoders expect; also what the served model applies to requests."""
    out = pd.DataFrame(index=frame.index)
    for column in numeric:
        out[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in categorical:
        values = frame[column]
        out[column] = values.where(values.isna(), values.astype(str)).astype(object)
    return out


def build_preprocessor(numeric: list[str], categorical: list[str], min_category_share: float):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    encode = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()),
                numeric,
            ),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="__missing__"),
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist",
                        min_frequency=min_category_share or None,
                        sparse_output=False,
                        dtype=np.float32,
                    ),
                ),
                categorical,
            ),
        ],
        sparse_threshold=0.0,
    )
    coerce = FunctionTransformer(coerce_columns, kw_args={"numeric": numeric, "categorical": categorical})
    return Pipeline([("coerce", coerce), ("encode", encode)])
