"""The admin API for central IT: stores, tokens, the audit log (admin tokens only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend.admin import services
from backend.admin.schemas import AuditOut, StoreIn, StoreOut, TokenIn, TokenIssued, TokenOut
from backend.deps import AdminUser, SessionDep

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.get("/stores", summary="Every store.")
def list_stores(session: SessionDep, _: AdminUser) -> list[StoreOut]:
    return [StoreOut.model_validate(s, from_attributes=True) for s in services.list_stores(session=session)]


@router.post("/stores", summary="Add a store.")
def add_store(body: StoreIn, session: SessionDep, caller: AdminUser) -> StoreOut:
    store = services.add_store(session=session, store_id=body.store_id, name=body.name, actor=caller.actor)
    session.commit()
    return StoreOut.model_validate(store, from_attributes=True)


@router.get("/tokens", summary="Every token (never its text).")
def list_tokens(session: SessionDep, _: AdminUser) -> list[TokenOut]:
    return [TokenOut.model_validate(t, from_attributes=True) for t in services.list_tokens(session=session)]


@router.post("/tokens", summary="Issue a token; its text is in this answer only.")
def issue_token(body: TokenIn, session: SessionDep, caller: AdminUser) -> TokenIssued:
    row, text = services.issue_token(
        session=session, role=body.role, store_id=body.store_id, label=body.label, actor=caller.actor
    )
    session.commit()
    return TokenIssued(token=text, **TokenOut.model_validate(row, from_attributes=True).model_dump())


@router.delete("/tokens/{token_id}", summary="Revoke a token (refused within seconds everywhere).")
def revoke_token(token_id: int, session: SessionDep, caller: AdminUser) -> TokenOut:
    row = services.revoke_token(session=session, token_id=token_id, actor=caller.actor)
    session.commit()
    return TokenOut.model_validate(row, from_attributes=True)


@router.get("/audit", summary="Admin changes, oldest first (?after=id&limit=).")
def audit_log(
    session: SessionDep,
    _: AdminUser,
    after: Annotated[int, Query(ge=0, description="Entries after this id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="Most entries.")] = 100,
) -> list[AuditOut]:
    rows = services.audit_log(session=session, limit=limit, after_id=after)
    return [AuditOut.model_validate(r, from_attributes=True) for r in rows]
