"""Per-column drift verdicts with Evidently's statistical tests, once per column, on all rows.

Evidently's data drift preset, run on a million rows, spends most of its time on what it draws
(histograms, correlations, per-column plots) and computes each column's test several times. Here
each column's test is chosen and run exactly as the preset's ``ValueDrift`` does (the same column
types, the same default test for the size and cardinality, the same threshold), so the verdicts are
Evidently's; the drawing is left to a report over a sample (``steps.drift_report``). The tests a
large reference gets by default run in numpy (``steps.drift_stats``); any other test is Evidently's
own, imported only then.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd

from steps.drift_stats import column_kind, default_test, finite

# The column kinds the preset checks; datetimes and unknown kinds are not tested.
CHECKED_KINDS = ("num", "cat", "text")


def column_kinds(current: pd.DataFrame) -> dict[str, str]:
    """Each checked column's Evidently type, inferred from the current data as the preset does."""
    kinds = {column: column_kind(current[column]) for column in current.columns}
    return {column: kind for column, kind in kinds.items() if kind in CHECKED_KINDS}


def evidently_test(column: str, kind: str, method: str | None, ours: pd.Series, theirs: pd.Series) -> dict:
    """Evidently's own choice and run of a column's test (a method given, a small reference, text)."""
    from evidently.legacy.calculations.stattests import get_stattest
    from evidently.legacy.options.data_drift import DataDriftOptions

    options = DataDriftOptions(all_features_stattest=method)
    chosen = options.get_feature_stattest_func(column, kind)
    threshold = options.get_threshold(column, kind)
    test = get_stattest(ours, theirs, kind, chosen)
    result = test(ours, theirs, kind, threshold)
    return {
        "method": test.display_name,
        "threshold": float(result.actual_threshold),
        "score": float(result.drift_score),
        "drifted": bool(result.drifted),
    }


class NeedsReference(Exception):
    """A column's test needs the reference's values, which a kept profile does not hold."""


def column_verdicts(profile, current: pd.DataFrame, overrides: dict[str, str]) -> list[dict[str, Any]]:
    """Method, threshold, score and verdict of every checked column, as Evidently's ValueDrift gives them,
    from the reference's profile (``steps.drift_reference``) and the current data."""

    def verdict(column: str, kind: str) -> dict[str, Any]:
        theirs = finite(current[column])
        if theirs.empty or not profile.sizes.get(column):
            raise ValueError(f"column '{column}' has no values on one side")
        fast = None if column in overrides else default_test(profile, column, theirs, kind)
        if fast is not None:
            return {"column": column, "method": fast.method, "threshold": fast.threshold,
                    "score": fast.score, "drifted": bool(fast.drifted)}  # fmt: skip
        if profile.frame is None:
            raise NeedsReference(column)
        ours = finite(profile.frame[column])
        return {"column": column} | evidently_test(column, kind, overrides.get(column), ours, theirs)

    # The numeric tests spend their time sorting and merging in numpy, which releases the GIL.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(lambda item: verdict(*item), column_kinds(current).items()))
