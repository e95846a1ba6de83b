"""Promote: move the registry's ``champion`` alias to this run's model version.

In the workflow it runs only ``when`` the evaluation decided ``promote``; run by hand after a
``reject`` it changes nothing and says why. Every champion is recorded, in order, on the
registered model (tag ``mlops.champion_history``, oldest first, the champion last) so that a
failed deploy and ``mlops models rollback`` go back to the version it replaced, and a second
rollback one further; the version it replaces is also tagged on the new version
(``mlops.previous_champion``). When the champion it replaces was trained on other columns
(evaluate's ``--replace-incompatible-champion``), it says so in the sentence every step uses.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from pydantic import Field

from steps.contract import StepParams, StepResult, earlier_result, log, run_step
from steps.errors import BadInput
from steps.evaluate import CHAMPION, find_champion
from steps.schema import ColumnComparison, compare_columns, input_columns
from steps.stopping import deferred


class PromoteParams(StepParams):
    """Alias this run's registered version champion, when its evaluation said promote."""

    model_name: str | None = Field(None, description="registered model; default from register")
    version: str | None = Field(None, description="version to promote; default from register")


class PromoteResult(StepResult):
    model_name: str
    champion_version: str
    previous_champion: str | None
    promoted: bool
    # Set when the champion replaced was trained on other columns than this version.
    schema_change: ColumnComparison | None = None


HISTORY_TAG = "mlops.champion_history"
PREVIOUS_TAG = "mlops.previous_champion"
# Champions kept on record (a registered model tag holds at most 5000 characters).
HISTORY_LIMIT = 100


@dataclass(frozen=True)
class ChampionState:
    """The registry's side of serving: the champion and the champions before it, oldest first
    (``history[-1]`` is the champion; empty when there is none)."""

    name: str
    history: tuple[str, ...]

    @property
    def champion(self) -> str | None:
        return self.history[-1] if self.history else None

    def write(self, client) -> None:
        """Make the registry say this: the history first, then the alias (``champion_state`` reads
        the history up to the alias, so a stop between the two leaves the state before, intact)."""
        from mlflow.exceptions import MlflowException

        client.set_registered_model_tag(self.name, HISTORY_TAG, ",".join(self.history[-HISTORY_LIMIT:]))
        if self.champion is None:
            try:
                client.delete_registered_model_alias(self.name, CHAMPION)
            except MlflowException as exc:  # no alias to delete: already as wanted
                if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
                    raise
        else:
            client.set_registered_model_alias(self.name, CHAMPION, self.champion)


def champion_state(client, name: str) -> ChampionState:
    """The champion (the alias: the truth) and its recorded predecessors.

    The recorded history is cut after the alias's last place in it (a promote that stopped between
    its two writes, or an alias moved back by hand), or extended by the alias when it is not in it
    (a rollback that stopped between its two writes, a champion set by hand, or one from before the
    history was kept: then the version it replaced, as tagged on it, is the one before)."""
    champion = find_champion(client, name)
    if champion is None:
        return ChampionState(name, ())
    current = str(champion.version)
    tags = client.get_registered_model(name).tags or {}
    recorded = [v for v in tags.get(HISTORY_TAG, "").split(",") if v]
    if current in recorded:
        last = len(recorded) - 1 - recorded[::-1].index(current)
        return ChampionState(name, tuple(recorded[: last + 1]))
    if not recorded and champion.tags.get(PREVIOUS_TAG):
        recorded = [champion.tags[PREVIOUS_TAG]]
    return ChampionState(name, (*recorded, current))


def promote_version(client, name: str, version: str) -> str | None:
    """Point ``champion`` at ``version`` and record it; returns the version it pointed at before."""
    before = champion_state(client, name)
    previous = before.champion
    if previous == str(version):
        return previous
    with deferred("moving the champion alias"):  # the rollback record and the alias go together
        if previous is not None:
            client.set_model_version_tag(name, version, PREVIOUS_TAG, previous)
        ChampionState(name, (*before.history, str(version))).write(client)
    return previous


def schema_change(client, name: str, version: str, run_dir: str) -> ColumnComparison | None:
    """The champion's columns against this version's: as this run's evaluation found them, or, run
    by hand without one, from the two versions' signatures. None when they agree or there is no
    other champion."""
    try:
        evaluated = earlier_result(run_dir, "evaluate")
    except BadInput:
        evaluated = None
    if evaluated is not None:
        found = evaluated.get("schema_change")
        return ColumnComparison.model_validate(found) if found else None
    champion = find_champion(client, name)
    if champion is None or str(champion.version) == str(version):
        return None
    expected = input_columns(f"models:/{name}/{champion.version}")
    available = input_columns(f"models:/{name}/{version}")
    if expected is None or available is None:
        return None
    columns = compare_columns(name, champion.version, expected, available)
    return None if columns.compatible else columns


def promote(params: PromoteParams, settings) -> PromoteResult:
    """Move the champion alias to this run's version (after a promote decision)."""
    from steps.tracking import connect, model_version, tracking_errors

    registered = (
        earlier_result(params.run_dir, "register") if not (params.model_name and params.version) else {}
    )
    name = params.model_name or registered["model_name"]
    version = params.version or registered["version"]
    decision = registered.get("decision", "promote")
    with tracking_errors("promoting the model"):
        client = connect(settings)
        if decision != "promote":
            reason = earlier_result(params.run_dir, "evaluate").get("reason", "")
            champion = find_champion(client, name)
            log("promote", f"not promoted: the evaluation decided {decision} ({reason})")
            current = str(champion.version) if champion is not None else ""
            return PromoteResult(
                model_name=name, champion_version=current, previous_champion=current or None, promoted=False
            )
        model_version(client, name, version)  # an unknown version is bad input, before anything moves
        changed = schema_change(client, name, version, params.run_dir)
        previous = promote_version(client, name, version)
    replaced = f"; {changed.sentence()}" if changed is not None and previous != str(version) else ""
    log("promote", f"{name}@{CHAMPION} -> version {version} (was {previous or 'none'}){replaced}")
    return PromoteResult(
        model_name=name,
        champion_version=str(version),
        previous_champion=previous,
        promoted=True,
        schema_change=changed,
    )


def main(argv: list[str] | None = None) -> None:
    run_step("promote", PromoteParams, promote, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
