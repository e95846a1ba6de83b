"""The two sides of a drift check: the current window, and the champion's reference as a profile.

The reference's profile (``steps.drift_reference``) is the kept one when this champion's data is
unchanged since it was made, or is made now from the data read again: duplicates removed as ingest
removes them, a note when the data changed since training, the champion's predictions on every row
(on the sample only, for a sampled check), the report's sample. A sampled check, or one that sets
its own tests, is made from the data read each time and kept for no one.
"""

from __future__ import annotations

import pandas as pd

from steps import drift_reference
from steps.contract import log
from steps.drift_reference import Profile
from steps.errors import BadInput, StepError
from steps.ingest import fingerprint, read_dataset
from steps.load_current import window

PREDICTION = "prediction"
# The HTML report is drawn from at most this many rows a side; the verdicts use every row.
REPORT_ROWS = 20_000


def read_current(uri: str, since: str, until: str) -> pd.DataFrame:
    """The current window of the data under ``uri``."""
    current, _ = read_dataset(uri, keep_text={"event_time"})
    return window(current, uri, since, until)


def lineage_uri(name: str, champion) -> str:
    """Where the champion's training data is, by the lineage tag ``register`` set."""
    reference_uri = champion.tags.get("mlops.data_uri")
    if not reference_uri:
        raise BadInput(
            f"{name} version {champion.version} has no mlops.data_uri lineage tag: its training data is unknown"
        )
    return reference_uri


def load_champion(name: str, champion):
    import mlflow.pyfunc

    from steps.tracking import tracking_errors

    with tracking_errors("loading the champion"):
        # The step runs in the image that trained the champion: MLflow's scan of every installed
        # distribution for mismatched requirements (1.5 s) would find none.
        return mlflow.pyfunc.load_model(f"models:/{name}/{champion.version}", suppress_warnings=True)


def sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """At most ``rows`` rows of the frame, seeded; the frame itself when it has no more."""
    return frame.sample(n=rows, random_state=seed) if rows and len(frame) > rows else frame


def kept_profile(
    storage_root: str, name: str, champion, reference_uri: str, seed: int
) -> tuple[Profile | None, str]:
    """(the kept profile or None, the key a profile of this reference has now)."""
    from steps.cache_key import data_content

    try:
        key = drift_reference.key(name, champion, data_content(reference_uri), seed, REPORT_ROWS)
    except StepError:  # data that cannot be listed: reading it says what is wrong
        return None, ""
    return drift_reference.load(storage_root, name, key), key


def made_profile(
    name: str, champion, reference_uri: str, checked: list[str], model, max_rows: int, seed: int
) -> Profile:
    """The profile of the reference read now (with the frame), of ``max_rows`` rows when given."""
    from steps.model import probabilities

    reference, _ = read_dataset(reference_uri, keep_text={"event_time"})
    reference = reference.drop_duplicates(ignore_index=True)
    trained_on = champion.tags.get("mlops.data_fingerprint", "")
    changed = bool(trained_on) and fingerprint(reference) != trained_on
    frame = sample(reference[[c for c in checked if c in reference.columns]], max_rows, seed).copy()
    frame[PREDICTION] = probabilities(model, frame)
    return drift_reference.summarise(frame, changed, sample(frame, REPORT_ROWS, seed), reference)


def note_changes(champion, reference_uri: str, profile: Profile) -> None:
    if profile.changed_since_training:
        log(
            "drift",
            f"note: {reference_uri} changed since version {champion.version} was trained (fingerprint differs)",
        )
