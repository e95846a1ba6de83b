"""A synthetic card-transaction fraud dataset, with a knob that drifts it as real fraud data drifts.

Fraud is drawn from a logistic model over the features (large amounts relative to the
customer's habit, night hours, card-not-present, distance, foreign merchants), with the
intercept solved so the fraud rate is ~1.5 %. ``drift`` in [0, 1] moves the data the way
production fraud data moves: spend inflates, payments shift online and contactless, customers
transact farther from home, fraudsters switch to small contactless "test" charges (concept
drift), and the fraud rate rises.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from steps import storage
from steps.errors import BadInput

CATEGORIES = (
    "grocery",
    "gas",
    "restaurants",
    "online_retail",
    "electronics",
    "travel",
    "entertainment",
    "health",
)
CATEGORY_SHARE = np.array([0.26, 0.14, 0.17, 0.16, 0.06, 0.05, 0.09, 0.07])
# Shares that drift pulls toward: more online shopping, electronics, travel.
CATEGORY_SHARE_DRIFTED = np.array([0.18, 0.10, 0.14, 0.28, 0.11, 0.08, 0.07, 0.04])
CATEGORY_LOG_AMOUNT = np.array([3.6, 3.7, 3.4, 4.1, 5.2, 5.6, 3.9, 4.3])
CATEGORY_FRAUD = np.array([-0.8, -0.2, -0.6, 0.7, 1.0, 0.8, 0.0, -0.5])
DEVICES = ("chip", "contactless", "swipe", "online")
BASE_FRAUD_RATE = 0.015


def _solve_intercept(score: np.ndarray, rate: float) -> float:
    """The intercept that makes the mean fraud probability equal ``rate`` (bisection)."""
    low, high = -30.0, 30.0
    for _ in range(60):
        mid = (low + high) / 2
        if np.mean(1 / (1 + np.exp(-(score + mid)))) > rate:
            high = mid
        else:
            low = mid
    return (low + high) / 2


def generate(
    rows: int, seed: int = 7, drift: float = 0.0, start: str = "2026-01-01", days: int = 90
) -> pd.DataFrame:
    """``rows`` transactions between ``start`` and ``start + days``, sorted by ``event_time``."""
    if rows < 1:
        raise BadInput(f"parameter --rows: must be at least 1 (got {rows})")
    if not 0.0 <= drift <= 1.0:
        raise BadInput(f"parameter --drift: must be between 0 and 1 (got {drift})")
    try:
        origin = datetime.fromisoformat(start)
    except ValueError:
        raise BadInput(f"parameter --start: not an ISO date (got {start!r})") from None
    rng = np.random.default_rng(seed)

    share = (1 - drift) * CATEGORY_SHARE + drift * CATEGORY_SHARE_DRIFTED
    category = rng.choice(len(CATEGORIES), size=rows, p=share / share.sum())
    device_p = np.array([0.40 - 0.15 * drift, 0.20 + 0.20 * drift, 0.15 - 0.05 * drift, 0.0])
    device_p[3] = 1 - device_p[:3].sum()
    device = rng.choice(len(DEVICES), size=rows, p=device_p)
    # Online retail is card-not-present whatever the customer carries.
    device = np.where((category == 3) & (rng.random(rows) < 0.9), 3, device)

    hour = (rng.normal(14.5, 4.5, rows).round() % 24).astype(np.int64)
    customer_age = np.clip(rng.normal(44, 15, rows), 18, 92).round()
    habit = rng.lognormal(3.9, 0.6, rows)
    avg_amount_30d = (habit * (1 + 0.25 * drift)).round(2)
    amount = (
        rng.lognormal(CATEGORY_LOG_AMOUNT[category], 0.85) * (habit / 50) ** 0.5 * (1 + 0.3 * drift)
    ).round(2)
    distance = rng.lognormal(1.6 + 0.5 * drift, 1.1, rows).round(2)
    txn_count_30d = rng.poisson(24, rows)
    is_foreign = (rng.random(rows) < 0.04 + 0.04 * drift).astype(np.int64)

    night = (hour <= 5).astype(float)
    contactless = (device == 1).astype(float)
    score = (
        (1.1 - 0.6 * drift) * np.log(amount / avg_amount_30d)
        + 1.3 * night
        + CATEGORY_FRAUD[category]
        + 0.9 * (device == 3)
        + 1.8 * drift * contactless
        + 0.45 * np.log1p(distance)
        + 1.2 * is_foreign
        - 0.035 * (txn_count_30d - 24)
        + 0.012 * np.abs(customer_age - 44)
    )
    intercept = _solve_intercept(score, BASE_FRAUD_RATE * (1 + drift))
    target = (rng.random(rows) < 1 / (1 + np.exp(-(score + intercept)))).astype(np.int64)

    seconds = rng.integers(0, days, rows) * 86400 + hour * 3600 + rng.integers(0, 3600, rows)
    event_time = pd.Timestamp(origin, tz="UTC") + pd.to_timedelta(seconds, unit="s")
    # A little of what real feeds carry: missing ages, missing device on old terminals.
    customer_age[rng.random(rows) < 0.01] = np.nan
    device_name = np.array(DEVICES, dtype=object)[device]
    device_name[rng.random(rows) < 0.005] = None

    frame = pd.DataFrame(
        {
            "event_time": event_time,
            "amount": amount,
            "merchant_category": np.array(CATEGORIES, dtype=object)[category],
            "hour": hour,
            "customer_age": customer_age,
            "distance_from_home_km": distance,
            "device": device_name,
            "txn_count_30d": txn_count_30d,
            "avg_amount_30d": avg_amount_30d,
            "is_foreign": is_foreign,
            "target": target,
        }
    )
    frame = frame.sort_values("event_time", kind="stable", ignore_index=True)
    frame.insert(0, "transaction_id", [f"tx{seed:04d}{i:010d}" for i in range(rows)])
    # Feeds replay: ~0.2 % of transactions arrive twice; ingest removes them.
    replays = frame.sample(frac=0.002, random_state=seed)
    return pd.concat([frame, replays]).sort_values("event_time", kind="stable", ignore_index=True)


def write_partitions(frame: pd.DataFrame, out: str, partitions: int, overwrite: bool = False) -> list[str]:
    """Write ``frame`` as ``part-NNNNN.parquet`` files under ``out``; refuses to mix with existing data."""
    if partitions < 1:
        raise BadInput(f"parameter --partitions: must be at least 1 (got {partitions})")
    try:
        existing = storage.list_files(out)
    except BadInput:
        existing = []
    # A reader of OUT reads its subfolders too: data there would mix in, and --overwrite must not delete it.
    nested = [
        uri for uri in existing if uri.rstrip("/").rsplit("/", 1)[0] != storage.join(out, "").rstrip("/")
    ]
    if nested:
        folder = nested[0].rsplit("/", 1)[0]
        raise BadInput(
            f"{out}: its subfolder {folder} holds data files, which a run reading {out} reads too; "
            "generate into a folder of its own"
        )
    if existing and not overwrite:
        raise BadInput(f"{out}: already holds {len(existing)} data files; pass --overwrite to replace them")
    for old in existing:
        if not storage.is_s3(old):
            Path(old).unlink()
    written = []
    for index, chunk in enumerate(np.array_split(np.arange(len(frame)), min(partitions, len(frame)))):
        uri = storage.join(out, f"part-{index:05d}.parquet")
        storage.write_table(frame.iloc[chunk], uri)
        written.append(uri)
    return written
