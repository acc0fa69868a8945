"""Stores, tokens and the audit log. Handlers, the CLI and tests call these (keyword-only)."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.models import ApiToken, AuditEntry, Store
from backend.errors import Conflict, Invalid, NotFound
from backend.security import Principal, Role, new_token, token_hash

SYSTEM_ACTOR = "shelf-backend cli"
STORE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def audit(*, session: Session, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
    """Record one admin change (in the caller's transaction, so it is kept only if the change is)."""
    session.add(AuditEntry(at=time.time(), actor=actor, action=action, target=target, detail=detail))


def audit_log(*, session: Session, limit: int = 100, after_id: int = 0) -> Sequence[AuditEntry]:
    return session.scalars(
        select(AuditEntry).where(AuditEntry.id > after_id).order_by(AuditEntry.id).limit(limit)
    ).all()


# ---------------------------------------------------------------------- stores
def ensure_store(*, session: Session, store_id: str, name: str = "", actor: str = SYSTEM_ACTOR) -> Store:
    """The store ``store_id``, created (and audited) when it does not exist yet."""
    found = session.get(Store, store_id)
    if found is not None:
        return found
    if not STORE_ID.match(store_id):
        raise Invalid(f"store id {store_id!r}: 1 to 64 of A-Z a-z 0-9 _ -")
    store = Store(store_id=store_id, name=name, created_at=time.time())
    session.add(store)
    audit(session=session, actor=actor, action="store.create", target=store_id, detail={"name": name})
    session.flush()
    return store


def add_store(*, session: Session, store_id: str, name: str = "", actor: str = SYSTEM_ACTOR) -> Store:
    """A new store (Conflict when it exists). Audited; the caller commits."""
    if session.get(Store, store_id) is not None:
        raise Conflict(f"store {store_id!r} exists already")
    return ensure_store(session=session, store_id=store_id, name=name, actor=actor)


def list_stores(*, session: Session) -> Sequence[Store]:
    return session.scalars(select(Store).order_by(Store.store_id)).all()


# ---------------------------------------------------------------------- tokens
def issue_token(
    *,
    session: Session,
    role: Role,
    store_id: str | None,
    label: str = "",
    actor: str = SYSTEM_ACTOR,
    token: str | None = None,
) -> tuple[ApiToken, str]:
    """A new token (its text is returned once and only its sha256 stored)."""
    if role == "gateway" and not store_id:
        raise Invalid("a gateway token needs a store")
    if role == "admin" and store_id:
        raise Invalid("an admin token is for every store; give no store")
    if store_id is not None and session.get(Store, store_id) is None:
        raise NotFound(f"no store {store_id!r}; add it first (shelf-backend admin store add)")
    text = token or new_token(role)
    digest = token_hash(text)
    if session.scalar(select(ApiToken.id).where(ApiToken.token_hash == digest)) is not None:
        raise Conflict("this token exists already")
    row = ApiToken(token_hash=digest, role=role, store_id=store_id, label=label, created_at=time.time())
    session.add(row)
    session.flush()
    audit(
        session=session,
        actor=actor,
        action="token.issue",
        target=f"token {row.id}",
        detail={"role": role, "store_id": store_id, "label": label},
    )
    return row, text


def revoke_token(*, session: Session, token_id: int, actor: str = SYSTEM_ACTOR) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = time.time()
        audit(session=session, actor=actor, action="token.revoke", target=f"token {token_id}", detail={})
    return row


def list_tokens(*, session: Session) -> Sequence[ApiToken]:
    return session.scalars(select(ApiToken).order_by(ApiToken.id)).all()


def authenticate(*, session: Session, token: str) -> Principal | None:
    """The caller of ``token``, or None when it is unknown or revoked."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    role: Role = "admin" if row.role == "admin" else "gateway"
    return Principal(role=role, store_id=row.store_id, token_id=row.id, label=row.label)
