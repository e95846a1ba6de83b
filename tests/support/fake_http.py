"""The plumbing the test servers share: a threaded HTTP server on loopback that records every
request and hands it to a routing function."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    authorization: str
    body: Any
    query: dict[str, list[str]] | None = None


@dataclass
class Reply:
    code: int
    body: Any
    content_type: str = "application/json"


Route = Callable[[Recorded], Reply]


def not_found(message: str) -> Reply:
    """The error body gRPC-gateway servers (Argo, ArgoCD) and the Kubernetes API both carry."""
    return Reply(404, {"code": 5, "message": message, "reason": "NotFound", "status": "Failure"})


def read_request(handler: BaseHTTPRequestHandler) -> tuple[Any, Any]:
    """(body, split URL) of the request a handler is serving: JSON when it parses, else text."""
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length) if length else b""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode(errors="replace")
    return body, urlsplit(handler.path)


def reply_bytes(reply: Reply) -> bytes:
    if isinstance(reply.body, str | bytes):
        return reply.body.encode() if isinstance(reply.body, str) else reply.body
    return json.dumps(reply.body).encode()


def send(handler: BaseHTTPRequestHandler, reply: Reply, *headers: tuple[str, str]) -> None:
    """Answer with ``reply`` and a Content-Length (plus any ``headers``)."""
    data = reply_bytes(reply)
    handler.send_response(reply.code)
    handler.send_header("Content-Type", reply.content_type)
    for name, value in headers:
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def start(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``handler`` on a free loopback port in a daemon thread; (server, its URL)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"


def serve(route: Route, log: list[Recorded], token: str) -> tuple[ThreadingHTTPServer, str]:
    """Start a server on loopback; a request without ``Bearer <token>`` gets a 401."""

    class Handler(BaseHTTPRequestHandler):
        def _handle(self, method: str) -> None:
            body, parts = read_request(self)
            request = Recorded(
                method, parts.path, self.headers.get("Authorization", ""), body, parse_qs(parts.query)
            )
            log.append(request)
            if request.authorization != f"Bearer {token}":
                reply = Reply(401, {"code": 16, "message": "token not valid", "reason": "Unauthorized"})
            else:
                reply = route(request)
            send(self, reply)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PUT(self) -> None:
            self._handle("PUT")

        def log_message(self, *args: Any) -> None:
            pass

    return start(Handler)
