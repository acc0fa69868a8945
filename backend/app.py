"""``create_app(settings)``: the ASGI application (FastAPI). Nothing is built at import.

Routers, one per API area, are listed in :data:`ROUTERS`; a new area (loyalty, fleet, ...) is a
package backend/<area>/ with routes.py, schemas.py, services.py, and one line here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from backend.admin.routes import router as admin_router
from backend.apidoc import openapi_document
from backend.campaigns.routes import router as campaigns_router
from backend.db.engine import make_engine, make_sessionmaker
from backend.errors import RangeNotSatisfiable, ServiceError
from backend.fleet.contacts import ContactRecorder, Contacts
from backend.fleet.routes import router as fleet_router
from backend.gateway.routes import router as gateway_router
from backend.limits import BodyLimit, DateHeader
from backend.loyalty.routes import router as loyalty_router
from backend.provisioning.routes import router as provisioning_router
from backend.ratelimit import RateLimiter
from backend.releases.routes import FILE_PATH
from backend.releases.routes import router as releases_router
from backend.settings import BackendSettings

# campaigns and loyalty come before gateway: their PUT of campaigns and profiles (validated) must win
# over the gateway router's generic document routes.
ROUTERS = (
    campaigns_router,
    loyalty_router,
    fleet_router,
    gateway_router,
    releases_router,
    provisioning_router,
    admin_router,
)

DESCRIPTION = (
    "What a store gateway uses: event upload with idempotency keys, conditional GET of store data "
    "(ETag), signed model releases, provisioning; and what central IT uses: stores, tokens, audit log. "
    'Every error is {"detail": "..."}: 4xx means do not retry unchanged, 5xx retry with backoff.'
)


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps({"detail": detail}), status, headers, media_type="application/json")


def create_app(settings: BackendSettings) -> FastAPI:
    engine = make_engine(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.contacts.flush()
        engine.dispose()

    app = FastAPI(
        title="Smart-shelf central service",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.token_cache = {}
    app.state.provision_failures = RateLimiter(app.state.sessions, "provision", limit=10)
    app.state.enrolments = RateLimiter(app.state.sessions, "enrol", limit=settings.enrolments_per_minute)
    for router in ROUTERS:
        app.include_router(router)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> Response:
        if isinstance(exc, RangeNotSatisfiable):
            return problem(exc.status, exc.detail, {"Content-Range": f"bytes */{exc.size}"})
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem(exc.status, exc.detail, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0]
        loc = [str(p) for p in first.get("loc", ())]
        where = ".".join(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)
        return problem(400, f"{where or '<body>'}: {first.get('msg', 'invalid')}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and exc.detail == "Not Found":
            return problem(404, f"no operation at {request.url.path}")
        if exc.status_code == 405:
            return problem(405, f"{request.method} not allowed on {request.url.path}")
        return problem(exc.status_code, str(exc.detail))

    app.state.contacts = Contacts(app.state.sessions)
    app.add_middleware(ContactRecorder, contacts=app.state.contacts)
    app.add_middleware(
        BodyLimit,
        default=settings.max_json_body_bytes,
        large=settings.max_release_file_bytes,
        large_paths=FILE_PATH,
    )
    app.add_middleware(DateHeader)
    if settings.behind_proxy:  # outermost: the client address and scheme the proxy saw, for everything
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    return app
