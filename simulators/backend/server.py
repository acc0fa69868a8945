"""The reference backend: a real HTTP server (ThreadingHTTPServer) over its own SQLite database.

    with BackendServer(tmp / "backend.db") as backend:
        backend.url  # http://127.0.0.1:PORT

``stop()`` then ``start()`` serve again on the same port (a backend outage in tests). Operations
are listed in :data:`simulators.backend.routes.ROUTES`; authentication is by bearer token when any
token is registered (``add_token``), open otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from simulators.backend.http import HttpProblem, Principal, Request, Response, Route
from simulators.backend.routes import ROUTES
from simulators.backend.store import BackendStore
from simulators.broker import free_port

log = logging.getLogger("simulators.backend")

MAX_BODY = 256 * 1024 * 1024


class BackendServer:
    def __init__(
        self,
        db_path: str | Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        routes: list[Route] | None = None,
    ) -> None:
        self.store = BackendStore(db_path)
        self.host = host
        self.port = port or free_port()
        self.routes = [(r, r.pattern()) for r in (routes if routes is not None else ROUTES)]
        self.requests = 0
        #: fault injection for tests: answer 503 after committing the next N event batches
        self.fault_after_commit = 0
        #: fault injection for tests: (file name, n) cuts the next download of that file after n bytes
        self.download_limit: tuple[str, int] | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add_token(self, token: str, role: str, store: str | None = None) -> None:
        self.store.add_token(token, role, store)

    def start(self) -> None:
        if self._httpd is not None:
            return
        handler = type("BoundHandler", (_Handler,), {"backend": self})
        ThreadingHTTPServer.allow_reuse_address = True
        httpd = ThreadingHTTPServer((self.host, self.port), handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="backend-http", daemon=True)
        self._thread.start()
        log.info("reference backend on %s", self.url)

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:  # kept-alive connections would otherwise go on being served
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread:
            self._thread.join(5)
        self._httpd = None
        self._thread = None

    def close(self) -> None:
        self.stop()
        self.store.close()

    def __enter__(self) -> BackendServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ dispatch
    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        self.requests += 1
        split = urlsplit(target)
        path_matched = False
        for route, pattern in self.routes:
            m = pattern.match(split.path)
            if not m:
                continue
            path_matched = True
            if route.method != method:
                continue
            params = m.groupdict()
            try:
                principal = self._authorise(route, params, headers)
                request = Request(
                    method=method,
                    path=split.path,
                    params=params,
                    query=dict(parse_qsl(split.query)),
                    headers=headers,
                    body=body,
                    store=self.store,
                    principal=principal,
                    server=self,
                )
                return route.handler(request)
            except HttpProblem as exc:
                return Response.problem(exc.status, exc.detail)
            except Exception as exc:
                log.exception("handler %s %s failed", method, route.path)
                return Response.problem(500, f"internal error: {type(exc).__name__}")
        if path_matched:
            return Response.problem(405, f"{method} not allowed on {split.path}")
        return Response.problem(404, f"no operation at {split.path}")

    def _authorise(self, route: Route, params: dict[str, str], headers: dict[str, str]) -> Principal:
        if route.auth == "none" or not self.store.has_tokens():
            return Principal("anonymous", None)
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            raise HttpProblem(401, "missing bearer token")
        found = self.store.token(auth[len("Bearer ") :])
        if found is None:
            raise HttpProblem(401, "unknown token")
        role, store = found
        if role == "admin":
            return Principal("admin", None)
        if route.auth == "admin":
            raise HttpProblem(403, "this operation needs an admin token")
        if "store" in params and params["store"] != store:
            raise HttpProblem(403, f"token is for store {store!r}, not {params['store']!r}")
        return Principal("gateway", store)


class _Handler(BaseHTTPRequestHandler):
    backend: BackendServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        with self.backend._conns_lock:
            self.backend._conns.add(self.connection)

    def finish(self) -> None:
        with self.backend._conns_lock:
            self.backend._conns.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(Response.problem(413, f"body over {MAX_BODY} bytes"))
            return
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        self._send(self.backend.handle(self.command, self.path, headers, body))

    def _send(self, response: Response) -> None:
        truncate = response.headers.pop("X-Truncate-After", None)
        self.send_response(response.status)
        for k, v in response.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(response.body)))
        if truncate is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body if truncate is None else response.body[: int(truncate)])
        if truncate is not None:
            self.close_connection = True

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve
