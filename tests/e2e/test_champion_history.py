"""The champion history on a real registry (sqlite): what ``champion_state`` reads when a promote or
a rollback stopped between its two writes, when the alias was moved by hand, and for a model
promoted before the history was kept."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from steps.promote import HISTORY_TAG, ChampionState, champion_state, promote_version

pytestmark = pytest.mark.e2e
NAME = "hist"


@pytest.fixture
def client(tmp_path) -> MlflowClient:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri, registry_uri=uri)
    client.create_registered_model(NAME)
    for number in range(1, 5):
        client.create_model_version(NAME, f"s3://models/{number}")
    return client


def history(client) -> tuple[str, ...]:
    return champion_state(client, NAME).history


def test_promotes_are_recorded_in_order_and_a_repeat_is_not(client):
    assert history(client) == ()
    for version in ("1", "2", "2", "3", "1"):
        promote_version(client, NAME, version)
    assert history(client) == ("1", "2", "3", "1")
    assert client.get_model_version(NAME, "1").tags["mlops.previous_champion"] == "3"


def test_a_stop_between_the_two_writes_leaves_the_state_before(client):
    ChampionState(NAME, ("1", "2", "3")).write(client)
    # A promote of 4 that wrote its history but not the alias: 4 was never champion.
    client.set_registered_model_tag(NAME, HISTORY_TAG, "1,2,3,4")
    assert history(client) == ("1", "2", "3")
    # A rollback to 2 that wrote its history but not the alias: still at 3.
    client.set_registered_model_tag(NAME, HISTORY_TAG, "1,2")
    assert history(client) == ("1", "2", "3")


def test_an_alias_moved_by_hand_and_a_champion_from_before_the_history(client):
    ChampionState(NAME, ("1", "2", "3")).write(client)
    client.set_registered_model_alias(NAME, "champion", "2")  # back by hand: as a rollback
    assert history(client) == ("1", "2")
    client.set_registered_model_alias(NAME, "champion", "4")  # forward by hand: as a promote
    assert history(client) == ("1", "2", "3", "4")
    client.delete_registered_model_tag(NAME, HISTORY_TAG)  # promoted before the history was kept
    client.set_model_version_tag(NAME, "4", "mlops.previous_champion", "2")
    assert history(client) == ("2", "4")
    ChampionState(NAME, ()).write(client)
    assert history(client) == () and "champion" not in client.get_registered_model(NAME).aliases
    ChampionState(NAME, ()).write(client)  # no alias to remove: nothing to do
