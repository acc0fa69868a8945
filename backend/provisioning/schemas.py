"""Bodies of gateway provisioning and health reports."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from backend.gateway.schemas import Schema

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class EnrollmentIn(Schema):
    """A one-time enrollment code for one gateway."""

    code: str = Field(
        min_length=8, max_length=64, pattern=r"^[A-Za-z0-9-]+$", description="The code the technician types."
    )
    store_id: str = Field(pattern=ID_PATTERN, description="Store the gateway belongs to.")
    gateway_id: str = Field("gw-1", pattern=ID_PATTERN, description="Gateway id within the store.")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Initial config sections (TOML tables as JSON), e.g. bridge, displays.",
    )
    release_public_key: str | None = Field(
        None, description="Ed25519 public key (PEM) that signs model releases."
    )


class EnrollmentOut(Schema):
    code: str = Field(description="The code.")
    store_id: str = Field(description="Store id.")
    gateway_id: str = Field(description="Gateway id.")


class ProvisionIn(Schema):
    """A gateway asking to be provisioned."""

    enrollment_code: str = Field(min_length=1, max_length=64, description="The code from central IT.")
    fingerprint: str = Field(
        min_length=16, max_length=128, description="SHA-256 of the gateway's identity key."
    )
    hostname: str = Field("", max_length=255, description="The gateway's host name (for central IT).")


class ProvisionOut(Schema):
    """What a provisioned gateway receives."""

    store_id: str = Field(description="Store id.")
    gateway_id: str = Field(description="Gateway id.")
    token: str = Field(description="Bearer token for this gateway's API calls.")
    release_public_key: str | None = Field(description="Ed25519 public key (PEM) of model releases.")
    config: dict[str, Any] = Field(description="Initial config sections.")


class HealthReportIn(Schema):
    """A gateway's periodic health report (no shopper data)."""

    sent_at: float = Field(description="Unix time on the gateway.")
    gateway: dict[str, Any] = Field(description="Versions, uptime, MQTT, sync backlog, disk.")
    shelves: list[dict[str, Any]] = Field(description="Each shelf's link, firmware, CRC errors.")
    counters: dict[str, int] = Field(description="Event, offer and ack counters since start.")
    problems: list[str] = Field(description="What needs attention, in words; empty when healthy.")


class GatewayHealth(Schema):
    store_id: str = Field(description="Store id.")
    gateway_id: str = Field(description="Gateway id.")
    received_at: float = Field(description="Unix time the service received the report.")
    report: dict[str, Any] = Field(description="The report as sent (HealthReportIn).")


class HealthReports(Schema):
    gateways: list[GatewayHealth] = Field(description="Newest report of every gateway.")


class Stored(Schema):
    stored: bool = Field(description="Always true.")
