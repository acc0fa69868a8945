"""Faults a simulated central service can show, injected in front of the REAL service (ASGI middleware).

Nothing here implements the API: every request that is not faulted goes to backend.app unchanged.

- ``lose_answers``: the next N event batches are stored, then the answer is replaced by a 503
  (the gateway must resend and the service must count them as duplicates);
- ``cut_download``: ``(file name, n)`` sends the next download of that file with its full length
  announced, then only ``n`` bytes, and drops the connection;
- ``slow_s``: every request waits this long first (timeouts);
- ``garbage``: the next N requests get 200 with a body that is not JSON;
- ``open_access``: requests without a token get the simulator's own admin token (development
  convenience of the simulator; the real service has no open mode).

Being down is not a fault here: :class:`simulators.backend.server.BackendServer` stops listening.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_EVENTS = re.compile(r"^/v1/stores/[^/]+/events$")
_FILE = re.compile(r"^/v1/releases/[^/]+/[^/]+/files/(?P<name>[^/]+)$")


class ConnectionCut(Exception):
    """Raised to make the server drop the connection in the middle of an answer."""


@dataclass(slots=True)
class Faults:
    lose_answers: int = 0
    cut_download: tuple[str, int] | None = None
    slow_s: float = 0.0
    garbage: int = 0
    open_access_token: str | None = None
    requests: int = 0


class FaultInjector:
    """ASGI middleware: applies :class:`Faults` to requests on their way to the real app."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        f = self.faults
        f.requests += 1
        if f.open_access_token and not any(k == b"authorization" for k, _ in scope["headers"]):
            scope = dict(scope)
            scope["headers"] = [
                *scope["headers"],
                (b"authorization", f"Bearer {f.open_access_token}".encode()),
            ]
        if f.slow_s:
            await asyncio.sleep(f.slow_s)
        if f.garbage:
            f.garbage -= 1
            await _answer(send, 200, b"<html>not the API</html>", b"text/html")
            return
        path = scope["path"]
        if f.lose_answers and scope["method"] == "POST" and _EVENTS.match(path):
            f.lose_answers -= 1
            await self.app(scope, receive, _swallow)
            await _answer(send, 503, b'{"detail":"injected fault: stored, answer lost"}', b"application/json")
            return
        m = _FILE.match(path)
        if f.cut_download and scope["method"] == "GET" and m and m.group("name") == f.cut_download[0]:
            limit = f.cut_download[1]
            f.cut_download = None
            try:
                await self.app(scope, receive, _cutting(send, limit))
            except* ConnectionCut:
                pass  # the answer stays incomplete: the server closes the connection
            return
        await self.app(scope, receive, send)


async def _swallow(message: Message) -> None:
    return None


def _cutting(send: Send, limit: int) -> Send:
    left = limit

    async def cut(message: Message) -> None:
        nonlocal left
        if message["type"] != "http.response.body":
            await send(message)
            return
        body: bytes = message.get("body", b"")
        if len(body) < left:
            left -= len(body)
            await send(message)
            return
        await send({"type": "http.response.body", "body": body[:left], "more_body": True})
        raise ConnectionCut(f"injected fault: download cut after {limit} bytes")

    return cut


async def _answer(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
