"""deploy against ArgoCD's one-operation-at-a-time rule (issue 21 item 3), with a real bare git remote
and a real MLflow registry; the ArgoCD double refuses what ArgoCD refuses (tests/support/fake_argocd.py).

- With automated sync, our own push starts an operation: the deploy waits for it and judges it
  (phase, the commit it synced, then health) instead of taking the refusal of its own sync for a
  failure; an operation on an older commit is waited out before ours is synced.
- A rollback terminates a running operation (``DELETE .../operation``) before it syncs the revert.
- A token or application ArgoCD refuses fails the step with 77 before anything is changed: the
  deploy reads the Application before it commits.

The double's timing is driven by the requests (each GET is one look of its controller), so nothing
here depends on how fast the machine is."""

from __future__ import annotations

import subprocess

import pytest

from tests.e2e.test_deploy import (
    APP,
    ARGOCD_TOKEN,
    MODEL,
    argocd,
    champion,
    deploy,
    make_world,
    remote_log,
    served,
)
from tests.support.fake_argocd import FakeArgoCD

pytestmark = pytest.mark.e2e
APPLICATION = f"/api/v1/applications/{APP}"


@pytest.fixture
def world(tmp_path):
    return make_world(tmp_path)


def bare(world) -> str:
    return world["remote"][len("file://") :]


def head(world) -> str:
    return subprocess.run(
        ["git", "--git-dir", bare(world), "rev-parse", "main"], capture_output=True, text=True, check=True
    ).stdout.strip()


def changes(fake: FakeArgoCD) -> list[tuple[str, str, int]]:
    """What the deploy asked ArgoCD to do (every request but a GET), and the status it got."""
    return [(r.method, r.path, r.status) for r in fake.requests if r.method != "GET"]


def assert_sent_properly(fake: FakeArgoCD) -> None:
    """Every request: the token as a Bearer header, no query; a sync sends JSON ``{"prune": true}``
    and no revision (under auto-sync ArgoCD refuses any revision but the target's); a GET or a
    terminate sends no body."""
    for request in fake.requests:
        assert request.authorization == f"Bearer {ARGOCD_TOKEN}", request
        assert request.headers["Authorization"] == f"Bearer {ARGOCD_TOKEN}"
        assert request.query == {}, request
        if request.method == "POST":
            assert request.path == f"{APPLICATION}/sync"
            assert request.body == {"prune": True}
            assert request.headers["Content-Type"] == "application/json"
        else:
            assert request.body is None, request
            assert (request.method, request.path) in {
                ("GET", APPLICATION),
                ("DELETE", f"{APPLICATION}/operation"),
            }


def test_the_auto_sync_our_push_started_is_awaited_and_judged_not_rolled_back(world):
    fake = argocd(world, auto_sync="prompt")
    done = deploy(world, fake, "1")
    assert done.returncode == 0, done.stderr
    assert done.result["changed"] is True and done.result["synced"] is True
    assert remote_log(world)[0].startswith(f"Deploy {MODEL} version 1")
    assert changes(fake) == []  # nothing to ask: the controller synced our commit
    assert_sent_properly(fake)
    ours = fake.operations[-1]
    assert (ours.revision, ours.automated, ours.phase) == (head(world), True, "Succeeded")
    assert done.result["commit"] == head(world)


def test_a_sync_refused_because_the_auto_sync_got_there_first_waits_for_that_one(world):
    fake = argocd(world, auto_sync="races")
    done = deploy(world, fake, "1")
    assert done.returncode == 0, done.stderr
    assert remote_log(world)[0].startswith(f"Deploy {MODEL} version 1")
    # Our one sync request met the auto-sync of our push: refused (400), and not sent again.
    assert changes(fake) == [("POST", f"{APPLICATION}/sync", 400)]
    assert_sent_properly(fake)
    ours = fake.operations[-1]
    assert (ours.revision, ours.automated, ours.phase) == (head(world), True, "Succeeded")


@pytest.mark.parametrize("auto_sync", ["prompt", None])
def test_an_operation_on_an_older_commit_is_waited_out_then_ours_is_synced(world, auto_sync):
    older = head(world)
    fake = argocd(world, auto_sync=auto_sync, in_progress=3)
    done = deploy(world, fake, "1")
    assert done.returncode == 0, done.stderr
    assert remote_log(world)[0].startswith(f"Deploy {MODEL} version 1")
    ours = head(world)
    assert [(o.revision, o.phase) for o in fake.operations] == [(older, "Succeeded"), (ours, "Succeeded")]
    if auto_sync:  # the controller synced our commit once the older operation ended
        assert changes(fake) == [] and fake.operations[-1].automated
    else:  # we asked for it once the older one ended: never refused
        assert changes(fake) == [("POST", f"{APPLICATION}/sync", 200)]
        assert not fake.operations[-1].automated
    assert_sent_properly(fake)


def test_a_rollback_after_a_timeout_terminates_the_running_sync_then_syncs_the_revert(world):
    assert deploy(world, argocd(world), "1").returncode == 0
    world["client"].set_registered_model_alias(MODEL, "champion", "2")  # what promote did
    fake = argocd(world, scenario="never-finishes")
    failed = deploy(world, fake, "2", "--sync-timeout", "1")
    assert failed.returncode == 70, failed.stderr
    errors = failed.error_lines()
    assert len(errors) == 1 and "was rolled back" in errors[0] and "after 1s" in errors[0], failed.stderr
    log = remote_log(world)
    assert log[0].startswith(f"Roll back {MODEL} version 2") and log[1].startswith(
        f"Deploy {MODEL} version 2"
    )
    assert served(world)["spec"]["predictor"]["model"]["storageUri"] == f"s3://models/{MODEL}/1"
    assert champion(world) == "1"
    # Our sync, still running at the timeout, is terminated before the revert's sync is asked for.
    assert changes(fake) == [
        ("POST", f"{APPLICATION}/sync", 200),
        ("DELETE", f"{APPLICATION}/operation", 200),
        ("POST", f"{APPLICATION}/sync", 200),
    ]
    assert_sent_properly(fake)
    _, deployed, revert = fake.operations
    assert (deployed.phase, deployed.message) == ("Failed", "Operation terminated")
    assert revert.revision == head(world) and not revert.automated


def test_a_failed_auto_sync_is_rolled_back_and_the_revert_left_to_the_controller(world):
    assert deploy(world, argocd(world), "1").returncode == 0
    world["client"].set_registered_model_alias(MODEL, "champion", "2")
    fake = argocd(world, auto_sync="prompt", scenario="sync-error")
    failed = deploy(world, fake, "2")
    assert failed.returncode == 70, failed.stderr
    errors = failed.error_lines()
    assert len(errors) == 1 and "sync of fraud-serving failed" in errors[0], failed.stderr
    assert "another operation" not in failed.stderr
    log = remote_log(world)
    assert log[0].startswith(f"Roll back {MODEL} version 2") and log[1].startswith(
        f"Deploy {MODEL} version 2"
    )
    assert champion(world) == "1"
    # The controller synced our commit (failed) and then the revert; nothing to terminate or ask.
    assert changes(fake) == []
    assert_sent_properly(fake)
    _, deployed, revert = fake.operations
    assert deployed.automated and deployed.phase == "Failed"
    assert revert.automated and revert.revision == head(world)


@pytest.mark.parametrize(
    ("setting", "value", "said"),
    [
        ("MLOPS_ARGOCD_TOKEN", "not-the-token", "401 invalid session"),
        ("MLOPS_ARGOCD_APP", "someone-elses-app", "403 permission denied"),
    ],
)
def test_a_token_or_application_argocd_refuses_fails_with_77_before_anything_changes(
    world, setting, value, said
):
    assert deploy(world, argocd(world), "1").returncode == 0
    world["client"].set_registered_model_alias(MODEL, "champion", "2")
    before = remote_log(world)
    world["env"][setting] = value
    fake = argocd(world)
    refused = deploy(world, fake, "2")
    assert refused.returncode == 77, refused.stderr
    errors = refused.error_lines()
    assert len(errors) == 1 and said in errors[0] and setting in errors[0], refused.stderr
    assert ARGOCD_TOKEN not in refused.stderr and "not-the-token" not in refused.stderr
    assert remote_log(world) == before  # no deploy commit, no revert
    assert champion(world) == "2"  # the registry is not the deploy's to touch here
    token = value if setting == "MLOPS_ARGOCD_TOKEN" else ARGOCD_TOKEN
    app = value if setting == "MLOPS_ARGOCD_APP" else APP
    assert [(r.method, r.path, r.authorization, r.body) for r in fake.requests] == [
        ("GET", f"/api/v1/applications/{app}", f"Bearer {token}", None)
    ]


def test_a_token_that_may_read_but_not_sync_is_found_after_the_push_and_rolled_back(world):
    """ArgoCD can only tell at the sync that a token may not sync; by then the commit is pushed, so
    the contract's answer is the rollback (70), naming the refusal."""
    assert deploy(world, argocd(world), "1").returncode == 0
    world["client"].set_registered_model_alias(MODEL, "champion", "2")
    fake = argocd(world, may_sync=False)
    failed = deploy(world, fake, "2")
    assert failed.returncode == 70, failed.stderr
    errors = failed.error_lines()
    assert len(errors) == 1 and "403 permission denied: applications, sync" in errors[0], failed.stderr
    assert remote_log(world)[0].startswith(f"Roll back {MODEL} version 2")
    assert champion(world) == "1"
    assert changes(fake) == [("POST", f"{APPLICATION}/sync", 403), ("POST", f"{APPLICATION}/sync", 403)]
    assert_sent_properly(fake)
