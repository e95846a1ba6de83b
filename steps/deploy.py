"""Deploy: put the champion into serving the GitOps way, and undo it when it does not come up.

Clone the manifests repository, point the model's InferenceService at the new version (only
those lines change), commit with a message naming model, version, run and data fingerprint,
and push (rebasing when another push got there first). With ArgoCD configured, sync the
Application and wait until it is Synced and Healthy; with a canary, first serve the new
version to ``--canary-percent`` of the traffic, wait healthy, then promote it to all.
On any failure after the first commit: revert the commits in Git (pushed), point the
registry's ``champion`` alias back at the previous champion, and exit 70. Without ArgoCD (a
local run) the commit and rollback are real and the sync is skipped. Deploying the version
the manifest already serves changes nothing.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import Field

from steps import serving_manifest
from steps.contract import (
    BadInput,
    RolledBack,
    StepError,
    StepParams,
    StepResult,
    earlier_result,
    log,
    run_step,
)
from steps.gitops import Repo, ensure_local_remote
from steps.stopping import deferred

CHAMPION = "champion"


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
    """One deploy: the commits it made, so that it can undo exactly those."""

    def __init__(self, params: DeployParams, settings, repo: Repo, name: str, version: str) -> None:
        self.params, self.settings, self.repo = params, settings, repo
        self.name, self.version = name, version
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
            self.commits.append(self.repo.commit(message, self.relative))
            self.repo.push()

    def sync(self) -> bool:
        if self.argocd is None:
            log(
                "deploy",
                "no ArgoCD configured (MLOPS_ARGOCD_SERVER unset): sync skipped, the commit is the deploy",
            )
            return False
        app = self.settings.argocd_app
        previous = self.argocd.sync(app)
        self.argocd.wait_healthy(app, previous, self.params.sync_timeout, self.params.poll_seconds)
        log("deploy", f"{app} is Synced and Healthy")
        return True

    def roll_back(self, client, reason: str) -> None:
        """Revert our commits (pushed) and put the previous champion back in the registry."""
        with deferred("rolling back"):  # Git and the registry are put back together, never one alone
            self._roll_back(client, reason)

    def _roll_back(self, client, reason: str) -> None:
        for commit in reversed(self.commits):
            self.repo.revert(commit, f"Roll back {self.name} version {self.version}: {reason}"[:200])
        if self.commits:
            self.repo.push()
            log("deploy", f"reverted {len(self.commits)} commit(s) in the manifests repository")
        previous = client.get_model_version(self.name, self.version).tags.get("mlops.previous_champion")
        if previous:
            client.set_registered_model_alias(self.name, CHAMPION, previous)
            log("deploy", f"{self.name}@{CHAMPION} -> version {previous} again")
        else:
            client.delete_registered_model_alias(self.name, CHAMPION)
            log("deploy", f"{self.name}@{CHAMPION} removed: there was no champion before")
        if self.argocd is not None:
            try:
                self.argocd.sync(self.settings.argocd_app)
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


def deploy(params: DeployParams, settings) -> DeployResult:
    """Commit the new version to the manifests repository, sync, and roll back on failure."""
    from steps.tracking import connect, tracking_errors

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
        storage_uri = client.get_model_version_download_uri(name, version)
        fingerprint = client.get_model_version(name, version).tags.get("mlops.data_fingerprint", "")[:12]
    ensure_local_remote(settings.gitops_url, settings.gitops_branch)
    token = settings.gitops_token.get_secret_value() if settings.gitops_token else None
    with tempfile.TemporaryDirectory(prefix="gitops-") as workdir:
        repo = Repo(settings.gitops_url, settings.gitops_branch, Path(workdir) / "repo", token).clone()
        deployment = Deployment(params, settings, repo, name, version)
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
                deployment.commits = [deployed] if deployed else []
                synced = False
                if deployment.argocd is not None:
                    with undone_on_failure(deployment, client):
                        synced = deployment.sync()
                return DeployResult(
                    model_name=name, version=version, commit=repo.head(), changed=False, synced=synced
                )
        message = f"Deploy {name} version {version} (run {run_name}, data {fingerprint or 'unknown'})"
        with undone_on_failure(deployment, client):
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


def roll_back_champion(settings, client, name: str) -> str:
    """Champion back to the version it replaced: the deploy commit reverted, the alias moved back."""
    from mlflow.exceptions import MlflowException

    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        raise BadInput(f"model {name!r} has no champion to roll back") from None
    previous = current.tags.get("mlops.previous_champion")
    if not previous:
        raise BadInput(f"{name} version {current.version} records no previous champion to go back to")
    ensure_local_remote(settings.gitops_url, settings.gitops_branch)
    token = settings.gitops_token.get_secret_value() if settings.gitops_token else None
    with tempfile.TemporaryDirectory(prefix="gitops-") as workdir:
        repo = Repo(settings.gitops_url, settings.gitops_branch, Path(workdir) / "repo", token).clone()
        relative = manifest_path(settings, name)
        deployed = repo.last_commit_touching(relative, f"Deploy {name} version {current.version} ")
        if deployed:
            repo.revert(
                deployed,
                f"Roll back {name} version {current.version} to version {previous} (mlops models rollback)",
            )
            repo.push()
        if settings.argocd_server:
            from steps.argocd import ArgoCD

            ArgoCD(
                settings.argocd_server,
                settings.argocd_token.get_secret_value() if settings.argocd_token else "",
            ).sync(settings.argocd_app)
    client.set_registered_model_alias(name, CHAMPION, previous)
    reverted = (
        f"; reverted {deployed[:12]} in the manifests repository"
        if deployed
        else "; no deploy commit to revert"
    )
    return f"{name}@{CHAMPION} -> version {previous} (was {current.version}){reverted}"


def main(argv: list[str] | None = None) -> None:
    run_step("deploy", DeployParams, deploy, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
