"""Deploy: put the champion into serving the GitOps way, and undo it when it does not come up.

Clone the manifests repository, point the model's InferenceService at the new version (only
those lines change), commit with a message naming model, version, run and data fingerprint,
and push (rebasing when another push got there first). With ArgoCD configured, sync the
Application and wait until it is Synced and Healthy; with a canary, first serve the new
version to ``--canary-percent`` of the traffic, wait healthy, then promote it to all.
ArgoCD runs one operation at a time and, with automated sync, our push starts one: the deploy
waits for a running operation and judges the one that synced its commit (``steps.argocd``). A token
or application ArgoCD refuses fails before the first commit (77).
On any failure after the first commit: revert the commits in Git (pushed), put the registry's
``champion`` alias (and its history) back as it was before the promote, terminate an ArgoCD
operation still running and sync the revert, and exit 70. Without
ArgoCD (a local run) the commit and rollback are real and the sync is skipped. Deploying the
version the manifest already serves changes nothing.

``mlops models promote`` and ``mlops models rollback`` are the same operation by hand
(``promote_champion``, ``roll_back_champion``): the alias and a deploy commit together, or
neither, so the serving manifest always names the champion. A rollback is a forward deploy of
the champion before this one, as recorded (``steps.promote.champion_state``), not a
``git revert``: a second rollback goes one step further back.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import Field

from steps import serving_manifest
from steps.contract import StepParams, StepResult, earlier_result, log, run_step
from steps.errors import BadInput, RolledBack, StepError
from steps.gitops import Repo, ensure_local_remote
from steps.promote import ChampionState, champion_state
from steps.stopping import deferred

CHAMPION = "champion"
ROLLBACK_WAIT = 60.0  # seconds a rollback waits for a running ArgoCD operation to be terminated


class DeployParams(StepParams):
    """Deploy a registered model version through the manifests repository and ArgoCD."""

    model_name: str | None = Field(None, description="default from register")
    version: str | None = Field(None, description="default from register")
    canary_percent: int = Field(
        0, ge=0, le=99, description="serve the new version to this share first (0: no canary)"
    )
    sync_timeout: int = Field(600, ge=1, le=86_400, description="seconds to wait for Synced and Healthy")
    poll_seconds: float = Field(5.0, gt=0, le=60)
    workflow_name: str | None = Field(None, description="default: the run folder's name")


class DeployResult(StepResult):
    model_name: str
    version: str
    commit: str
    changed: bool
    synced: bool


def manifest_path(settings, model_name: str) -> str:
    return f"{settings.gitops_path.strip('/')}/{model_name}/inference-service.yaml"


class Deployment:
    """One deploy: the commits it made, so that it can undo exactly those, and the registry as it was
    before the promote it completes (``before``; None: this deploy moved no alias)."""

    def __init__(
        self,
        params: DeployParams,
        settings,
        repo: Repo,
        name: str,
        version: str,
        before: ChampionState | None = None,
    ) -> None:
        self.params, self.settings, self.repo = params, settings, repo
        self.name, self.version, self.before = name, version, before
        self.relative = manifest_path(settings, name)
        self.commits: list[str] = []
        self.argocd = None
        if settings.argocd_server:
            from steps.argocd import ArgoCD

            token = settings.argocd_token.get_secret_value() if settings.argocd_token else ""
            self.argocd = ArgoCD(settings.argocd_server, token, settings.argocd_verify_tls)

    def write(self, storage_uri: str, canary: int | None, message: str) -> None:
        path = self.repo.path(self.relative)
        if path.exists():
            text = serving_manifest.point_at(
                path.read_text(), storage_uri, self.version, canary, self.relative
            )
        else:
            document = serving_manifest.inference_service(
                self.name, storage_uri, self.version, self.settings.namespace
            )
            text = serving_manifest.point_at(
                serving_manifest.render(document), storage_uri, self.version, canary, self.relative
            )
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        with deferred("pushing the deploy commit"):  # a commit we made is pushed and remembered, or neither
            base = self.repo.head()
            self.repo.commit(message, self.relative)
            try:
                self.repo.push()
            except BaseException:
                # Not on the remote: dropped here too, so that undoing earlier commits never pushes it.
                self.repo.git("rebase", "--abort", check=False)
                self.repo.git("reset", "--quiet", "--hard", base)
                raise
            self.commits.append(self.repo.head())  # after a rebase: the commit as pushed

    def sync(self) -> bool:
        if self.argocd is None:
            log(
                "deploy",
                "no ArgoCD configured (MLOPS_ARGOCD_SERVER unset): sync skipped, the commit is the deploy",
            )
            return False
        app = self.settings.argocd_app
        # The commit as pushed; an operation already running (our push under auto-sync) is waited for.
        self.argocd.deliver(app, self.repo.head(), self.params.sync_timeout, self.params.poll_seconds)
        log("deploy", f"{app} is Synced and Healthy")
        return True

    def check_argocd(self) -> None:
        """A token or application ArgoCD refuses fails the deploy here (77), before anything changes."""
        if self.argocd is not None:
            self.argocd.check_access(self.settings.argocd_app)

    def roll_back(self, client, reason: str) -> None:
        """Revert our commits (pushed) and put the registry's champion back as it was before."""
        with deferred("rolling back"):  # Git and the registry are put back together, never one alone
            self._roll_back(client, reason)

    def _roll_back(self, client, reason: str) -> None:
        for commit in reversed(self.commits):
            self.repo.revert(commit, f"Roll back {self.name} version {self.version}: {reason}"[:200])
        if self.commits:
            self.repo.push()
            log("deploy", f"reverted {len(self.commits)} commit(s) in the manifests repository")
        if self.before is not None:
            self.before.write(client)
            if self.before.champion is not None:
                log("deploy", f"{self.name}@{CHAMPION} -> version {self.before.champion} again")
            else:
                log("deploy", f"{self.name}@{CHAMPION} removed: there was no champion before")
        if self.argocd is not None:
            try:  # an operation still running (a sync that timed out) is terminated first
                self.argocd.restore(
                    self.settings.argocd_app, self.repo.head(), ROLLBACK_WAIT, self.params.poll_seconds
                )
            except StepError as exc:
                log("deploy", f"could not request the sync of the rollback: {exc}")


@contextmanager
def undone_on_failure(deployment: Deployment, client) -> Iterator[None]:
    """A failure inside rolls the deployment back (Git and registry) and ends the step with exit 70."""
    from steps.tracking import tracking_errors

    try:
        yield
    except (StepError, OSError) as exc:
        with tracking_errors("rolling back the registry"):
            deployment.roll_back(client, str(exc))
        raise RolledBack(
            f"deploy of {deployment.name} version {deployment.version} failed and was rolled back: {exc}"
        ) from None


def put_in_serving(
    params: DeployParams,
    settings,
    client,
    name: str,
    version: str,
    message: str,
    before: ChampionState | None,
    move_registry: Callable[[], object] | None = None,
) -> DeployResult:
    """Point the manifest at ``version`` (commit, push, sync); on failure revert the commits, put the
    registry back to ``before`` and raise ``RolledBack``. The version already served: no commit.
    ``move_registry`` (the alias moved by hand) runs once the repository is cloned, as the first part
    of what a failure undoes: nothing is moved when the repository cannot be reached."""
    from steps.tracking import tracking_errors

    with tracking_errors("reading the model version"):
        storage_uri = client.get_model_version_download_uri(name, version)
    ensure_local_remote(settings.gitops_url, settings.gitops_branch)
    token = settings.gitops_token.get_secret_value() if settings.gitops_token else None
    with tempfile.TemporaryDirectory(prefix="gitops-") as workdir:
        repo = Repo(settings.gitops_url, settings.gitops_branch, Path(workdir) / "repo", token).clone()
        deployment = Deployment(params, settings, repo, name, version, before)
        deployment.check_argocd()
        path = repo.path(deployment.relative)
        if path.exists():
            current = serving_manifest.read(path.read_text(), deployment.relative)
            if (current.storage_uri, current.version, current.canary_percent) == (storage_uri, version, None):
                log(
                    "deploy",
                    f"{name} version {version} is already what {deployment.relative} serves: nothing to commit",
                )
                # A retry after a stop during the sync: judge the sync now, as the first attempt would have.
                deployed = repo.last_commit_touching(deployment.relative, f"Deploy {name} version {version}")
                deployment.commits = [deployed] if deployed and move_registry is None else []
                synced = False
                with undone_on_failure(deployment, client):
                    if move_registry is not None:
                        with deferred("moving the champion alias"):
                            move_registry()
                    if deployment.argocd is not None:
                        synced = deployment.sync()
                return DeployResult(
                    model_name=name, version=version, commit=repo.head(), changed=False, synced=synced
                )
        with undone_on_failure(deployment, client):
            if move_registry is not None:
                with deferred("moving the champion alias"):
                    move_registry()
            if params.canary_percent:
                deployment.write(
                    storage_uri, params.canary_percent, f"{message}: canary {params.canary_percent}%"
                )
                deployment.sync()
                log("deploy", f"canary at {params.canary_percent}% is healthy; promoting to all traffic")
            deployment.write(storage_uri, None, message)
            synced = deployment.sync()
        log("deploy", f"{message}: commit {deployment.commits[-1][:12]}")
        return DeployResult(
            model_name=name, version=version, commit=deployment.commits[-1], changed=True, synced=synced
        )


def deploy(params: DeployParams, settings) -> DeployResult:
    """Commit the new version to the manifests repository, sync, and roll back on failure."""
    from steps.tracking import connect, model_version, tracking_errors

    registered = (
        earlier_result(params.run_dir, "register") if not (params.model_name and params.version) else {}
    )
    if not params.version and registered.get("decision") != "promote":
        decision = registered.get("decision")
        raise BadInput(
            f"the evaluation decided {decision}: nothing to deploy (pass --version to deploy one anyway)"
        )
    name = params.model_name or registered["model_name"]
    version = str(params.version or registered["version"])
    run_name = params.workflow_name or params.run_dir.rstrip("/").rsplit("/", 1)[-1]
    with tracking_errors("reading the model version"):
        client = connect(settings)
        fingerprint = model_version(client, name, version).tags.get("mlops.data_fingerprint", "")[:12]
        state = champion_state(client, name)
    # The champion promote made: a failure puts back the one before it. Another version (by hand,
    # --version): the registry is left as it is.
    before = ChampionState(name, state.history[:-1]) if state.champion == version else None
    message = f"Deploy {name} version {version} (run {run_name}, data {fingerprint or 'unknown'})"
    return put_in_serving(params, settings, client, name, version, message, before)


def version_weights_digest(client, name: str, version: str) -> str | None:
    """The weights digest ``train`` tagged on the version's run (None: no run, or no digest)."""
    from steps.evaluate import run_weights_digest

    return run_weights_digest(client, client.get_model_version(name, version).run_id)


def promote_champion(settings, client, name: str, version: str) -> str:
    """``mlops models promote``: the alias moved to ``version`` and the manifest pointed at it, together
    (a failed push or sync puts the alias back, exit 70). Refused (65) for weights the champion has."""
    from steps.promote import promote_version
    from steps.tracking import model_version, tracking_errors

    version = str(version)
    with tracking_errors("reading the registry"):
        before = champion_state(client, name)
        fingerprint = model_version(client, name, version).tags.get("mlops.data_fingerprint", "")[:12]
        if before.champion not in (None, version):
            digest = version_weights_digest(client, name, version)
            if digest and digest == version_weights_digest(client, name, before.champion):
                raise BadInput(
                    f"{name} version {version} has the same weights as champion version {before.champion}"
                    f" (weights digest {digest}): nothing to promote or deploy"
                )
    params = DeployParams(model_name=name, version=version)
    message = f"Deploy {name} version {version} (mlops models promote, data {fingerprint or 'unknown'})"
    if before.champion == version:  # already champion: make sure it is what serves
        result = put_in_serving(params, settings, client, name, version, message, None)
        served = f"deployed: commit {result.commit[:12]}" if result.changed else "already served"
        return f"{name}@{CHAMPION} is already version {version}; {served}"

    def move() -> None:
        with tracking_errors("moving the champion alias"):
            promote_version(client, name, version)

    result = put_in_serving(params, settings, client, name, version, message, before, move)
    served = f"deployed: commit {result.commit[:12]}" if result.changed else "already served"
    return f"{name}@{CHAMPION} -> version {version} (was {before.champion or 'none'}); {served}"


def roll_back_champion(settings, client, name: str) -> str:
    """``mlops models rollback``: the champion before this one back, as a forward deploy (alias and
    a commit pointing the manifest at it, together). Each rollback goes one champion further back;
    refused (65) when none is recorded."""
    from steps.tracking import tracking_errors, version_exists

    with tracking_errors("reading the registry"):
        before = champion_state(client, name)
        if before.champion is None:
            raise BadInput(f"model {name!r} has no champion to roll back")
        history = list(before.history[:-1])
        while history and not version_exists(client, name, history[-1]):
            history.pop()  # a version deleted from the registry since: go past it
    if not history:
        raise BadInput(
            f"{name} version {before.champion} is the first champion on record: nothing to roll back to"
        )
    target = history[-1]
    message = f"Roll back {name} to version {target} (from version {before.champion}; mlops models rollback)"

    def move() -> None:
        with tracking_errors("moving the champion alias"):
            ChampionState(name, tuple(history)).write(client)

    params = DeployParams(model_name=name, version=target)
    result = put_in_serving(params, settings, client, name, target, message, before, move)
    served = f"commit {result.commit[:12]}" if result.changed else "already served"
    return f"{name}@{CHAMPION} -> version {target} (was {before.champion}); {served}"


def main(argv: list[str] | None = None) -> None:
    run_step("deploy", DeployParams, deploy, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
