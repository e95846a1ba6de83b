"""deploy: a real bare git remote, a test ArgoCD server on loopback, a real MLflow registry.

A healthy sync deploys; a Degraded app, a failed sync and a timeout each end in a revert
commit, the champion alias restored and exit 70 (a sync still running at the timeout terminated
before the revert's sync); the ArgoCD requests are checked (method, path, query, auth, body); a
push that lost a race is rebased and succeeds; no token leaks anywhere. ArgoCD's one-operation
rule, auto-sync and refused tokens: tests/e2e/test_deploy_argocd.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from steps.gitops import Repo, ensure_local_remote
from tests.conftest import run_step
from tests.support.fake_argocd import FakeArgoCD

pytestmark = pytest.mark.e2e
APP, MODEL = "fraud-serving", "svc"
ARGOCD_TOKEN, GIT_TOKEN = "argocd-token-7f3a9c", "git-token-51bd02"
MANIFEST = f"serving/{MODEL}/inference-service.yaml"


@pytest.fixture
def world(tmp_path):
    return make_world(tmp_path)


def make_world(tmp_path) -> dict:
    """A registry with versions 1 (the old champion) and 2 (the new one), and an empty remote."""
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking)
    client.create_registered_model(MODEL)
    for number in (1, 2):
        client.create_model_version(
            MODEL, f"s3://models/{MODEL}/{number}", tags={"mlops.data_fingerprint": f"{number}" * 16}
        )
    client.set_model_version_tag(MODEL, "2", "mlops.previous_champion", "1")
    client.set_registered_model_alias(MODEL, "champion", "1")
    remote = (tmp_path / "remote.git").as_uri()
    ensure_local_remote(remote, "main")
    env = {
        "MLFLOW_TRACKING_URI": tracking,
        "MLOPS_STORAGE_ROOT": str(tmp_path / ".mlops"),
        "MLOPS_GITOPS_REPO_URL": remote,
        "MLOPS_GITOPS_TOKEN": GIT_TOKEN,
        "MLOPS_ARGOCD_APP": APP,
        "MLOPS_ARGOCD_TOKEN": ARGOCD_TOKEN,
    }
    return {"client": client, "remote": remote, "env": env, "tmp": tmp_path}


def deploy(world, fake: FakeArgoCD | None, version: str, *extra: str):
    env = dict(world["env"])
    if fake is not None:
        server, url = fake.serve()
        env["MLOPS_ARGOCD_SERVER"] = url
    run_dir = world["tmp"] / "runs" / f"deploy-v{version}"
    done = run_step(
        "deploy",
        "--run-dir",
        str(run_dir),
        "--model-name",
        MODEL,
        "--version",
        version,
        "--poll-seconds",
        "0.05",
        *extra,
        env=env,
    )
    if fake is not None:
        server.shutdown()
    return done


def remote_log(world) -> list[str]:
    bare = world["remote"][len("file://") :]
    return subprocess.run(
        ["git", "--git-dir", bare, "log", "--format=%s", "main"], capture_output=True, text=True, check=True
    ).stdout.splitlines()


def revision(world, name: str) -> str:
    bare = world["remote"][len("file://") :]
    return subprocess.run(
        ["git", "--git-dir", bare, "rev-parse", name], capture_output=True, text=True, check=True
    ).stdout.strip()


def argocd(world, **options) -> FakeArgoCD:
    """The ArgoCD double, its Application following the test's remote."""
    return FakeArgoCD(APP, ARGOCD_TOKEN, repo=world["remote"][len("file://") :], **options)


def served(world, revision: str = "main") -> dict:
    bare = world["remote"][len("file://") :]
    shown = subprocess.run(
        ["git", "--git-dir", bare, "show", f"{revision}:{MANIFEST}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return yaml.safe_load(shown.stdout) if shown.returncode == 0 else {}


def champion(world) -> str:
    return str(world["client"].get_model_version_by_alias(MODEL, "champion").version)


def test_healthy_sync_deploys_and_argocd_got_the_right_requests(world):
    fake = argocd(world)
    done = deploy(world, fake, "1")
    assert done.returncode == 0, done.stderr
    assert done.result["changed"] is True and done.result["synced"] is True
    assert remote_log(world)[0] == f"Deploy {MODEL} version 1 (run deploy-v1, data 111111111111)"
    manifest = served(world)
    assert manifest["spec"]["predictor"]["model"]["storageUri"] == f"s3://models/{MODEL}/1"
    assert manifest["metadata"]["annotations"]["argo-mlops/model-version"] == "1"
    syncs = [r for r in fake.requests if r.method != "GET"]
    assert [(r.method, r.path, r.body, r.status) for r in syncs] == [
        ("POST", f"/api/v1/applications/{APP}/sync", {"prune": True}, 200)
    ]
    assert syncs[0].headers["Content-Type"] == "application/json"
    assert {r.authorization for r in fake.requests} == {f"Bearer {ARGOCD_TOKEN}"}
    assert all(r.query == {} for r in fake.requests)
    assert all(r.path == f"/api/v1/applications/{APP}" for r in fake.requests if r.method == "GET")
    assert sum(r.method == "GET" for r in fake.requests) >= 4  # before the sync, then until settled
    deployed = fake.operations[-1]  # the sync asked for no revision: ArgoCD took the branch's commit
    assert (deployed.revision, deployed.phase) == (done.result["commit"], "Succeeded")


def test_deploying_the_served_version_again_changes_nothing(world):
    assert deploy(world, argocd(world), "1").returncode == 0
    before = remote_log(world)
    fake = argocd(world)
    again = deploy(world, fake, "1")
    assert again.returncode == 0 and again.result["changed"] is False
    assert remote_log(world) == before
    assert [r.method for r in fake.requests] == ["GET", "GET"]  # ArgoCD has synced that commit: judged


@pytest.mark.parametrize(
    ("scenario", "timeout", "reason", "asked"),
    [
        ("degraded", "30", "is Degraded after the sync", ["POST", "POST"]),
        ("sync-error", "30", "sync of fraud-serving failed", ["POST", "POST"]),
        ("never-finishes", "1", "not Synced and Healthy after 1s", ["POST", "DELETE", "POST"]),
    ],
)
def test_failed_deploy_is_reverted_and_the_champion_restored(world, scenario, timeout, reason, asked):
    assert deploy(world, argocd(world), "1").returncode == 0
    world["client"].set_registered_model_alias(MODEL, "champion", "2")  # what promote did
    fake = argocd(world, scenario=scenario)
    failed = deploy(world, fake, "2", "--sync-timeout", timeout)
    assert failed.returncode == 70, failed.stderr
    errors = failed.error_lines()
    assert len(errors) == 1 and "was rolled back" in errors[0] and reason in errors[0], failed.stderr
    log = remote_log(world)
    assert log[0].startswith(f"Roll back {MODEL} version 2") and log[1].startswith(
        f"Deploy {MODEL} version 2"
    )
    assert served(world)["spec"]["predictor"]["model"]["storageUri"] == f"s3://models/{MODEL}/1"
    assert champion(world) == "1"
    # Our sync, then the revert's (a sync still running terminated first), each accepted.
    assert [(r.method, r.status) for r in fake.requests if r.method != "GET"] == [(m, 200) for m in asked]
    assert fake.operations[-1].revision == revision(world, "main")


def test_canary_goes_healthy_at_its_share_then_to_all(world):
    assert deploy(world, argocd(world), "1").returncode == 0
    fake = argocd(world)
    done = deploy(world, fake, "2", "--canary-percent", "10")
    assert done.returncode == 0, done.stderr
    assert remote_log(world)[:2] == [
        f"Deploy {MODEL} version 2 (run deploy-v2, data 222222222222)",
        f"Deploy {MODEL} version 2 (run deploy-v2, data 222222222222): canary 10%",
    ]
    canary, promoted = served(world, "main~1")["spec"]["predictor"], served(world)["spec"]["predictor"]
    assert (canary["canaryTrafficPercent"], canary["model"]["storageUri"]) == (10, f"s3://models/{MODEL}/2")
    assert (
        "canaryTrafficPercent" not in promoted and promoted["model"]["storageUri"] == f"s3://models/{MODEL}/2"
    )
    assert [(r.method, r.body, r.status) for r in fake.requests if r.method != "GET"] == [
        ("POST", {"prune": True}, 200)
    ] * 2
    # ArgoCD synced the canary's commit, then the promotion's, each to health.
    assert [(o.revision, o.phase) for o in fake.operations[1:]] == [
        (revision(world, "main~1"), "Succeeded"),
        (revision(world, "main"), "Succeeded"),
    ]


def test_a_push_that_lost_the_race_is_rebased_and_succeeds(world, tmp_path):
    ours = Repo(world["remote"], "main", tmp_path / "ours").clone()
    theirs = Repo(world["remote"], "main", tmp_path / "theirs").clone()
    (theirs.path("other.txt")).write_text("a teammate's change\n")
    theirs.commit("Someone else's commit", "other.txt")
    theirs.push()
    (ours.path("mine.txt")).write_text("the deploy\n")
    ours.commit("Our deploy", "mine.txt")
    ours.push()  # rejected first (the remote moved on), then rebased and pushed
    assert remote_log(world)[:2] == ["Our deploy", "Someone else's commit"]


def test_no_token_appears_in_logs_outputs_run_records_or_the_repository(world):
    runs = [
        deploy(world, argocd(world), "1"),
        deploy(world, argocd(world, scenario="degraded"), "2"),
    ]
    bare = world["remote"][len("file://") :]
    history = subprocess.run(
        ["git", "--git-dir", bare, "log", "-p", "--all"], capture_output=True, text=True, check=True
    ).stdout
    texts = [history] + [r.stdout + r.stderr + "".join(r.outputs.values()) for r in runs]
    texts += [
        p.read_text(errors="replace")
        for p in Path(world["tmp"]).rglob("*")
        if p.is_file() and p.suffix in (".json", ".yaml", ".log", ".txt")
    ]
    for token in (ARGOCD_TOKEN, GIT_TOKEN):
        assert not any(token in text for text in texts), token
