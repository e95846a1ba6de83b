"""The sample fraud data: realistic fraud rate, deterministic by seed, a drift knob that drifts."""

from __future__ import annotations

import pytest

from steps.errors import BadInput
from workflows.local.sample_data import generate, write_partitions


def test_fraud_rate_is_realistic_and_seeded():
    frame = generate(40_000, seed=3)
    assert 0.01 <= frame["target"].mean() <= 0.03
    assert frame.equals(generate(40_000, seed=3))
    assert not frame.equals(generate(40_000, seed=4))
    assert frame["event_time"].is_monotonic_increasing
    assert (frame["event_time"].dt.hour == frame["hour"]).all()
    assert frame.duplicated().sum() > 0  # replayed events, for ingest to drop


def test_drift_moves_spend_channel_and_fraud_rate():
    base, drifted = generate(40_000, seed=3), generate(40_000, seed=3, drift=1.0)
    assert drifted["amount"].median() > 1.2 * base["amount"].median()
    assert (drifted["device"] == "online").mean() > (base["device"] == "online").mean()
    assert drifted["target"].mean() > 1.5 * base["target"].mean()


@pytest.mark.parametrize(
    ("kwargs", "flag"),
    [
        ({"rows": 0}, "--rows"),
        ({"rows": 10, "drift": 2}, "--drift"),
        ({"rows": 10, "start": "soon"}, "--start"),
    ],
)
def test_bad_generator_parameters(kwargs, flag):
    with pytest.raises(BadInput, match=flag):
        generate(**kwargs)


def test_overwrite_replaces_only_the_folders_own_files_and_refuses_data_in_a_subfolder(tmp_path):
    """A folder is read with its subfolders: drift data kept inside it would mix into training, and
    --overwrite must not delete it."""
    frame = generate(200, seed=1)
    write_partitions(frame, str(tmp_path / "train"), 2)
    write_partitions(frame, str(tmp_path / "train" / "incoming"), 1)
    kept = sorted((tmp_path / "train" / "incoming").iterdir())
    with pytest.raises(BadInput, match=r"its subfolder .*incoming holds data files.*a folder of its own"):
        write_partitions(frame, str(tmp_path / "train"), 2, overwrite=True)
    assert sorted((tmp_path / "train" / "incoming").iterdir()) == kept
    assert len(list((tmp_path / "train").glob("part-*.parquet"))) == 2
    write_partitions(frame, str(tmp_path / "other"), 3)
    assert len(write_partitions(frame, str(tmp_path / "other"), 1, overwrite=True)) == 1
    assert [p.name for p in (tmp_path / "other").iterdir()] == ["part-00000.parquet"]
