"""The GitOps token over git's smart HTTP, against a private git host on loopback (``git http-backend``
behind a server that asks for a token the way GitHub and GitLab do: tests/support/git_http.py).

With the right token, clone, push (a large push chunked), a fetch (gzipped), a rebase after a lost
race and a whole deploy work, every request carrying Basic credentials; with no token or a wrong one,
one clear line and exit 77; a read-only token's push is refused (77 from git, 70 from a deploy, which
undoes its commit); the remote, the registry and the temporary folder stay as they were. The token,
raw or base64-encoded as in the header that carries it, is nowhere the step wrote or printed, nor in
the remote's refs and objects, nor in any git config or credential store left on disk."""

from __future__ import annotations

import base64
import os
import socket
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from steps.errors import EXIT_BAD_SETTING, EXIT_PERMISSION, BadSetting, PermissionDenied, Transient
from steps.gitops import Repo
from tests.conftest import run_step
from tests.support.git_http import GitHost, git_host

pytestmark = pytest.mark.e2e
TOKEN, READ_ONLY, WRONG = "ghp_gitopsToken4f9c2e7a1b", "ghp_readOnlyToken0d3b8e", "ghp_notTheToken77a0c"
MODEL = "svc"
MANIFEST = f"serving/{MODEL}/inference-service.yaml"
REPO = "serving.git"


def encodings(secret: str) -> list[bytes]:
    """The secret raw, and its base64 at each of the 3 alignments it can take inside a longer
    encoded text (``x-access-token:<token>`` in a Basic header, or anything else around it)."""
    forms = [secret.encode()]
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + secret.encode())
        forms.append(encoded[3:-4])  # only the characters no neighbour byte can change
    return forms


def leaks(secret: str, texts: dict[str, bytes]) -> list[str]:
    return [where for where, text in texts.items() for form in encodings(secret) if form in text]


def files_under(*roots: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for root in roots for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def host(tmp_path) -> GitHost:
    with git_host(tmp_path / "host", TOKEN, read_only_tokens=(READ_ONLY,)) as started:
        started.create(REPO)
        yield started


@pytest.fixture(autouse=True)
def _no_token_from_the_shell(monkeypatch):
    monkeypatch.delenv("MLOPS_GITOPS_TOKEN", raising=False)
    for name in [k for k in os.environ if k.startswith("GIT_CONFIG_")]:
        monkeypatch.delenv(name)


# --- the Repo class over smart HTTP ---


def test_the_token_clones_and_pushes_as_basic_credentials_on_every_request(host, tmp_path):
    repo = Repo(host.url(REPO), "main", tmp_path / "clone", TOKEN).clone()
    repo.path("a.txt").write_text("a deploy\n")
    repo.commit("A deploy", "a.txt")
    repo.push()

    assert host.log(REPO) == ["A deploy", "Start the repository"]
    calls = [(r.method, r.path, r.service) for r in host.requests]
    assert calls[0] == ("GET", f"/{REPO}/info/refs", "git-upload-pack")
    assert set(calls[1:-2]) == {("POST", f"/{REPO}/git-upload-pack", "git-upload-pack")}
    assert calls[-2:] == [
        ("GET", f"/{REPO}/info/refs", "git-receive-pack"),
        ("POST", f"/{REPO}/git-receive-pack", "git-receive-pack"),
    ]
    # Sent up front (no 401 round trip), as GitHub documents installation tokens: user x-access-token.
    assert {(r.auth_scheme, r.authenticated, r.user, r.status) for r in host.requests} == {
        ("Basic", True, "x-access-token", 200)
    }
    written = files_under(repo.workdir / ".git") | {"host": host.contents(REPO)}
    written["recorded requests"] = repr(host.requests).encode()
    assert leaks(TOKEN, written) == [], (repo.workdir / ".git" / "config").read_text()


def test_a_large_push_goes_chunked_and_a_lost_race_is_rebased_over_http(host, tmp_path):
    ours = Repo(host.url(REPO), "main", tmp_path / "ours", TOKEN).clone()
    theirs = Repo(host.url(REPO), "main", tmp_path / "theirs", TOKEN).clone()
    theirs.path("other.txt").write_text("a teammate's change\n")
    theirs.commit("Someone else's commit", "other.txt")
    theirs.push()
    ours.path("weights.bin").write_bytes(os.urandom(1_200_000))  # over git's 1 MiB http.postBuffer
    ours.commit("Our deploy", "weights.bin")
    host.requests.clear()

    ours.push()  # rejected (the remote moved on), pulled with rebase, pushed

    assert host.log(REPO) == ["Our deploy", "Someone else's commit", "Start the repository"]
    pushes = [r for r in host.requests if r.method == "POST" and r.service == "git-receive-pack"]
    assert {r.status for r in pushes if r.chunked and r.body_bytes > 1_000_000} == {200}, pushes
    assert any(r.method == "POST" and r.service == "git-upload-pack" for r in host.requests)  # the pull
    assert all(r.authenticated for r in host.requests)


def test_a_fetch_that_outgrows_1_kib_is_sent_gzipped_and_served(host, tmp_path):
    theirs = Repo(host.url(REPO), "main", tmp_path / "theirs", TOKEN).clone()
    ours = Repo(host.url(REPO), "main", tmp_path / "ours", TOKEN).clone()
    for number in range(40):  # 40 refs ours lacks: 40 "want" lines, over the 1 KiB git gzips from
        theirs.git("commit", "--quiet", "--allow-empty", "-m", f"Theirs {number}")
        theirs.git("branch", f"b{number}")
    theirs.git("push", "--quiet", "origin", "refs/heads/b*:refs/heads/b*")
    host.requests.clear()

    ours.git("fetch", "--quiet", "origin")

    fetches = [r for r in host.requests if r.method == "POST" and r.service == "git-upload-pack"]
    assert {r.status for r in fetches if r.content_encoding == "gzip"} == {200}, fetches
    assert ours.git("rev-parse", "origin/b39").stdout == theirs.git("rev-parse", "b39").stdout


@pytest.mark.parametrize(
    ("token", "says"),
    [
        (None, "asks for credentials (HTTP 401): set MLOPS_GITOPS_TOKEN"),
        (WRONG, "refused the token in MLOPS_GITOPS_TOKEN (HTTP 401)"),
    ],
)
def test_no_token_or_a_wrong_one_is_permission_denied_in_one_line(host, tmp_path, capsys, token, says):
    before = host.refs(REPO)
    with pytest.raises(PermissionDenied) as refused:
        Repo(host.url(REPO), "main", tmp_path / "work" / "clone", token).clone()

    message = str(refused.value)
    assert refused.value.exit_code == EXIT_PERMISSION == 77
    assert message.startswith(f"git clone: the manifests repository {host.url(REPO)} ") and says in message
    assert "\n" not in message
    assert [(r.path, r.status) for r in host.requests] == [(f"/{REPO}/info/refs", 401)]
    assert host.requests[0].auth_scheme == ("Basic" if token else "")
    assert host.refs(REPO) == before and list((tmp_path / "work").iterdir()) == []
    if token:
        out = capsys.readouterr()
        assert leaks(token, {"message": message.encode(), "out": (out.out + out.err).encode()}) == []


def test_a_read_only_token_clones_but_its_push_is_refused_and_the_remote_unchanged(host, tmp_path):
    repo = Repo(host.url(REPO), "main", tmp_path / "clone", READ_ONLY).clone()
    repo.path("a.txt").write_text("a deploy\n")
    repo.commit("A deploy", "a.txt")
    before = host.refs(REPO)

    with pytest.raises(PermissionDenied) as refused:
        repo.push()

    assert str(refused.value) == (
        f"git push to the manifests repository {host.url(REPO)} was refused:"
        " remote: Permission to serving.git denied to x-access-token."
    )
    assert host.refs(REPO) == before and host.requests[-1].status == 403
    assert leaks(READ_ONLY, {"message": str(refused.value).encode(), "host": host.contents(REPO)}) == []


def test_a_host_that_is_down_is_transient_whatever_digits_its_port_has(tmp_path):
    port = free_port_containing(("401", "403"))  # once read as HTTP 401/403 in git's message
    with pytest.raises(Transient) as unreachable:
        Repo(f"http://127.0.0.1:{port}/{REPO}", "main", tmp_path / "clone", TOKEN).clone()
    assert "unreachable" in str(unreachable.value) and str(port) in str(unreachable.value)


@pytest.mark.parametrize(
    ("repository", "branch", "setting", "says"),
    [
        ("no-such.git", "main", "MLOPS_GITOPS_REPO_URL", "there is no manifests repository at"),
        (REPO, "release", "MLOPS_GITOPS_BRANCH", "has no branch 'release'"),
    ],
)
def test_a_url_or_branch_that_names_nothing_is_a_bad_setting_in_one_line(
    host, tmp_path, repository, branch, setting, says
):
    with pytest.raises(BadSetting) as wrong:
        Repo(host.url(repository), branch, tmp_path / "work" / "clone", TOKEN).clone()
    message = str(wrong.value)
    assert wrong.value.exit_code == EXIT_BAD_SETTING == 78
    assert says in message and setting in message and "\n" not in message, message
    assert leaks(TOKEN, {"message": message.encode()}) == []


def test_a_local_path_that_is_no_repository_is_a_bad_setting(tmp_path):
    with pytest.raises(BadSetting) as wrong:
        Repo(str(tmp_path / "nowhere.git"), "main", tmp_path / "clone").clone()
    assert "MLOPS_GITOPS_REPO_URL" in str(wrong.value) and str(tmp_path / "nowhere.git") in str(wrong.value)


def test_the_token_keeps_the_git_config_the_environment_already_sets(host, tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "mlops.probe")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "kept")
    repo = Repo(host.url(REPO), "main", tmp_path / "clone", TOKEN).clone()
    assert repo.git("config", "mlops.probe", check=False).stdout.strip() == "kept"
    assert all(r.authenticated for r in host.requests)


def free_port_containing(digits: tuple[str, ...]) -> int:
    for port in range(40100, 40400):
        if any(d in str(port) for d in digits):
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port with those digits")


# --- the deploy step as a subprocess, pushing over HTTP ---


@pytest.fixture
def world(tmp_path, host):
    """A registry with versions 1 (the champion) and 2; the manifests repository on the git host; a
    HOME whose git would store any credential it was given, and a TMPDIR of the test's own."""
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking)
    client.create_registered_model(MODEL)
    for number in (1, 2):
        client.create_model_version(
            MODEL, f"s3://models/{MODEL}/{number}", tags={"mlops.data_fingerprint": f"{number}" * 16}
        )
    client.set_registered_model_alias(MODEL, "champion", "1")
    home, scratch = tmp_path / "home", tmp_path / "tmpdir"
    home.mkdir()
    scratch.mkdir()
    (home / ".gitconfig").write_text("[credential]\n\thelper = store\n")
    env = {
        "MLFLOW_TRACKING_URI": tracking,
        "MLOPS_STORAGE_ROOT": str(tmp_path / ".mlops"),
        "MLOPS_GITOPS_REPO_URL": host.url(REPO),
        "HOME": str(home),
        "TMPDIR": str(scratch),
    }
    return {"client": client, "env": env, "tmp": tmp_path, "home": home, "scratch": scratch}


def deploy(world, version: str, token: str | None):
    env = world["env"] | ({"MLOPS_GITOPS_TOKEN": token} if token else {})
    run_dir = world["tmp"] / "runs" / f"deploy-v{version}"
    done = run_step("deploy", "--run-dir", str(run_dir), "--model-name", MODEL, "--version", version, env=env)
    return done, run_dir


def registry_state(client) -> tuple:
    model = client.get_registered_model(MODEL)
    versions = client.search_model_versions(f"name = '{MODEL}'")
    return dict(model.aliases), sorted((v.version, v.source, tuple(sorted(v.tags.items()))) for v in versions)


def everything_written(world, host: GitHost, *runs) -> dict[str, bytes]:
    texts = files_under(world["tmp"]) | {"host objects": host.contents(REPO)}
    for number, run in enumerate(runs):
        texts[f"run {number} streams"] = (run.stdout + run.stderr + "".join(run.outputs.values())).encode()
    return texts


def test_deploy_pushes_over_http_with_the_token_and_leaves_it_nowhere(world, host):
    done, run_dir = deploy(world, "1", TOKEN)

    assert done.returncode == 0, done.stderr
    assert done.result["changed"] is True
    assert host.log(REPO)[0] == f"Deploy {MODEL} version 1 (run deploy-v1, data 111111111111)"
    manifest = yaml.safe_load(host.show(REPO, f"main:{MANIFEST}"))
    assert manifest["spec"]["predictor"]["model"]["storageUri"] == f"s3://models/{MODEL}/1"
    assert host.refs(REPO)["refs/heads/main"] == done.result["commit"]
    assert [r.method for r in host.requests if r.service == "git-receive-pack"] == ["GET", "POST"]
    assert {(r.auth_scheme, r.authenticated, r.status) for r in host.requests} == {("Basic", True, 200)}
    assert list(world["scratch"].iterdir()) == []  # the clone (and its .git/config) is gone
    assert not (world["home"] / ".git-credentials").exists()  # git never held the token as a credential
    assert (run_dir / "deploy" / "result.json").exists()
    assert leaks(TOKEN, everything_written(world, host, done)) == []


@pytest.mark.parametrize(
    ("token", "says"),
    [
        (
            None,
            "asks for credentials (HTTP 401): set MLOPS_GITOPS_TOKEN to a token that may read and push to it",
        ),
        (WRONG, "refused the token in MLOPS_GITOPS_TOKEN (HTTP 401): check that it is valid and not expired"),
    ],
)
def test_deploy_without_the_right_token_exits_77_in_one_line_and_changes_nothing(world, host, token, says):
    refs, registry = host.refs(REPO), registry_state(world["client"])

    done, run_dir = deploy(world, "2", token)

    assert done.returncode == 77, done.stderr
    assert done.error_lines() == [
        f"deploy: error: git clone: the manifests repository {host.url(REPO)} {says}"
    ], done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert host.refs(REPO) == refs and registry_state(world["client"]) == registry
    assert all(r.status == 401 and r.service == "git-upload-pack" for r in host.requests)
    assert list(world["scratch"].iterdir()) == [] and not (run_dir / "deploy" / "result.json").exists()
    assert done.outputs == {}
    if token:
        assert leaks(token, everything_written(world, host, done)) == []


def test_the_host_refuses_a_bearer_token_as_gitlab_does(host):
    """The host's own contract: Basic only; a Bearer header is answered 401 with a Basic challenge."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{host.url(REPO)}/info/refs?service=git-upload-pack", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 401
    assert refused.value.headers["WWW-Authenticate"].startswith('Basic realm="')
    assert host.requests[-1].auth_scheme == "Bearer" and not host.requests[-1].authenticated


def test_deploy_with_a_read_only_token_undoes_its_commit_and_changes_nothing(world, host):
    refs, registry = host.refs(REPO), registry_state(world["client"])

    done, run_dir = deploy(world, "2", READ_ONLY)

    assert done.returncode == 70, done.stderr  # refused after its local commit: rolled back, not retried
    assert done.error_lines() == [
        f"deploy: error: deploy of {MODEL} version 2 failed and was rolled back: git push to the manifests"
        f" repository {host.url(REPO)} was refused: remote: Permission to {REPO} denied to x-access-token."
    ], done.stderr
    assert host.refs(REPO) == refs and registry_state(world["client"]) == registry
    assert [r.status for r in host.requests if r.service == "git-receive-pack"] == [403]
    assert list(world["scratch"].iterdir()) == [] and not (run_dir / "deploy" / "result.json").exists()
    assert leaks(READ_ONLY, everything_written(world, host, done)) == []
