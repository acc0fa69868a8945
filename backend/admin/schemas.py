"""Bodies of the admin API (stores, tokens, audit log)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from backend.gateway.schemas import Schema
from backend.provisioning.schemas import ID_PATTERN


class StoreIn(Schema):
    store_id: str = Field(pattern=ID_PATTERN, description="Store id, as the gateways use it.")
    name: str = Field("", max_length=200, description="Name for people.")


class StoreOut(Schema):
    store_id: str = Field(description="Store id.")
    name: str = Field(description="Name for people.")
    created_at: float = Field(description="Unix time it was added.")


class TokenIn(Schema):
    role: Literal["admin", "gateway"] = Field(
        description="admin: every store and admin calls; gateway: one store."
    )
    store_id: str | None = Field(None, description="The store of a gateway token (none for admin).")
    label: str = Field("", max_length=200, description="Who holds it, for the audit log.")


class TokenOut(Schema):
    id: int = Field(description="Token id (for revoking).")
    role: str = Field(description="admin or gateway.")
    store_id: str | None = Field(description="Store of a gateway token.")
    label: str = Field(description="Who holds it.")
    created_at: float = Field(description="Unix time it was issued.")
    revoked_at: float | None = Field(description="Unix time it was revoked, if it was.")


class TokenIssued(TokenOut):
    token: str = Field(description="The token itself: shown ONCE, only its hash is kept.")


class AuditOut(Schema):
    id: int = Field(description="Entry id (cursor).")
    at: float = Field(description="Unix time of the change.")
    actor: str = Field(description="Which token (or the CLI) made it.")
    action: str = Field(description="What was done, e.g. token.issue, document.put, release.publish.")
    target: str = Field(description="On what.")
    detail: dict[str, Any] = Field(description="Details of the change.")
