"""The sample fraud data: realistic fraud rate, deterministic by seed, a drift knob that drifts."""

from __future__ import annotations

import pytest

from steps.errors import BadInput
from workflows.local.sample_data import generate


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
