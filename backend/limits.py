"""The Date header, and request body limits, enforced while the body arrives (pure ASGI middleware).

JSON bodies may be ``max_json_body_bytes``; release file uploads (streamed to disk) may be
``max_release_file_bytes``. A larger Content-Length is refused at once with 413; a body without one
is counted as it streams and cut at the limit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from email.utils import formatdate
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class DateHeader:
    """Adds an exact ``Date`` header to every answer (uvicorn's own is refreshed only once a second,
    too coarse for the gateways' clock check; serve with ``date_header=False``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def dated(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"date", formatdate(time.time(), usegmt=True).encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, dated)


class BodyTooLarge(Exception):
    """A request body went past its limit while it was being read (answered with 413)."""


class BodyLimit:
    def __init__(self, app: ASGIApp, *, default: int, large: int, large_paths: re.Pattern[str]) -> None:
        self.app = app
        self.default = default
        self.large = large
        self.large_paths = large_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.large if self.large_paths.match(scope["path"]) else self.default
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _problem(send, 400, "bad Content-Length")
                    return
                if declared > limit:
                    await _problem(send, 413, f"body over {limit} bytes")
                    return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _problem(send, 413, f"body over {limit} bytes")


async def _problem(send: Send, status: int, detail: str) -> None:
    body = orjson.dumps({"detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
