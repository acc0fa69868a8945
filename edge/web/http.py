"""Serving an ASGI app on the daemon's side: uvicorn in one thread, with bounded connections and time.

    server = HttpServer(app, host, port, HttpLimits())   # binds now (port 0: a free one)
    server.start() ; server.port ; server.stop()

What a slow or hostile client can hold (a shop floor's network is not a trusted one):

* **threads**: one, the event loop; blocking work (SQLite, disk, scrypt) goes to at most
  ``HttpLimits.workers`` threads (an ``anyio.CapacityLimiter`` the routes run it through). Idle or
  half-open connections cost no thread at all.
* **connections**: at most ``max_connections`` open at once. A new one past that closes the oldest
  connection that is waiting for a request (idle, or headers still arriving); when every one is busy
  the new one is closed instead. So a real request always gets in while a flood of idle ones churns.
* **time**: a connection must deliver a complete request (headers and body) within
  ``request_timeout_s`` of opening or of its previous request (checked every ``request_timeout_s``, so
  it is closed after one to two of them), and an idle keep-alive connection is closed after
  ``keep_alive_s`` (uvicorn's own timer).
* **listen backlog**: ``backlog`` connections waiting to be accepted (the old stdlib server had 5).

uvicorn has no timeout for a connection that sends nothing or half a request, so :class:`_Guarded`
adds one to uvicorn's h11 protocol (uvicorn's version is pinned in constraints.txt; the test
``tests/integration/test_dashboard_server.py`` holds this behaviour to account).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("edge.web.http")


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What one client may hold; the defaults are the daemon's."""

    max_connections: int = 256
    request_timeout_s: float = 10.0
    keep_alive_s: int = 5
    backlog: int = 128
    workers: int = 4


class _Guarded(H11Protocol):
    """uvicorn's HTTP/1.1 protocol plus a request deadline and a cap on open connections.

    Subclassed per server (:meth:`HttpServer._protocol`) so ``_open`` and ``_limits`` are that
    server's: ``_open`` holds its connections, oldest first.
    """

    _limits: HttpLimits
    _open: dict[_Guarded, None]
    _seen: object
    _watch: asyncio.TimerHandle | None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._seen = None  # the request cycle seen at the last check (None: no request yet)
        self._watch = self.loop.call_later(self._limits.request_timeout_s, self._check)
        self._open[self] = None
        if len(self._open) > self._limits.max_connections:
            victim = next((c for c in self._open if c._waiting()), self)
            victim._close("too many connections: closed the oldest waiting one")

    def connection_lost(self, exc: Exception | None) -> None:
        self._open.pop(self, None)
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        super().connection_lost(exc)

    def _waiting(self) -> bool:
        """True while no request is being read or answered (idle, or its headers still arriving)."""
        return self.conn.their_state is h11.IDLE and (self.cycle is None or self.cycle.response_complete)

    def _close(self, why: str) -> None:
        log.debug("dashboard: closing connection from %s: %s", self.client, why)
        self._open.pop(self, None)
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        self.transport.close()

    def _check(self) -> None:
        self._watch = None
        if self.transport.is_closing():
            return
        reading = self.conn.their_state in (h11.IDLE, h11.SEND_BODY)
        if reading and self.cycle is self._seen:
            self._close(f"no complete request within {self._limits.request_timeout_s:g} s")
            return
        self._seen = self.cycle
        self._watch = self.loop.call_later(self._limits.request_timeout_s, self._check)


class HttpServer:
    """uvicorn serving ``app`` in a daemon thread, on a socket bound at construction."""

    def __init__(self, app: Any, host: str, port: int, limits: HttpLimits, name: str = "dashboard") -> None:
        self.limits = limits
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say TCP, and
        # with Nagle on, a response's body waits ~40 ms for the ACK of its headers (delayed ACK).
        self.sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((host, port))
        except OSError:
            self.sock.close()
            raise
        self.sock.listen(limits.backlog)  # connections queue from now on; the loop accepts them
        self.host, self.port = str(self.sock.getsockname()[0]), int(self.sock.getsockname()[1])
        protocol = type("GuardedH11", (_Guarded,), {"_limits": limits, "_open": {}})
        config = uvicorn.Config(
            app,
            http=protocol,
            ws="none",
            lifespan="off",
            loop="asyncio",
            log_config=None,
            log_level="warning",
            access_log=False,
            backlog=limits.backlog,
            timeout_keep_alive=limits.keep_alive_s,
            timeout_graceful_shutdown=2,
            server_header=False,
            headers=[("server", "smartshelf-dashboard")],
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except Exception:  # the daemon keeps detecting and deciding without its dashboard
            log.exception("dashboard: HTTP server stopped with an error")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)
        self.sock.close()
