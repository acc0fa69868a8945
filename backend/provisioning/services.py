"""Enrollment codes, provisioning, health reports.

Central IT creates an enrollment: a one-time code bound to a store and gateway id, with the gateway's
initial configuration. The gateway (``shelf-edge provision``) exchanges it for its store id, a bearer
token, the release key and its config. Provisioning again with the same code and the same identity
key fingerprint answers the same token (it is derived from the service's secret_key, so only its hash
is stored); another fingerprint is refused (409).
"""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.admin.services import SYSTEM_ACTOR, audit, ensure_store, issue_token
from backend.db.models import ApiToken, Enrollment, HealthReport
from backend.errors import Conflict, NotFound
from backend.provisioning.schemas import (
    EnrollmentIn,
    GatewayHealth,
    HealthReportIn,
    ProvisionIn,
    ProvisionOut,
)
from backend.security import derived_token, token_hash


def create_enrollment(*, session: Session, enrollment: EnrollmentIn, actor: str = SYSTEM_ACTOR) -> None:
    if session.get(Enrollment, enrollment.code) is not None:
        raise Conflict("this enrollment code exists already")
    ensure_store(session=session, store_id=enrollment.store_id, actor=actor)
    session.add(
        Enrollment(
            code=enrollment.code,
            store_id=enrollment.store_id,
            gateway_id=enrollment.gateway_id,
            config=enrollment.config,
            release_public_key=enrollment.release_public_key,
            created_at=time.time(),
        )
    )
    audit(
        session=session,
        actor=actor,
        action="enrollment.create",
        target=f"{enrollment.store_id}/{enrollment.gateway_id}",
        detail={"code": enrollment.code},
    )
    session.commit()


def provision(*, session: Session, request: ProvisionIn, secret_key: str) -> ProvisionOut:
    row = session.get(Enrollment, request.enrollment_code)
    if row is None:
        raise NotFound("unknown enrollment code (check it, or ask central IT for a new one)")
    if row.fingerprint is not None and row.fingerprint != request.fingerprint:
        raise Conflict("this enrollment code was used by another gateway; ask central IT for a new one")
    token = derived_token(secret_key, row.code, request.fingerprint)
    if row.token_id is None:
        label = f"gateway {row.store_id}/{row.gateway_id}"
        if request.hostname:
            label += f" on {request.hostname}"
        token_row, _ = issue_token(
            session=session,
            role="gateway",
            store_id=row.store_id,
            label=label,
            actor=f"provisioning ({row.code})",
            token=token,
        )
        row.token_id, row.fingerprint, row.used_at = token_row.id, request.fingerprint, time.time()
        session.commit()
    elif session.scalar(select(ApiToken.token_hash).where(ApiToken.id == row.token_id)) != token_hash(token):
        raise Conflict("the service's secret_key changed since this gateway was provisioned; enrol it again")
    return ProvisionOut(
        store_id=row.store_id,
        gateway_id=row.gateway_id,
        token=token,
        release_public_key=row.release_public_key,
        config=row.config,
    )


def store_health(*, session: Session, store_id: str, gateway_id: str, report: HealthReportIn) -> None:
    row = session.get(HealthReport, (store_id, gateway_id))
    data = report.model_dump()
    if row is None:
        session.add(
            HealthReport(store_id=store_id, gateway_id=gateway_id, received_at=time.time(), report=data)
        )
    else:
        row.received_at, row.report = time.time(), data
    session.commit()


def health_reports(*, session: Session) -> list[GatewayHealth]:
    rows = session.scalars(select(HealthReport).order_by(HealthReport.store_id, HealthReport.gateway_id))
    return [
        GatewayHealth(
            store_id=r.store_id, gateway_id=r.gateway_id, received_at=r.received_at, report=r.report
        )
        for r in rows
    ]
