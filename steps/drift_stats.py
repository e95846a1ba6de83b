"""Evidently's default drift tests for large references, in numpy, to Evidently's own numbers.

Evidently 0.7 (``evidently.legacy.calculations.stattests``) gives a column of a reference over
1,000 rows the normed Wasserstein distance when it is numeric with more than 5 distinct values
(drift at >= 0.1), and the Jensen-Shannon distance of its value shares otherwise (drift at >= 0.1).
Here the same statistics are computed on numpy arrays: sorting, merging and counting release the
GIL, so columns run side by side on threads, and no Evidently import is needed. The Wasserstein
distance is scipy's ``_cdf_distance`` with its sorts and searches replaced by one stable merge of the
two sorted sides: the same CDF values at every step that has a width, so the same float, bit for bit
(``tests/test_drift_stats.py`` checks both tests against Evidently's). Anything else (small
references, text, a method given by ``--column-methods``) is left to Evidently (``steps.drift_columns``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# evidently.core.datasets.INTEGER_CARDINALITY_LIMIT: integer columns with at most this many values are categories.
INTEGER_CARDINALITY_LIMIT = 10
# Evidently picks its large-reference tests above this many reference rows.
LARGE_REFERENCE = 1000
# Numeric columns with at most this many distinct values (both sides) get Jensen-Shannon.
FEW_VALUES = 5
THRESHOLD = 0.1
WASSERSTEIN = "Wasserstein distance (normed)"
JENSEN_SHANNON = "Jensen-Shannon distance"


@dataclass(frozen=True)
class Score:
    method: str
    threshold: float
    score: float
    drifted: bool


def column_kind(values: pd.Series) -> str:
    """Evidently's ``infer_column_type(values).value``: 'num', 'cat', 'text', 'datetime', 'list' or 'unknown'."""
    dtype = values.dtype.name
    if dtype.startswith("float"):
        return "num"
    if dtype.startswith("int"):
        return "cat" if values.nunique() <= INTEGER_CARDINALITY_LIMIT else "num"
    if dtype in ("string", "str"):
        return "text" if values.nunique() > values.count() * 0.5 else "cat"
    if dtype == "object":
        present = values.dropna()
        if present.empty:
            return "unknown"
        first, last = present.iloc[0], present.iloc[-1]
        if isinstance(first, str) and isinstance(last, str):
            return "text" if values.nunique() > values.count() * 0.5 else "cat"
        if isinstance(first, (list, tuple)) and isinstance(last, (list, tuple)):
            return "list"
        return "unknown"
    if dtype in ("bool", "category"):
        return "cat"
    if dtype.startswith("datetime"):
        return "datetime"
    return "unknown"


def finite(values: pd.Series) -> pd.Series:
    """The values Evidently tests: infinities and missing values dropped."""
    if values.dtype.kind == "f":
        array = values.to_numpy()
        return values[np.isfinite(array)] if not np.isfinite(array).all() else values
    if values.dtype.kind in "iub":
        return values
    array = values.to_numpy()
    # What replace([-inf, inf], nan).dropna() keeps, without building a replaced copy of every value.
    keep = pd.notna(array) & (array != np.inf) & (array != -np.inf)
    return values if keep.all() else values[keep]


def _value_counts(values: pd.Series) -> pd.Series:
    """``values.value_counts()`` in any order (one hashing pass and a count): the values have no NaN."""
    codes, uniques = pd.factorize(values)
    return pd.Series(np.bincount(codes, minlength=len(uniques)), index=uniques)


def wasserstein_normed(ours: np.ndarray, spread: float, theirs: np.ndarray) -> tuple[float, int]:
    """(scipy's ``wasserstein_distance(reference, current) / max(std(reference), 0.001)``, the number of
    distinct values of both sides) from both sides' values sorted (``ours``, ``theirs``) and the
    reference's ``np.std`` (``spread``). Between two successive merged values scipy's CDFs count the
    values at or below the lower one, which a stable merge counts by position; steps of no width
    (ties) add exactly 0 whatever they count, as in scipy."""
    both = np.concatenate((ours, theirs))
    order = np.argsort(both, kind="stable")  # two sorted runs: a linear merge
    merged = both[order]
    deltas = np.diff(merged)
    below_ours = np.cumsum(order[:-1] < ours.size)
    below_theirs = np.arange(1, merged.size) - below_ours
    distance = np.vecdot(np.abs(below_ours / ours.size - below_theirs / theirs.size), deltas)
    return float(distance) / max(spread, 0.001), int(np.count_nonzero(deltas)) + 1


def _value_counts(values: pd.Series) -> pd.Series:
    """``values.value_counts()`` in any order (one hashing pass and a count): the values have no NaN."""
    codes, uniques = pd.factorize(values)
    return pd.Series(np.bincount(codes, minlength=len(uniques)), index=uniques)


def jensen_shannon(ours: pd.Series, size: int, current: pd.Series) -> float:
    """Evidently's Jensen-Shannon distance of two columns' value shares (its ``get_binned_data``
    without zero filling, for columns of few values), as scipy's ``jensenshannon`` computes it; ``ours``
    are the reference's value counts of its ``size`` values."""
    theirs = _value_counts(current)
    keys = ours.index.union(theirs.index)
    p = ours.reindex(keys, fill_value=0).to_numpy() / size
    q = theirs.reindex(keys, fill_value=0).to_numpy() / len(current)
    p, q = p / np.sum(p), q / np.sum(q)
    m = (p + q) / 2.0
    return float(np.sqrt((_relative_entropy(p, m).sum() + _relative_entropy(q, m).sum()) / 2.0))


def _relative_entropy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """scipy.special.rel_entr for shares (y > 0 wherever x > 0): x log(x / y), 0 where x is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(x / y), 0.0)


def default_test(profile, column: str, current: pd.Series, kind: str) -> Score | None:
    """The score of Evidently's default test of this column, from the reference's profile
    (``steps.drift_reference``) and the current's ``finite`` values; None when the profile cannot
    answer (Evidently's small-reference tests, text, other kinds)."""
    if not profile.answers(column, kind):
        return None
    if kind == "num":
        theirs = np.sort(np.asarray(current.to_numpy(), dtype=float))
        score, distinct = wasserstein_normed(profile.ordered[column], profile.spread[column], theirs)
        if distinct > FEW_VALUES:
            return Score(WASSERSTEIN, THRESHOLD, score, score >= THRESHOLD)
        if column not in profile.counts:
            return None
    score = jensen_shannon(profile.counts[column], profile.sizes[column], current)
    return Score(JENSEN_SHANNON, THRESHOLD, score, score >= THRESHOLD)
