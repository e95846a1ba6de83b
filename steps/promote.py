"""Promote: move the registry's ``champion`` alias to this run's model version.

In the workflow it runs only ``when`` the evaluation decided ``promote``; run by hand after a
``reject`` it changes nothing and says why. The version it replaces is recorded on the new
version (``mlops.previous_champion``) so a failed deploy can put the old champion back. When
the champion it replaces was trained on other columns (evaluate's
``--replace-incompatible-champion``), it says so in the sentence every step uses.
"""

from __future__ import annotations

import sys

from pydantic import Field

from steps.contract import BadInput, StepParams, StepResult, earlier_result, log, run_step
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


def promote_version(client, name: str, version: str) -> str | None:
    """Point ``champion`` at ``version``; returns the version it pointed at before."""
    champion = find_champion(client, name)
    previous = str(champion.version) if champion is not None else None
    if previous == str(version):
        return previous
    with deferred("moving the champion alias"):  # the rollback record and the alias go together
        if previous is not None:
            client.set_model_version_tag(name, version, "mlops.previous_champion", previous)
        client.set_registered_model_alias(name, CHAMPION, version)
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
    from steps.tracking import connect, tracking_errors

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
