"""Gateway provisioning (enrollment codes) and health reports."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

from backend.deps import AdminUser, GatewayAuth, SessionDep, SettingsDep
from backend.errors import NotFound, TooManyAttempts
from backend.provisioning import services
from backend.provisioning.schemas import (
    EnrollmentIn,
    EnrollmentOut,
    HealthReportIn,
    HealthReports,
    ProvisionIn,
    ProvisionOut,
    Stored,
)
from backend.ratelimit import RateLimiter

router = APIRouter(prefix="/v1", tags=["provisioning"])


@router.post(
    "/enrollments",
    summary="Create a one-time enrollment code for a gateway, with its initial config.",
    response_model=EnrollmentOut,
)
def post_enrollment(body: EnrollmentIn, session: SessionDep, caller: AdminUser) -> EnrollmentOut:
    services.create_enrollment(session=session, enrollment=body, actor=caller.actor)
    return EnrollmentOut(code=body.code, store_id=body.store_id, gateway_id=body.gateway_id)


@router.post(
    "/provision",
    summary="A gateway exchanges its enrollment code for its store id, token, release key and config "
    "(idempotent).",
    response_model=ProvisionOut,
)
def post_provision(
    body: ProvisionIn, request: Request, session: SessionDep, settings: SettingsDep
) -> ProvisionOut:
    limiter: RateLimiter = request.app.state.provision_failures
    client = request.client.host if request.client else "?"
    now = time.time()
    if limiter.blocked(client, now):
        raise TooManyAttempts("too many wrong enrollment codes from this address; wait a minute")
    try:
        return services.provision(session=session, request=body, secret_key=settings.secret_key)
    except NotFound:
        session.rollback()  # SQLite: its write lock, before the limiter's own transaction takes it
        limiter.hit(client, now)
        raise


@router.post(
    "/stores/{store}/gateways/{gateway}/health",
    summary="A gateway's periodic health report (the newest one per gateway is kept).",
    response_model=Stored,
)
def post_health(
    store: str, gateway: str, body: HealthReportIn, session: SessionDep, _: GatewayAuth
) -> Stored:
    services.store_health(session=session, store_id=store, gateway_id=gateway, report=body)
    return Stored(stored=True)


@router.get("/health-reports", summary="Newest health report of every gateway, for central IT.")
def get_health_reports(session: SessionDep, _: AdminUser) -> HealthReports:
    return HealthReports(gateways=services.health_reports(session=session))
