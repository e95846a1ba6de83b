"""A private git host on loopback: git's own smart HTTP server, ``git http-backend`` (a CGI program),
behind Python's ``http.server``, asking for a token the way GitHub and GitLab do.

The documented behaviour it follows:

- **git-http-backend(1)**: the repository is ``GIT_PROJECT_ROOT`` + ``PATH_INFO``; the backend reads
  ``REQUEST_METHOD``, ``QUERY_STRING``, ``CONTENT_TYPE``, ``CONTENT_LENGTH``, ``REMOTE_USER`` and
  ``REMOTE_ADDR``; ``GIT_HTTP_EXPORT_ALL`` serves repositories without ``git-daemon-export-ok``;
  receive-pack (push) is served only when ``REMOTE_USER`` is set, i.e. the web server authenticated
  the client. The ``Git-Protocol`` header goes in as ``HTTP_GIT_PROTOCOL`` (the backend copies it to
  ``GIT_PROTOCOL``, so protocol v2 works); a gzip request body is passed unchanged with
  ``HTTP_CONTENT_ENCODING``, which the backend inflates itself.
- **Token auth over HTTPS**: GitHub takes a token as the password of HTTP Basic auth, with
  ``x-access-token`` as the user name for an App installation token ("Authenticating as a GitHub App
  installation": ``https://x-access-token:TOKEN@github.com/owner/repo.git``); GitLab takes a personal,
  project or group access token as the password with any non-blank user name ("Personal access
  tokens": Git over HTTPS), answers ``WWW-Authenticate: Basic realm="GitLab"``, and takes no Bearer
  token on Git remotes (gitlab-org/gitlab#409822). So this host accepts
  ``Authorization: Basic base64(<non-blank user>:<token>)`` on every request (a private repository:
  reads need it too) and answers anything else, a ``Bearer`` header included, with ``401`` and
  ``WWW-Authenticate: Basic realm="..."`` (RFC 7235, RFC 7617), as git expects before it asks for
  credentials.
- **A token that may read but not write** (GitHub: no ``contents: write``; GitLab: ``read_repository``)
  gets ``403`` with a ``text/plain`` reason on a push, which git shows as ``remote: ...`` and
  ``The requested URL returned error: 403``.
- **Request bodies** (RFC 9112): ``Content-Length`` for small requests, ``Transfer-Encoding: chunked``
  once a request outgrows the client's ``http.postBuffer`` (git's large pushes); ``Expect:
  100-continue`` is answered by ``http.server`` under HTTP/1.1.

Each request is recorded (method, path, query, whether and how it was authenticated, how its body was
framed and encoded, the status sent back), never the token, so that tests can assert what was sent.
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

REALM = "argo-mlops test git host"
AUTHOR = {
    "GIT_AUTHOR_NAME": "seed",
    "GIT_AUTHOR_EMAIL": "seed@localhost",
    "GIT_COMMITTER_NAME": "seed",
    "GIT_COMMITTER_EMAIL": "seed@localhost",
}


@dataclass(frozen=True)
class GitRequest:
    """One request as the host saw it; ``user`` is the Basic user name (never the token)."""

    method: str
    path: str
    query: dict[str, list[str]]
    auth_scheme: str  # "" (no Authorization header), "Basic", "Bearer", ...
    authenticated: bool
    user: str
    chunked: bool
    content_encoding: str
    body_bytes: int
    status: int

    @property
    def service(self) -> str:
        """``git-upload-pack`` (fetch) or ``git-receive-pack`` (push), from the query or the path."""
        if "service" in self.query:
            return self.query["service"][0]
        return self.path.rsplit("/", 1)[-1] if self.path.endswith("-pack") else ""


def git_quiet(*args: str, cwd: Path | None = None, text: bool = True) -> Any:
    """Run git for the host's own bookkeeping, without the caller's git environment; its stdout."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env | AUTHOR, capture_output=True, text=text, check=True, timeout=60
    )
    return done.stdout


class GitHost:
    """Bare repositories under ``root``, served at ``http://127.0.0.1:<port>/<name>.git``.

    ``token`` may read and push; each of ``read_only_tokens`` may read only."""

    def __init__(self, root: Path, token: str, read_only_tokens: tuple[str, ...] = ()) -> None:
        self.root, self.token, self.read_only_tokens = root, token, read_only_tokens
        self.requests: list[GitRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- repositories ---

    def create(self, name: str, branch: str = "main", files: dict[str, str] | None = None) -> str:
        """A bare repository with one commit on ``branch``; returns its HTTP URL."""
        bare = self.root / name
        seed = self.root / f".{name}-seed"
        git_quiet("init", "--quiet", "--bare", "--initial-branch", branch, str(bare))
        git_quiet("init", "--quiet", "--initial-branch", branch, str(seed))
        for relative, text in (files or {"README.md": "# Serving manifests\n"}).items():
            (seed / relative).parent.mkdir(parents=True, exist_ok=True)
            (seed / relative).write_text(text)
        git_quiet("add", "--all", cwd=seed)
        git_quiet("commit", "--quiet", "-m", "Start the repository", cwd=seed)
        git_quiet("push", "--quiet", str(bare), branch, cwd=seed)
        git_quiet("config", "--file", str(bare / "config"), "gc.auto", "0")  # objects stay as pushed
        shutil.rmtree(seed)
        return self.url(name)

    def url(self, name: str) -> str:
        assert self._server is not None, "the host is not started"
        return f"http://127.0.0.1:{self._server.server_port}/{name}"

    def refs(self, name: str) -> dict[str, str]:
        """The repository's refs as they are on disk: ``{ref: sha}``."""
        lines = git_quiet(
            "--git-dir", str(self.root / name), "for-each-ref", "--format=%(refname) %(objectname)"
        )
        return dict(line.split(" ", 1) for line in lines.splitlines())

    def log(self, name: str, branch: str = "main") -> list[str]:
        return git_quiet("--git-dir", str(self.root / name), "log", "--format=%s", branch).splitlines()

    def show(self, name: str, spec: str) -> str:
        return git_quiet("--git-dir", str(self.root / name), "show", spec)

    def contents(self, name: str) -> bytes:
        """Everything the repository holds, readable: its files on disk and every object, inflated."""
        bare = self.root / name
        raw = b"".join(p.read_bytes() for p in sorted(bare.rglob("*")) if p.is_file())
        objects = git_quiet("--git-dir", str(bare), "cat-file", "--batch", "--batch-all-objects", text=False)
        return raw + objects

    # --- serving ---

    def start(self) -> GitHost:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _authenticate(self, header: str) -> tuple[str, bool, str, bool]:
        """(scheme, authenticated, user, may push) for an ``Authorization`` header."""
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "basic":
            return scheme, False, "", False
        try:
            user, _, password = base64.b64decode(credentials.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return scheme, False, "", False
        if not user:  # GitLab: any user name, but a non-blank one
            return scheme, False, "", False
        if password == self.token:
            return scheme, True, user, True
        if password in self.read_only_tokens:
            return scheme, True, user, False
        return scheme, False, "", False

    def _backend(self, request: BaseHTTPRequestHandler, path: str, query: str, user: str, body: bytes):
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "REQUEST_METHOD": request.command,
            "QUERY_STRING": query,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": user,
            "REMOTE_ADDR": request.client_address[0],
            "SERVER_PROTOCOL": "HTTP/1.1",
            "GATEWAY_INTERFACE": "CGI/1.1",
        }
        for header, variable in (
            ("Git-Protocol", "HTTP_GIT_PROTOCOL"),
            ("Content-Encoding", "HTTP_CONTENT_ENCODING"),
        ):
            if request.headers.get(header):
                env[variable] = request.headers[header]
        done = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False, timeout=120
        )
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        if done.returncode != 0 and not head:
            return 500, [("Content-Type", "text/plain")], done.stderr
        return status, headers, payload

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, chunked bodies, Expect: 100-continue

            def _body(self) -> tuple[bytes, bool]:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    parts = []
                    while True:
                        size = int(self.rfile.readline().split(b";", 1)[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass  # trailers
                            return b"".join(parts), True
                        parts.append(self.rfile.read(size))
                        self.rfile.readline()  # the CRLF after each chunk
                length = int(self.headers.get("Content-Length") or 0)
                return (self.rfile.read(length) if length else b""), False

            def _reply(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _handle(self) -> None:
                body, chunked = self._body()  # read whole before answering: the connection stays usable
                parts = urlsplit(self.path)
                path = unquote(parts.path)
                header = self.headers.get("Authorization", "")
                scheme, authenticated, user, may_push = (
                    host._authenticate(header) if header else ("", False, "", False)
                )
                pushing = "service=git-receive-pack" in parts.query or path.endswith("/git-receive-pack")
                if not authenticated:
                    status, headers, payload = (
                        401,
                        [("WWW-Authenticate", f'Basic realm="{REALM}"'), ("Content-Type", "text/plain")],
                        b"HTTP Basic: Access denied\n",
                    )
                elif pushing and not may_push:
                    repository = path.strip("/").split("/", 1)[0]
                    status, headers, payload = (
                        403,
                        [("Content-Type", "text/plain")],
                        f"Permission to {repository} denied to {user}.\n".encode(),
                    )
                elif ".." in path.split("/"):
                    status, headers, payload = 404, [("Content-Type", "text/plain")], b"Not Found\n"
                else:
                    status, headers, payload = host._backend(self, path, parts.query, user, body)
                with host._lock:
                    host.requests.append(
                        GitRequest(
                            method=self.command,
                            path=path,
                            query=parse_qs(parts.query),
                            auth_scheme=scheme,
                            authenticated=authenticated,
                            user=user,
                            chunked=chunked,
                            content_encoding=self.headers.get("Content-Encoding", ""),
                            body_bytes=len(body),
                            status=status,
                        )
                    )
                self._reply(status, headers, payload)

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@contextmanager
def git_host(root: Path, token: str, read_only_tokens: tuple[str, ...] = ()) -> Iterator[GitHost]:
    """A started ``GitHost`` under ``root``; stopped on exit."""
    root.mkdir(parents=True, exist_ok=True)
    host = GitHost(root, token, read_only_tokens).start()
    try:
        yield host
    finally:
        host.stop()
