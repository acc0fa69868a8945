"""Typed dependencies of the handlers: the database session and the caller.

    def handler(session: SessionDep, caller: GatewayAuth) -> ...

``GatewayAuth`` accepts a gateway token of the path's ``{store}`` (403 for another store) or an admin
token; ``AdminUser`` accepts only admin tokens. There is no open mode: every call but health and
provisioning needs a token.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from backend.admin import services as admin
from backend.errors import Forbidden, Unauthorized
from backend.security import Principal, token_hash
from backend.settings import BackendSettings

_bearer = HTTPBearer(auto_error=False, scheme_name="bearer")
#: a token found valid is trusted this long without asking the database again (revocation delay)
TOKEN_CACHE_S = 5.0


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


def get_settings(request: Request) -> BackendSettings:
    settings: BackendSettings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[BackendSettings, Depends(get_settings)]


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token")
    cache: dict[str, tuple[Principal, float]] = request.app.state.token_cache
    key = token_hash(credentials.credentials)
    now = time.monotonic()
    hit = cache.get(key)
    if hit is not None and hit[1] > now:
        return hit[0]
    with request.app.state.sessions() as session:
        principal = admin.authenticate(session=session, token=credentials.credentials)
    if principal is None:
        cache.pop(key, None)
        raise Unauthorized("unknown or revoked token")
    cache[key] = (principal, now + TOKEN_CACHE_S)
    return principal


def gateway_or_admin(request: Request, principal: Annotated[Principal, Depends(caller)]) -> Principal:
    store = request.path_params.get("store")
    if principal.role == "gateway" and store is not None and store != principal.store_id:
        raise Forbidden(f"token is for store {principal.store_id!r}, not {store!r}")
    return principal


def admin_only(principal: Annotated[Principal, Depends(caller)]) -> Principal:
    if principal.role != "admin":
        raise Forbidden("this operation needs an admin token")
    return principal


GatewayAuth = Annotated[Principal, Depends(gateway_or_admin)]
AdminUser = Annotated[Principal, Depends(admin_only)]
