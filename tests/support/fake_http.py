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


def serve(route: Route, log: list[Recorded], token: str) -> tuple[ThreadingHTTPServer, str]:
    """Start a server on loopback; a request without ``Bearer <token>`` gets a 401."""

    class Handler(BaseHTTPRequestHandler):
        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            parts = urlsplit(self.path)
            request = Recorded(
                method, parts.path, self.headers.get("Authorization", ""), body, parse_qs(parts.query)
            )
            log.append(request)
            if request.authorization != f"Bearer {token}":
                reply = Reply(401, {"code": 16, "message": "token not valid", "reason": "Unauthorized"})
            else:
                reply = route(request)
            if isinstance(reply.body, str | bytes):
                data = reply.body.encode() if isinstance(reply.body, str) else reply.body
            else:
                data = json.dumps(reply.body).encode()
            self.send_response(reply.code)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PUT(self) -> None:
            self._handle("PUT")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}"
