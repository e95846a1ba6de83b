"""Per-column drift verdicts with Evidently's own statistical tests, once per column, on all rows.

Evidently's data drift preset, run on a million rows, spends most of its time on what it draws
(histograms, correlations, per-column plots) and computes each column's test several times. Here
each column's test is chosen and run exactly as the preset's ``ValueDrift`` does (the same column
types, the same default test for the size and cardinality, the same threshold), so the verdicts are
Evidently's; the drawing is left to a report over a sample (``drift_report``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

# The column kinds the preset checks; datetimes and unknown kinds are not tested.
CHECKED_KINDS = ("num", "cat", "text")


def column_kinds(current: pd.DataFrame) -> dict[str, Any]:
    """Each checked column's Evidently type, inferred from the current data as the preset does."""
    from evidently.core.datasets import infer_column_type

    kinds = {column: infer_column_type(current[column]) for column in current.columns}
    return {column: kind for column, kind in kinds.items() if kind.value in CHECKED_KINDS}


def _finite(values: pd.Series) -> pd.Series:
    return values.replace([-np.inf, np.inf], np.nan).dropna()


def column_verdicts(
    reference: pd.DataFrame, current: pd.DataFrame, overrides: dict[str, str]
) -> list[dict[str, Any]]:
    """Method, threshold, score and verdict of every checked column, as Evidently's ValueDrift gives them."""
    from evidently.legacy.calculations.stattests import get_stattest
    from evidently.legacy.options.data_drift import DataDriftOptions

    def verdict(column: str, kind) -> dict[str, Any]:
        options = DataDriftOptions(all_features_stattest=overrides.get(column))
        chosen = options.get_feature_stattest_func(column, kind.value)
        threshold = options.get_threshold(column, kind.value)
        ours, theirs = _finite(reference[column]), _finite(current[column])
        if ours.empty or theirs.empty:
            raise ValueError(f"column '{column}' has no values on one side")
        test = get_stattest(ours, theirs, kind, chosen)
        result = test(ours, theirs, kind, threshold)
        return {
            "column": column,
            "method": test.display_name,
            "threshold": float(result.actual_threshold),
            "score": float(result.drift_score),
            "drifted": bool(result.drifted),
        }

    # The tests spend their time sorting and counting in numpy, which releases the GIL.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(lambda item: verdict(*item), column_kinds(current).items()))
