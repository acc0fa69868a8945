"""Fleet page (HTML, for central IT's browser) and its JSON twin.

The page accepts an admin bearer token, or the ``shelf_admin`` cookie set by the sign-in form
(HttpOnly, SameSite=Strict, Secure over https).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Cookie, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from backend.admin import services as admin
from backend.deps import AdminUser, SessionDep
from backend.fleet import page, services
from backend.gateway.routes import RawBody

router = APIRouter()
COOKIE = "shelf_admin"


def _signed_in(
    request: Request, session: SessionDep, shelf_admin: Annotated[str | None, Cookie()] = None
) -> bool:
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else shelf_admin
    if not token:
        return False
    principal = admin.authenticate(session=session, token=token)
    return principal is not None and principal.role == "admin"


SignedIn = Annotated[bool, Depends(_signed_in)]


@router.get("/fleet", response_class=HTMLResponse, summary="Fleet page (HTML).", tags=["fleet"])
def fleet_page(signed_in: SignedIn, session: SessionDep) -> Response:
    if not signed_in:
        return RedirectResponse("/fleet/login", status_code=303)
    now = time.time()
    return HTMLResponse(page.render(services.fleet(session=session, now=now), now))


@router.get(
    "/fleet/login", response_class=HTMLResponse, summary="Sign-in form of the fleet page.", tags=["fleet"]
)
def login_form() -> HTMLResponse:
    return HTMLResponse(page.login_page())


@router.post("/fleet/login", summary="Sign in with an admin token (sets the page's cookie).", tags=["fleet"])
def login(request: Request, body: RawBody, session: SessionDep) -> Response:
    token = (parse_qs(body.decode("utf-8", "replace")).get("token") or [""])[0].strip()
    principal = admin.authenticate(session=session, token=token) if token else None
    if principal is None or principal.role != "admin":
        return HTMLResponse(page.login_page("not an admin token"), status_code=401)
    response = RedirectResponse("/fleet", status_code=303)
    secure = request.url.scheme == "https"  # behind_proxy: the trusted proxy's X-Forwarded-Proto
    response.set_cookie(COOKIE, token, max_age=8 * 3600, httponly=True, samesite="strict", secure=secure)
    return response


@router.get("/v1/fleet", summary="The fleet as JSON (same rows as the page).", tags=["admin"])
def fleet_json(session: SessionDep, _: AdminUser) -> dict[str, Any]:
    now = time.time()
    return {"as_of": now, "gateways": [asdict(g) for g in services.fleet(session=session, now=now)]}
