"""The GitOps manifests repository: clone, edit, commit, push (rebasing when the remote moved on),
revert. Plain ``git`` in subprocesses; a token travels as an HTTP header through git's
environment config, never in a URL, an argument, a log line or the repository."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path

from steps.contract import log
from steps.errors import BadSetting, PermissionDenied, StepError, Transient

AUTHOR = {"GIT_AUTHOR_NAME": "argo-mlops", "GIT_AUTHOR_EMAIL": "argo-mlops@localhost"}
PUSH_ATTEMPTS = 4
# What git prints when the host wants credentials it did not get or refused (HTTP 401), and when it
# refuses the ones it got (403, ssh, file permissions). Whole phrases: a bare "401" would also match a
# port or a URL ("port 40312: Connection refused" is unreachable, not denied).
_ASKS_CREDENTIALS = re.compile(
    r"could not read (Username|Password)|Authentication failed|returned error: 401\b|terminal prompts disabled"
)
_DENIED = re.compile(r"returned error: 403\b|Permission denied|Permission to \S+ denied")
_UNREACHABLE = (
    "Could not resolve host",
    "Connection refused",
    "timed out",
    "Connection reset",
    "unable to access",
)
# A URL or branch that names nothing: a setting to correct, not a failure a retry fixes.
_NO_REPOSITORY = re.compile(
    r"repository '[^']*' (not found|does not exist)|does not appear to be a git repository|Repository not found"
)
_NO_BRANCH = re.compile(r"Remote branch (\S+) not found")


class GitError(StepError):
    """A git command failed in a way no retry fixes."""


class Repo:
    """A working clone of the manifests repository."""

    def __init__(self, url: str, branch: str, workdir: Path, token: str | None = None) -> None:
        self.url, self.branch, self.workdir, self.token = url, branch, workdir, token

    def _env(self) -> dict[str, str]:
        env = (
            os.environ
            | AUTHOR
            | {
                "GIT_COMMITTER_NAME": AUTHOR["GIT_AUTHOR_NAME"],
                "GIT_COMMITTER_EMAIL": AUTHOR["GIT_AUTHOR_EMAIL"],
                "GIT_TERMINAL_PROMPT": "0",
            }
        )
        if self.token:
            # Appended after any GIT_CONFIG_* the environment already sets (a CA bundle, a proxy).
            count = env.get("GIT_CONFIG_COUNT", "")
            index = int(count) if count.isdigit() else 0
            env |= {
                "GIT_CONFIG_COUNT": str(index + 1),
                f"GIT_CONFIG_KEY_{index}": "http.extraHeader",
                f"GIT_CONFIG_VALUE_{index}": f"Authorization: Basic {self._basic()}",
            }
        return env

    def _basic(self) -> str:
        """HTTP Basic credentials for the token, as GitHub (user ``x-access-token``) and GitLab (any
        non-blank user) take a token over HTTPS: the token is the password."""
        return base64.b64encode(f"x-access-token:{self.token}".encode()).decode()

    def _redacted(self, text: str) -> str:
        if self.token:
            text = text.replace(self.token, "***").replace(self._basic(), "***")
        return re.sub(r"(://)[^/@\s]*@", r"\1***@", text)  # credentials written into a URL

    def git(self, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd or self.workdir,
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and done.returncode != 0:
            raise self._error(args[0], done.stderr)
        return done

    def _error(self, command: str, stderr: str) -> StepError:
        first = self._redacted(next((line for line in stderr.splitlines() if line.strip()), "no message"))
        where = self._redacted(self.url)
        if _ASKS_CREDENTIALS.search(stderr):
            if self.token:
                return PermissionDenied(
                    f"git {command}: the manifests repository {where} refused the token in"
                    " MLOPS_GITOPS_TOKEN (HTTP 401): check that it is valid and not expired"
                )
            return PermissionDenied(
                f"git {command}: the manifests repository {where} asks for credentials (HTTP 401):"
                " set MLOPS_GITOPS_TOKEN to a token that may read and push to it"
            )
        if _DENIED.search(stderr):
            return PermissionDenied(f"git {command} to the manifests repository {where} was refused: {first}")
        if any(marker in stderr for marker in _UNREACHABLE):
            return Transient(f"git {command}: the manifests repository is unreachable: {first}")
        if _NO_REPOSITORY.search(stderr):
            return BadSetting(
                f"git {command}: there is no manifests repository at {where} (or the token may not see it):"
                " set MLOPS_GITOPS_REPO_URL to the repository ArgoCD syncs"
            )
        missing = _NO_BRANCH.search(stderr)
        if missing:
            return BadSetting(
                f"git {command}: the manifests repository {where} has no branch {missing.group(1)!r}:"
                " set MLOPS_GITOPS_BRANCH to the branch ArgoCD syncs"
            )
        return GitError(f"git {command} failed: {first}")

    def clone(self) -> Repo:
        self.workdir.parent.mkdir(parents=True, exist_ok=True)
        self.git(
            "clone", "--quiet", "--branch", self.branch, self.url, str(self.workdir), cwd=self.workdir.parent
        )
        return self

    def path(self, relative: str) -> Path:
        return self.workdir / relative

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").stdout.strip()

    def commit(self, message: str, *paths: str) -> str:
        self.git("add", "--", *paths)
        self.git("commit", "--quiet", "-m", message)
        return self.head()

    def push(self) -> None:
        """Push; when the remote moved on, rebase onto it and try again."""
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            done = self.git("push", "--quiet", "origin", f"HEAD:{self.branch}", check=False)
            if done.returncode == 0:
                return
            rejected = (
                "rejected" in done.stderr or "fetch first" in done.stderr or "non-fast-forward" in done.stderr
            )
            if not rejected or attempt == PUSH_ATTEMPTS:
                raise self._error("push", done.stderr)
            log("deploy", f"push rejected: the manifests repository moved on; rebasing (attempt {attempt})")
            self.git("pull", "--quiet", "--rebase", "origin", self.branch)

    def revert(self, commit: str, message: str) -> str:
        self.git("revert", "--no-edit", commit)
        self.git("commit", "--quiet", "--amend", "-m", message)
        return self.head()

    def last_commit_touching(self, relative: str, grep: str) -> str | None:
        done = self.git("log", "-1", "--format=%H", f"--grep={grep}", "--", relative)
        return done.stdout.strip() or None


def ensure_local_remote(url: str, branch: str) -> None:
    """Create the local bare manifests repository (with a first commit) if it does not exist."""
    if not url.startswith("file://"):
        return
    bare = Path(url[len("file://") :])
    if (bare / "HEAD").exists():
        return
    env = (
        os.environ
        | AUTHOR
        | {"GIT_COMMITTER_NAME": "argo-mlops", "GIT_COMMITTER_EMAIL": "argo-mlops@localhost"}
    )
    bare.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["git", "init", "--quiet", "--bare", "--initial-branch", branch, str(bare)], check=True, env=env
    )
    seed = bare.parent / f".{bare.name}-seed"
    subprocess.run(["git", "init", "--quiet", "--initial-branch", branch, str(seed)], check=True, env=env)
    (seed / "README.md").write_text(
        "# Serving manifests\n\nWritten by argo-mlops deploys; synced by ArgoCD.\n"
    )
    for command in (
        ["add", "README.md"],
        ["commit", "--quiet", "-m", "Start the manifests repository"],
        ["push", "--quiet", str(bare), branch],
    ):
        subprocess.run(["git", *command], cwd=seed, check=True, env=env, capture_output=True)
    shutil.rmtree(seed)
    log("deploy", f"created the local manifests repository {bare}")
