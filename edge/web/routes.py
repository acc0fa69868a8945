"""The dashboard's HTTP routes (Starlette), over a :class:`Dashboard` (``edge.web.server.DashboardApp``).

Open: ``/healthz``, ``/metrics``, ``/login``, ``/static/*``. Behind the login (a random session
cookie, HttpOnly, SameSite=Strict, valid ``web.session_ttl_s``): ``/``, ``/api/state``; without a
session ``/api/state`` answers 401 and pages redirect to ``/login``. Every answer carries
``Cache-Control: no-store``, ``nosniff`` and a CSP without inline script or other origins.

Handlers are coroutines on the server's single event loop; whatever blocks (SQLite, disk, scrypt,
collecting metrics) runs in the server's bounded worker pool (``limiter``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from importlib import resources
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs

import anyio
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edge.config import EdgeConfig
from edge.json_values import finite_or_none

log = logging.getLogger("edge.web")
T = TypeVar("T")


class Dashboard(Protocol):
    """What the routes need of the dashboard (``edge.web.server.DashboardApp``, which imports this
    module: a protocol here keeps the two modules free of an import cycle)."""

    config: EdgeConfig
    registry: CollectorRegistry

    def state(self) -> dict[str, Any]: ...
    def health(self) -> tuple[int, dict[str, Any]]: ...
    def new_session(self) -> str: ...
    def end_session(self, token: str | None) -> None: ...
    def valid(self, token: str | None) -> bool: ...
    def check_password(self, given: str) -> bool: ...


COOKIE = "smartshelf_session"
MAX_FORM_BYTES = 4096
FAILED_LOGIN_DELAY_S = 0.5
STATIC = {
    "app.js": "text/javascript",
    "style.css": "text/css",
    "index.html": "text/html",
    "login.html": "text/html",
}
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
}


def _bundled() -> dict[str, bytes]:
    """The static files, read once: serving them touches no disk."""
    return {name: resources.files("edge.web").joinpath("static", name).read_bytes() for name in STATIC}


def _send(status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status, {**HEADERS, **(headers or {})}, media_type=content_type)


def _json(status: int, data: Any) -> Response:
    try:
        return JSONResponse(data, status, headers=HEADERS)
    except ValueError:  # a NaN or infinity got into the state: show it as null, not an error page
        return JSONResponse(finite_or_none(data), status, headers=HEADERS)


def _redirect(location: str, headers: dict[str, str] | None = None) -> Response:
    return _send(303, b"", "text/plain", {"Location": location, **(headers or {})})


async def _form(request: Request) -> dict[str, list[str]]:
    """An urlencoded form of at most MAX_FORM_BYTES (the rest is not read)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) >= MAX_FORM_BYTES:
            body = body[:MAX_FORM_BYTES]
            break
    return parse_qs(body.decode(errors="replace"))


def build_app(app: Dashboard, limiter: anyio.CapacityLimiter) -> Starlette:
    files = _bundled()
    # One password check at a time (scrypt: ~50 ms and 16 MiB each): a flood of logins takes at
    # most one core from the daemon, and guessing is slowed further.
    one_at_a_time = anyio.CapacityLimiter(1)

    async def blocking(fn: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)

    def session(request: Request) -> str | None:
        return request.cookies.get(COOKIE)

    async def healthz(request: Request) -> Response:
        status, body = await blocking(app.health)
        return _json(status, body)

    async def metrics(request: Request) -> Response:
        body = await blocking(generate_latest, app.registry)
        return _send(200, body, CONTENT_TYPE_LATEST)

    async def login_page(request: Request) -> Response:
        return _send(200, files["login.html"], "text/html; charset=utf-8")

    async def login(request: Request) -> Response:
        given = (await _form(request)).get("password", [""])[0]
        async with one_at_a_time:
            right = await blocking(app.check_password, given)
        if right:
            token = app.new_session()
            ttl = int(app.config.web.session_ttl_s)
            cookie = f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={ttl}"
            return _redirect("/", {"Set-Cookie": cookie})
        log.warning("dashboard: failed login from %s", request.client.host if request.client else "?")
        await asyncio.sleep(FAILED_LOGIN_DELAY_S)  # slows guessing; holds no thread
        return _redirect("/login?failed=1")

    async def logout(request: Request) -> Response:
        app.end_session(session(request))
        return _redirect("/login", {"Set-Cookie": f"{COOKIE}=; Max-Age=0; Path=/"})

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return await other(request)
        return _send(200, files[name], STATIC[name] + "; charset=utf-8")

    async def index(request: Request) -> Response:
        if not app.valid(session(request)):
            return _redirect("/login")
        return _send(200, files["index.html"], "text/html; charset=utf-8")

    async def state(request: Request) -> Response:
        if not app.valid(session(request)):
            return _json(401, {"error": "login required"})
        return _json(200, await blocking(app.state))

    async def other(request: Request) -> Response:
        if request.method == "GET" and not app.valid(session(request)):
            return _redirect("/login")
        return _json(404, {"error": f"no such page: {request.url.path}"})

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/login", login_page, methods=["GET"]),
            Route("/login", login, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/static/{name}", static, methods=["GET"]),
            Route("/", index, methods=["GET"]),
            Route("/index.html", index, methods=["GET"]),
            Route("/api/state", state, methods=["GET"]),
            Route("/{path:path}", other, methods=["GET", "POST"]),
        ]
    )
