"""Registry and serving agree: after every promote, rollback and run, in any order, the champion
alias names the version the serving manifest in the GitOps repository points at.

A real MLflow registry (sqlite), a real bare git repository, and the real ``mlops models`` commands
and ``promote``/``deploy`` steps: as subprocesses for the sequence the issue names, in-process
(the same code, through typer's runner) for seeded random sequences checked against a model of
what each operation must do (a stack of champions: promote pushes, rollback pops)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient
from typer.testing import CliRunner

from steps import serving_manifest
from tests.conftest import ROOT, run_step
from workflows.local.locks import FileLocks

pytestmark = pytest.mark.e2e
MODEL = "inv"
MANIFEST = f"serving/{MODEL}/inference-service.yaml"


@dataclass
class World:
    tmp: Path
    env: dict[str, str]
    client: MlflowClient
    versions: list[str] = field(default_factory=list)

    @property
    def bare(self) -> Path:
        return Path(self.env["MLOPS_STORAGE_ROOT"]) / "gitops.git"

    def add_version(self, digest: str | None = None) -> str:
        """A registered version (what ``register`` leaves), with its run's weights digest if given."""
        run_id = None
        if digest is not None:
            experiment = self.client.get_experiment_by_name(MODEL) or self.client.get_experiment(
                self.client.create_experiment(MODEL, artifact_location=(self.tmp / "artifacts").as_uri())
            )
            run_id = self.client.create_run(
                experiment.experiment_id, tags={"mlops.weights_digest": digest}
            ).info.run_id
        number = len(self.versions) + 1
        version = self.client.create_model_version(
            MODEL,
            f"s3://models/{MODEL}/{number}",
            run_id=run_id,
            tags={"mlops.data_fingerprint": f"{number:x}" * 16},
        )
        self.versions.append(str(version.version))
        return str(version.version)

    def champion(self) -> str | None:
        aliases = self.client.get_registered_model(MODEL).aliases or {}
        return str(aliases["champion"]) if "champion" in aliases else None

    def served(self) -> str | None:
        if not (self.bare / "HEAD").exists():
            return None
        shown = subprocess.run(
            ["git", "--git-dir", str(self.bare), "show", f"main:{MANIFEST}"],
            capture_output=True,
            text=True,
            check=False,
        )
        return serving_manifest.read(shown.stdout, MANIFEST).version if shown.returncode == 0 else None

    def commits(self) -> list[str]:
        return subprocess.run(
            ["git", "--git-dir", str(self.bare), "log", "--format=%s", "main"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()

    def run_dir(self, version: str) -> Path:
        """A run folder as the training run leaves it for promote and deploy: register and evaluate said promote."""
        run_dir = self.tmp / "runs" / f"run-v{version}"
        for step, result in {
            "register": {"model_name": MODEL, "version": version, "decision": "promote"},
            "evaluate": {"decision": "promote", "reason": "better", "schema_change": None},
        }.items():
            (run_dir / step).mkdir(parents=True, exist_ok=True)
            (run_dir / step / "result.json").write_text(json.dumps(result))
        return run_dir


@pytest.fixture
def world(tmp_path, monkeypatch) -> World:
    env = {
        "MLOPS_STORAGE_ROOT": str(tmp_path / ".mlops"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "MLOPS_MODEL_NAME": MODEL,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("MLOPS_GITOPS_REPO_URL", "MLOPS_ARGOCD_SERVER", "MLOPS_GITOPS_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    client = MlflowClient(env["MLFLOW_TRACKING_URI"], registry_uri=env["MLFLOW_TRACKING_URI"])
    client.create_registered_model(MODEL)
    return World(tmp_path, env, client)


def assert_agree(world: World, after: str) -> None:
    assert world.champion() == world.served(), (
        f"after {after}: champion {world.champion()} but the manifest serves {world.served()}"
    )


# --- the sequence the issue names, as a user runs it: real subprocesses ---


def mlops(world: World, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workflows.cli", *args],
        env=os.environ | world.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def training_run(world: World) -> str:
    """What a promoting training run does after register: the promote and deploy steps."""
    version = world.add_version()
    run_dir = world.run_dir(version)
    for step in ("promote", "deploy"):
        done = run_step(
            step, "--run-dir", str(run_dir), "--model-name", MODEL, "--version", version, env=world.env
        )
        assert done.returncode == 0, f"{step}: {done.stderr[-2000:]}"
    return version


def test_promote_promote_rollback_rollback_run_rollback_keeps_registry_and_serving_equal(world):
    one, two = world.add_version(), world.add_version()
    steps = [
        ("promote 1", ("models", "promote", one), one),
        ("promote 2", ("models", "promote", two), two),
        ("rollback", ("models", "rollback"), one),
    ]
    for what, args, expected in steps:
        done = mlops(world, *args)
        assert done.returncode == 0, f"{what}: {done.stderr}"
        assert world.champion() == expected, what
        assert_agree(world, what)
    # Nothing before version 1: refused in one line, nothing changed.
    before = world.commits()
    refused = mlops(world, "models", "rollback")
    assert refused.returncode == 65, refused.stderr
    assert refused.stderr.strip() == (
        f"error: {MODEL} version {one} is the first champion on record: nothing to roll back to"
    )
    assert world.commits() == before and world.champion() == one
    three = training_run(world)
    assert world.champion() == three
    assert_agree(world, "run")
    rolled = mlops(world, "models", "rollback")
    assert rolled.returncode == 0, rolled.stderr
    assert f"{MODEL}@champion -> version {one} (was {three})" in rolled.stderr
    assert world.champion() == one
    assert_agree(world, "rollback after the run")
    # Rollback is a forward commit naming the version, not a revert.
    assert world.commits()[0] == (
        f"Roll back {MODEL} to version {one} (from version {three}; mlops models rollback)"
    )


# --- seeded random sequences, in-process: the same commands through typer's runner ---


class Expected:
    """What the operations must do: a stack of champions, the champion on top."""

    def __init__(self) -> None:
        self.stack: list[str] = []

    def promote(self, version: str) -> None:
        if not self.stack or self.stack[-1] != version:
            self.stack.append(version)

    def rollback(self) -> bool:
        if len(self.stack) < 2:
            return False
        self.stack.pop()
        return True

    @property
    def champion(self) -> str | None:
        return self.stack[-1] if self.stack else None


def cli(*args: str):
    from workflows.cli.app import app

    return CliRunner().invoke(app, list(args))


def run_in_process(world: World) -> str:
    from steps.deploy import DeployParams, deploy
    from steps.promote import PromoteParams, promote
    from workflows.settings import load_settings

    version = world.add_version()
    run_dir = str(world.run_dir(version))
    settings = load_settings()
    assert promote(PromoteParams(run_dir=run_dir, model_name=MODEL, version=version), settings).promoted
    deploy(DeployParams(run_dir=run_dir, model_name=MODEL, version=version), settings)
    return version


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sequences_of_promote_rollback_and_run_keep_registry_and_serving_equal(world, seed):
    chooser = random.Random(seed)
    expected = Expected()
    for _ in range(3):
        world.add_version()
    done_ops = []
    for _ in range(16):
        operation = chooser.choice(["promote", "promote", "rollback", "rollback", "run"])
        if operation == "promote":
            version = chooser.choice(world.versions)
            result = cli("models", "promote", version)
            assert result.exit_code == 0, result.output
            expected.promote(version)
            done_ops.append(f"promote {version}")
        elif operation == "rollback":
            result = cli("models", "rollback")
            assert result.exit_code == (0 if expected.rollback() else 65), result.output
            done_ops.append("rollback")
        else:
            expected.promote(run_in_process(world))
            done_ops.append("run")
        assert world.champion() == expected.champion, done_ops
        assert_agree(world, ", ".join(done_ops))


def test_promote_whose_push_fails_puts_the_alias_back(world):
    one, two = world.add_version(), world.add_version()
    assert cli("models", "promote", one).exit_code == 0
    hook = world.bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are closed' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = world.commits()
    failed = mlops(world, "models", "promote", two)
    assert failed.returncode == 70, failed.stderr
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "was rolled back" in errors[0], failed.stderr
    assert "git push failed: remote: pushes are closed" in errors[0]
    assert world.champion() == one and world.served() == one and world.commits() == before
    hook.unlink()
    # The record is as it was: promoting again works, and a rollback goes back to version 1.
    assert cli("models", "promote", two).exit_code == 0 and world.served() == two
    assert cli("models", "rollback").exit_code == 0 and world.champion() == world.served() == one


def test_rollback_with_no_champion_is_refused_in_one_line(world):
    world.add_version()
    refused = mlops(world, "models", "rollback")
    assert refused.returncode == 65
    assert refused.stderr.strip() == f"error: model '{MODEL}' has no champion to roll back"


def test_promote_of_the_champions_weights_is_refused_and_deploys_nothing(world):
    one = world.add_version(digest="aaaa1111bbbb2222")
    same = world.add_version(digest="aaaa1111bbbb2222")
    other = world.add_version(digest="cccc3333dddd4444")
    assert cli("models", "promote", one).exit_code == 0
    before = world.commits()
    refused = mlops(world, "models", "promote", same)
    assert refused.returncode == 65, refused.stderr
    assert refused.stderr.strip() == (
        f"error: {MODEL} version {same} has the same weights as champion version {one}"
        " (weights digest aaaa1111bbbb2222): nothing to promote or deploy"
    )
    assert world.commits() == before and world.champion() == world.served() == one
    assert cli("models", "promote", other).exit_code == 0 and world.served() == other


def test_rollback_whose_sync_fails_leaves_champion_serving_and_record_as_they_were(world, monkeypatch):
    from tests.support.fake_argocd import FakeArgoCD

    one, two = world.add_version(), world.add_version()
    assert cli("models", "promote", one).exit_code == 0 and cli("models", "promote", two).exit_code == 0
    fake = FakeArgoCD("serving", "argocd-token", scenario="sync-error")
    server, url = fake.serve()
    monkeypatch.setenv("MLOPS_ARGOCD_SERVER", url)
    monkeypatch.setenv("MLOPS_ARGOCD_APP", "serving")
    monkeypatch.setenv("MLOPS_ARGOCD_TOKEN", "argocd-token")
    try:
        failed = cli("models", "rollback")
    finally:
        server.shutdown()
    assert failed.exit_code == 70, failed.output
    assert "was rolled back" in failed.output and "sync of serving failed" in failed.output
    assert [r.path for r in fake.requests if r.method == "POST"][0] == "/api/v1/applications/serving/sync"
    assert world.champion() == world.served() == two
    undone, rollback = world.commits()[:2]  # the rollback's commit, reverted
    assert rollback == f"Roll back {MODEL} to version {one} (from version {two}; mlops models rollback)"
    assert undone.startswith(f"Roll back {MODEL} version {one}: sync of serving failed")
    monkeypatch.delenv("MLOPS_ARGOCD_SERVER")
    assert cli("models", "rollback").exit_code == 0 and world.champion() == world.served() == one


def test_a_promote_by_hand_waits_for_the_models_running_training(world):
    one, two = world.add_version(digest="aaaa1111bbbb2222"), world.add_version(digest="cccc3333dddd4444")
    assert cli("models", "promote", one).exit_code == 0
    manifest = yaml.safe_load((ROOT / "manifests" / "training.yaml").read_text())
    mutex = manifest["spec"]["synchronization"]["mutexes"][0]["name"]
    held = mutex.replace("{{workflow.parameters.model-name}}", MODEL)
    # the lock a local run of this model holds for its whole run, taken here as the executor takes it
    with FileLocks(Path(world.env["MLOPS_STORAGE_ROOT"]) / "locks", [held]):
        promoting = subprocess.Popen(
            [sys.executable, "-m", "workflows.cli", "models", "promote", two],
            env=os.environ | world.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        said = iter(promoting.stderr.readline, "")  # blocks until the line, or ends if the process does
        assert f"waiting for mutex '{held}' (another run of this model holds it)\n" in said
        assert (
            promoting.poll() is None and world.champion() == world.served() == one
        )  # nothing moved meanwhile
    assert promoting.wait(timeout=300) == 0, promoting.stderr.read()
    assert world.champion() == world.served() == two
