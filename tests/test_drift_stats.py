"""The drift tests in numpy give Evidently's numbers; the reference's kept profile gives the same verdicts.

Evidently's own choice and run of each column's test (``get_stattest`` with the preset's options, what
its ``ValueDrift`` does) is the reference here; ``tests/e2e/test_drift.py`` checks the step against the
preset itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from steps import drift_reference
from steps.drift_columns import column_kinds, column_verdicts, evidently_test
from steps.drift_reference import summarise
from steps.drift_stats import column_kind, finite, wasserstein_normed

ROWS = 3000


def frames(seed: int = 5, rows: int = ROWS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current with every kind of column the preset tells apart (the current drifted)."""
    rng = np.random.default_rng(seed)

    def side(n: int, shift: float) -> pd.DataFrame:
        amount = rng.lognormal(3 + shift, 1, n).round(2)
        amount[:7] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.0, np.nan]  # dropped as Evidently drops them
        return pd.DataFrame({
            "amount": amount,
            "ties": rng.integers(0, 40 + int(10 * shift), n).astype(float),  # many repeated values
            "count": rng.poisson(20 + 5 * shift, n),  # int, many values: numeric
            "hour": rng.integers(0, 6, n),  # int, few values: categorical
            "few": rng.choice([0.5, 1.5, 2.5], n, p=[0.5, 0.3 + 0.1 * shift, 0.2 - 0.1 * shift]),  # float, 3 values
            "flag": rng.random(n) < 0.1 + 0.2 * shift,  # bool: categorical
            "device": pd.Series(rng.choice(["web", "ios", "android", None], n), dtype=object),
            "note": [f"n{i}-{shift}" for i in rng.integers(0, n * 10, n)],  # text: Evidently's own test
            "prediction": rng.beta(2, 5 + shift, n),
        })  # fmt: skip

    return side(rows, 0.0), side(rows, 1.0)


def evidently_verdicts(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, dict]:
    from evidently.core.datasets import infer_column_type

    found = {}
    for column in current.columns:
        kind = infer_column_type(current[column]).value
        if kind in ("num", "cat", "text"):
            found[column] = evidently_test(
                column, kind, None, finite(reference[column]), finite(current[column])
            )
    return found


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (np.random.default_rng(1).normal(0, 1, 5000), np.random.default_rng(2).normal(0.3, 1.2, 4000)),
        (
            np.random.default_rng(3).integers(0, 30, 5000) * 1.0,
            np.random.default_rng(4).integers(0, 40, 700) * 1.0,
        ),
        (np.array([0.0, -0.0, 1.0, 1.0, 2.0]), np.array([-0.0, 0.0, 0.0, 3.0])),
        (np.full(2000, 7.0), np.full(1500, 7.0)),
    ],
)
def test_the_wasserstein_distance_is_scipys_to_the_bit(ours, theirs):
    expected = stats.wasserstein_distance(ours, theirs) / max(float(np.std(pd.Series(ours))), 0.001)
    score, distinct = wasserstein_normed(np.sort(ours), float(np.std(pd.Series(ours))), np.sort(theirs))
    assert score == expected
    assert distinct == pd.concat([pd.Series(ours), pd.Series(theirs)]).nunique()


def test_column_kinds_are_evidentlys():
    from evidently.core.datasets import infer_column_type

    reference, current = frames()
    odd = pd.DataFrame({
        "empty": pd.Series([None] * 5, dtype=object), "lists": [[1], [2], [3], [1], [2]],
        "when": pd.date_range("2026-01-01", periods=5), "mixed": [1, "a", 2.5, None, "b"],
        "text": pd.Series(list("abcde"), dtype="string"), "cats": pd.Series(list("aabba"), dtype="category"),
        "small": pd.Series([1, 2, 3, 1, 2], dtype="uint8"),
    })  # fmt: skip
    for frame in (current, odd):
        for column in frame.columns:
            assert column_kind(frame[column]) == infer_column_type(frame[column]).value, column


def test_verdicts_from_a_profile_are_evidentlys_for_every_kind_of_column():
    reference, current = frames()
    profile = summarise(reference, False, reference.head(10), reference)
    ours = {v["column"]: v for v in column_verdicts(profile, current, {})}
    theirs = evidently_verdicts(reference, current)
    assert set(ours) == set(theirs) and set(ours) == set(column_kinds(current))
    for column, verdict in theirs.items():
        assert ours[column]["method"] == verdict["method"], column
        assert ours[column]["drifted"] == verdict["drifted"], column
        assert ours[column]["score"] == pytest.approx(verdict["score"], rel=1e-12, abs=1e-15), column
    assert ours["note"]["method"] == "Absolute text content drift"  # Evidently's own, with the frame
    assert {ours[c]["method"] for c in ("amount", "ties", "count")} == {"Wasserstein distance (normed)"}
    assert {ours[c]["method"] for c in ("hour", "few", "flag", "device")} == {"Jensen-Shannon distance"}


def test_a_small_reference_gets_evidentlys_small_sample_tests():
    reference, current = (side.drop(columns=["note"]) for side in frames(rows=800))  # text: tested above
    profile = summarise(reference, False, reference, reference)
    ours = {v["column"]: v for v in column_verdicts(profile, current, {})}
    theirs = evidently_verdicts(reference, current)
    assert {c: (v["method"], v["score"]) for c, v in ours.items()} == {
        c: (v["method"], v["score"]) for c, v in theirs.items()
    }
    assert ours["amount"]["method"] == "K-S p_value"


class Champion:
    name, version, run_id = "m", "3", "abc"


def test_a_kept_profile_gives_the_same_verdicts_and_needs_no_frame(tmp_path):
    reference, current = frames()
    current = current.drop(columns=["note"])  # text needs the reference's values, which a kept profile lacks
    made = summarise(reference, True, reference.head(50), reference)
    key = drift_reference.key("m", Champion(), {"a.parquet": "digest"}, 42, 20_000)
    drift_reference.store(str(tmp_path), "m", key, made)
    kept = drift_reference.load(str(tmp_path), "m", key)
    assert kept is not None and kept.frame is None and kept.changed_since_training
    assert (kept.rows, kept.read, kept.columns) == (made.rows, made.read, made.columns)
    pd.testing.assert_frame_equal(kept.shown, made.shown)
    assert column_verdicts(kept, current, {}) == column_verdicts(made, current, {})


def test_a_profile_is_kept_per_champion_data_and_seed_and_older_ones_go(tmp_path):
    key = drift_reference.key("m", Champion(), {"a.parquet": "digest"}, 42, 20_000)
    other_data = drift_reference.key("m", Champion(), {"a.parquet": "changed"}, 42, 20_000)
    newer = type("Newer", (Champion,), {"version": "4"})
    assert len({key, other_data, drift_reference.key("m", newer(), {"a.parquet": "digest"}, 42, 20_000),
                drift_reference.key("m", Champion(), {"a.parquet": "digest"}, 7, 20_000)}) == 4  # fmt: skip
    reference, _ = frames(rows=1500)
    made = summarise(reference, False, reference.head(5), reference)
    drift_reference.store(str(tmp_path), "m", key, made)
    drift_reference.store(str(tmp_path), "m", other_data, made)
    folder = tmp_path / "cache" / "drift-reference" / "m"
    assert sorted(p.name for p in folder.iterdir()) == [f"{other_data}.npz", f"{other_data}.parquet"]
    assert drift_reference.load(str(tmp_path), "m", key) is None


def test_a_torn_profile_is_a_miss(tmp_path, capsys):
    reference, _ = frames(rows=1500)
    key = drift_reference.key("m", Champion(), {}, 42, 20_000)
    drift_reference.store(str(tmp_path), "m", key, summarise(reference, False, reference.head(5), reference))
    kept = tmp_path / "cache" / "drift-reference" / "m" / f"{key}.npz"
    kept.write_bytes(kept.read_bytes()[:1000])
    assert drift_reference.load(str(tmp_path), "m", key) is None
    assert "kept reference profile not used" in capsys.readouterr().err
