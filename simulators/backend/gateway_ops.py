"""Gateway operations of the reference backend: enrollment codes, provisioning, health reports.

Central IT creates an enrollment (``POST /v1/enrollments``, admin): a one-time code bound to a store
and gateway id, with the gateway's initial configuration sections. The technician types the code
into ``shelf-edge provision``; the gateway calls ``POST /v1/provision`` and receives its store id,
a bearer token, the release signing key and its initial config. Provisioning is idempotent: the
same code and the same gateway key fingerprint get the same answer again; a used code with a
different key is refused (409). Gateways send ``POST /v1/stores/{store}/gateways/{gateway}/health``
periodically; ``GET /v1/health-reports`` (admin) lists the newest report of every gateway.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from pydantic import Field

from edge.settings_base import Section
from simulators.backend.http import HttpProblem, Request, Response, parse_body

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS enrollments (
        code TEXT PRIMARY KEY,
        store_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        config TEXT NOT NULL,
        release_public_key TEXT,
        token TEXT,
        fingerprint TEXT,
        used_at REAL
    )""",
    """CREATE TABLE IF NOT EXISTS health_reports (
        store_id TEXT NOT NULL,
        gateway_id TEXT NOT NULL,
        received_at REAL NOT NULL,
        report TEXT NOT NULL,
        PRIMARY KEY (store_id, gateway_id)
    )""",
)


class EnrollmentIn(Section):
    """A one-time enrollment code for one gateway."""

    code: str = Field(
        min_length=8, max_length=64, pattern=r"^[A-Za-z0-9-]+$", description="The code the technician types."
    )
    store_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Store the gateway belongs to.")
    gateway_id: str = Field(
        "gw-1", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Gateway id within the store."
    )
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Initial config sections (TOML tables as JSON), e.g. bridge, displays.",
    )
    release_public_key: str | None = Field(
        None, description="Ed25519 public key (PEM) that signs model releases."
    )


class ProvisionIn(Section):
    """A gateway asking to be provisioned."""

    enrollment_code: str = Field(min_length=1, max_length=64, description="The code from central IT.")
    fingerprint: str = Field(
        min_length=16, max_length=128, description="SHA-256 of the gateway's identity key."
    )
    hostname: str = Field("", max_length=255, description="The gateway's host name (for central IT).")


class ProvisionOut(Section):
    """What a provisioned gateway receives."""

    store_id: str = Field(description="Store id.")
    gateway_id: str = Field(description="Gateway id.")
    token: str = Field(description="Bearer token for this gateway's API calls.")
    release_public_key: str | None = Field(description="Ed25519 public key (PEM) of model releases.")
    config: dict[str, Any] = Field(description="Initial config sections.")


class HealthReportIn(Section):
    """A gateway's periodic health report (no shopper data)."""

    sent_at: float = Field(description="Unix time on the gateway.")
    gateway: dict[str, Any] = Field(description="Versions, uptime, MQTT, sync backlog, disk.")
    shelves: list[dict[str, Any]] = Field(description="Each shelf's link, firmware, CRC errors.")
    counters: dict[str, int] = Field(description="Event, offer and ack counters since start.")
    problems: list[str] = Field(description="What needs attention, in words; empty when healthy.")


def _ensure(request: Request) -> None:
    with request.store.lock:
        for statement in SCHEMA:
            request.store.conn.execute(statement)


def post_enrollment(request: Request) -> Response:
    body: EnrollmentIn = parse_body(request, EnrollmentIn)
    _ensure(request)
    with request.store.lock:
        found = request.store.conn.execute(
            "SELECT used_at FROM enrollments WHERE code = ?", (body.code,)
        ).fetchone()
        if found is not None:
            raise HttpProblem(409, "this enrollment code exists already")
        request.store.conn.execute(
            "INSERT INTO enrollments (code, store_id, gateway_id, config, release_public_key) VALUES (?, ?, ?, ?, ?)",
            (body.code, body.store_id, body.gateway_id, json.dumps(body.config), body.release_public_key),
        )
    return Response.json(200, {"code": body.code, "store_id": body.store_id, "gateway_id": body.gateway_id})


def post_provision(request: Request) -> Response:
    body: ProvisionIn = parse_body(request, ProvisionIn)
    _ensure(request)
    with request.store.lock:
        row = request.store.conn.execute(
            "SELECT store_id, gateway_id, config, release_public_key, token, fingerprint FROM enrollments WHERE code = ?",
            (body.enrollment_code,),
        ).fetchone()
        if row is None:
            raise HttpProblem(404, "unknown enrollment code (check it, or ask central IT for a new one)")
        store_id, gateway_id, config, key, token, fingerprint = row
        if fingerprint is not None and fingerprint != body.fingerprint:
            raise HttpProblem(
                409, "this enrollment code was used by another gateway; ask central IT for a new one"
            )
        if token is None:
            token = secrets.token_urlsafe(32)
            request.store.conn.execute(
                "UPDATE enrollments SET token = ?, fingerprint = ?, used_at = ? WHERE code = ?",
                (token, body.fingerprint, time.time(), body.enrollment_code),
            )
            request.store.add_token(token, "gateway", store_id)
    answer = ProvisionOut(
        store_id=store_id,
        gateway_id=gateway_id,
        token=token,
        release_public_key=key,
        config=json.loads(config),
    )
    return Response.json(200, answer)


def post_health(request: Request) -> Response:
    body: HealthReportIn = parse_body(request, HealthReportIn)
    _ensure(request)
    with request.store.lock:
        request.store.conn.execute(
            "INSERT OR REPLACE INTO health_reports (store_id, gateway_id, received_at, report) VALUES (?, ?, ?, ?)",
            (request.params["store"], request.params["gateway"], time.time(), body.model_dump_json()),
        )
    return Response.json(200, {"stored": True})


def get_health_reports(request: Request) -> Response:
    _ensure(request)
    with request.store.lock:
        rows = request.store.conn.execute(
            "SELECT store_id, gateway_id, received_at, report FROM health_reports ORDER BY store_id, gateway_id"
        ).fetchall()
    return Response.json(
        200,
        {
            "gateways": [
                {"store_id": s, "gateway_id": g, "received_at": r, "report": json.loads(rep)}
                for s, g, r, rep in rows
            ]
        },
    )
