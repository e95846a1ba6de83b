"""Promote: move the registry's ``champion`` alias to this run's model version.

In the workflow it runs only ``when`` the evaluation decided ``promote``; run by hand after a
``reject`` it changes nothing and says why. The version it replaces is recorded on the new
version (``mlops.previous_champion``) so a failed deploy can put the old champion back.
"""

from __future__ import annotations

import sys

from pydantic import Field

from steps.contract import StepParams, StepResult, earlier_result, log, run_step
from steps.evaluate import CHAMPION, find_champion


class PromoteParams(StepParams):
    """Alias this run's registered version champion, when its evaluation said promote."""

    model_name: str | None = Field(None, description="registered model; default from register")
    version: str | None = Field(None, description="version to promote; default from register")


class PromoteResult(StepResult):
    model_name: str
    champion_version: str
    previous_champion: str | None
    promoted: bool


def promote_version(client, name: str, version: str) -> str | None:
    """Point ``champion`` at ``version``; returns the version it pointed at before."""
    champion = find_champion(client, name)
    previous = str(champion.version) if champion is not None else None
    if previous == str(version):
        return previous
    if previous is not None:
        client.set_model_version_tag(name, version, "mlops.previous_champion", previous)
    client.set_registered_model_alias(name, CHAMPION, version)
    return previous


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
        previous = promote_version(client, name, version)
    log("promote", f"{name}@{CHAMPION} -> version {version} (was {previous or 'none'})")
    return PromoteResult(
        model_name=name, champion_version=str(version), previous_champion=previous, promoted=True
    )


def main(argv: list[str] | None = None) -> None:
    run_step("promote", PromoteParams, promote, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
