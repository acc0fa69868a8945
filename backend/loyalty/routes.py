"""Loyalty app and relay API: enrolment, consent, erasure, check-ins; shopper profiles for gateways.

The app authenticates with the ``app_token`` it received at enrolment (``AppCustomer``); gateways
and central IT with the tokens of backend/deps.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from backend.db.loyalty_models import Customer
from backend.deps import AdminUser, GatewayAuth, SessionDep, SettingsDep
from backend.errors import Forbidden, TooManyAttempts, Unauthorized
from backend.gateway.routes import RawBody
from backend.gateway.services import get_document
from backend.loyalty import services
from backend.loyalty.schemas import (
    CheckInAccepted,
    Consent,
    CustomerPublic,
    Enrolled,
    EnrolRequest,
    ProfilesPublished,
)
from backend.ratelimit import RateLimiter
from edge.presence.checkin import CheckInMessage
from edge.sync.checkins import CheckInFeed

router = APIRouter(prefix="/v1")
_bearer = HTTPBearer(auto_error=False, scheme_name="bearer")
#: The longest a gateway's check-in poll is held open, seconds.
MAX_WAIT_S = 60.0
#: While a poll is held, the database is asked again this often (check-ins posted to other workers).
RECHECK_S = 1.0


def app_customer(
    session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Customer:
    if credentials is None or not credentials.credentials.startswith("app_"):
        raise Unauthorized("missing app token (the app_token answered at enrolment)")
    customer = services.authenticate_app(session=session, token=credentials.credentials)
    if customer is None:
        raise Unauthorized("unknown app token (erased customer, or never enrolled)")
    return customer


AppCustomer = Annotated[Customer, Depends(app_customer)]


def _public(c: Customer) -> CustomerPublic:
    return CustomerPublic(
        shopper_id=c.shopper_id,
        consent=services.consent_of(c),
        enrolled_at=c.enrolled_at,
        consent_at=c.consent_at,
    )


@router.post(
    "/loyalty/customers",
    summary="Enrol a loyalty-app customer with consent per purpose; the secret is answered once.",
    status_code=201,
    response_model=Enrolled,
    tags=["loyalty"],
)
def enrol(body: EnrolRequest, request: Request, session: SessionDep, settings: SettingsDep) -> Enrolled:
    # behind_proxy: the scheme is the trusted proxy's X-Forwarded-Proto (backend/app.py)
    if settings.environment == "production" and request.url.scheme != "https":
        raise Forbidden(
            "enrolment hands out a secret: only over TLS (https, or the TLS proxy's X-Forwarded-Proto)"
        )
    limiter: RateLimiter = request.app.state.enrolments
    client = request.client.host if request.client else "?"
    if limiter.hit(client, time.time()) > limiter.limit:  # every attempt counts, in every worker
        raise TooManyAttempts(
            f"more than {limiter.limit} enrolments a minute from this address; wait a minute"
        )
    customer, secret, app_token = services.enrol(
        session=session, secret_key=settings.secret_key, consent=body.consent, now=time.time()
    )
    return Enrolled(
        shopper_id=customer.shopper_id,
        secret=secret.hex(),
        app_token=app_token,
        consent=services.consent_of(customer),
    )


@router.get(
    "/loyalty/me", summary="The calling customer's consent.", response_model=CustomerPublic, tags=["loyalty"]
)
def me(customer: AppCustomer) -> CustomerPublic:
    return _public(customer)


@router.put(
    "/loyalty/me/consent",
    summary="Change consent per purpose; what is withdrawn is erased now and leaves the gateways at their next sync.",
    response_model=CustomerPublic,
    tags=["loyalty"],
)
def put_consent(
    body: Consent, customer: AppCustomer, session: SessionDep, settings: SettingsDep
) -> CustomerPublic:
    services.set_consent(
        session=session, secret_key=settings.secret_key, customer=customer, consent=body, now=time.time()
    )
    return _public(customer)


@router.delete(
    "/loyalty/me",
    summary="Withdraw everything: the customer and every row about them are erased.",
    status_code=204,
    tags=["loyalty"],
)
def delete_me(customer: AppCustomer, session: SessionDep, settings: SettingsDep) -> Response:
    services.erase(session=session, secret_key=settings.secret_key, customer=customer, now=time.time())
    return Response(status_code=204)


def _waiter(request: Request, store: str) -> asyncio.Event:
    """The event that wakes the polls of one store held by this worker (one per app and store)."""
    state = request.app.state
    if not hasattr(state, "check_in_waiters"):
        state.check_in_waiters = {}
    waiters: dict[str, asyncio.Event] = state.check_in_waiters
    return waiters.setdefault(store, asyncio.Event())


@router.post(
    "/loyalty/check-ins",
    summary="A backgrounded iOS app's check-in (TOKENS.md section 4), relayed to the store's gateway.",
    status_code=202,
    response_model=CheckInAccepted,
    tags=["loyalty"],
)
async def post_check_in(
    body: CheckInMessage, request: Request, customer: AppCustomer, session: SessionDep, settings: SettingsDep
) -> CheckInAccepted:
    seq = await anyio.to_thread.run_sync(
        lambda: services.accept_check_in(
            session=session, secret_key=settings.secret_key, customer=customer, message=body, now=time.time()
        )
    )
    _waiter(request, body.store).set()
    return CheckInAccepted(seq=seq)


@router.get(
    "/stores/{store}/check-ins",
    summary="Check-ins relayed for the store after a cursor; held open up to wait_s while there are none.",
    response_model=CheckInFeed,
    tags=["gateway"],
)
async def get_check_ins(
    store: str,
    request: Request,
    _: GatewayAuth,
    after: Annotated[int, Query(ge=0, description="Cursor: check-ins after this sequence number.")] = 0,
    wait_s: Annotated[
        float, Query(ge=0, le=MAX_WAIT_S, description="Hold the poll this long when empty.")
    ] = 0,
) -> CheckInFeed:
    sessions = request.app.state.sessions
    deadline = time.monotonic() + wait_s

    def read() -> tuple[list[dict[str, object]], int]:
        with sessions() as session:
            return services.check_ins_after(session=session, store_id=store, after=after, now=time.time())

    while True:
        waiter = _waiter(request, store)
        waiter.clear()
        items, cursor = await anyio.to_thread.run_sync(read)
        left = deadline - time.monotonic()
        if items or left <= 0:
            return CheckInFeed.model_validate({"check_ins": items, "next": cursor})
        # woken by a check-in posted to this worker, or after RECHECK_S to ask the database again
        # (a check-in may have reached another worker)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter.wait(), timeout=min(RECHECK_S, left))


@router.get(
    "/stores/{store}/profiles",
    summary="Shopper profiles of the store (conditional GET with If-None-Match).",
    tags=["gateway"],
)
def get_profiles(
    store: str, session: SessionDep, _: GatewayAuth, if_none_match: Annotated[str | None, Header()] = None
) -> Response:
    document = get_document(session=session, store_id=store, name=services.PROFILES)
    if if_none_match == document.etag:
        return Response(status_code=304, headers={"ETag": document.etag})
    return Response(document.body, media_type="application/json", headers={"ETag": document.etag})


@router.put(
    "/stores/{store}/profiles",
    summary="Publish the store's shopper profiles; refused when one is malformed, and only customers "
    "with offers consent are kept.",
    response_model=ProfilesPublished,
    tags=["admin"],
)
def put_profiles(store: str, body: RawBody, session: SessionDep, caller: AdminUser) -> ProfilesPublished:
    etag, kept, dropped = services.publish_profiles(
        session=session, store_id=store, body=body, actor=caller.actor
    )
    return ProfilesPublished(etag=etag, profiles=kept, dropped=dropped)
