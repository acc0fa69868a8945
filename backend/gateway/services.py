"""Events and per-store documents (catalogue, planogram, campaigns, customer keys of a day)."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.admin.services import SYSTEM_ACTOR, audit, ensure_store
from backend.db.models import Event, Resource
from backend.errors import Invalid, NotFound
from backend.gateway.ingest import Ingested, ingest
from backend.gateway.schemas import EventIn, EventsResult, RejectedEvent

RESOURCES = ("catalogue", "planogram", "campaigns")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EVENTS = TypeAdapter(list[EventIn])


@dataclass(frozen=True, slots=True)
class Document:
    body: bytes
    etag: str


# ---------------------------------------------------------------------- events
def check_batch(raw: Any, max_events: int) -> tuple[list[EventIn], list[RejectedEvent]]:
    """Split a decoded body ``{"events": [...]}`` into valid events (first of each key) and refusals."""
    if not isinstance(raw, dict) or set(raw) != {"events"} or not isinstance(raw["events"], list):
        raise Invalid('body must be {"events": [...]}')
    items: list[Any] = raw["events"]
    if len(items) > max_events:
        raise Invalid(f"events: at most {max_events} events per batch, got {len(items)}")
    rejected: list[RejectedEvent] = []
    try:
        checked = _EVENTS.validate_python(items)  # the common case: all valid, one pass
    except ValidationError:
        checked = []
        for item in items:
            try:
                checked.append(EventIn.model_validate(item))
            except ValidationError as exc:
                first = exc.errors()[0]
                key = item.get("idempotency_key") if isinstance(item, dict) else None
                where = ".".join(str(p) for p in first["loc"]) or "<event>"
                rejected.append(
                    RejectedEvent(idempotency_key=str(key or ""), reason=f"{where}: {first['msg']}")
                )
    seen: set[str] = set()
    valid: list[EventIn] = []
    for event in checked:
        if event.idempotency_key not in seen:
            seen.add(event.idempotency_key)
            valid.append(event)
    return valid, rejected


def receive_events(*, session: Session, store_id: str, body: bytes, max_events: int) -> EventsResult:
    """Store a batch once per key (one transaction); repeated keys in the batch count once."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Invalid("body is not JSON") from None
    valid, rejected = check_batch(raw, max_events)
    done: Ingested = ingest(session=session, store_id=store_id, events=valid, now=time.time())
    session.commit()
    return EventsResult(accepted=done.accepted, duplicates=done.duplicates, rejected=rejected)


def read_events(
    *, session: Session, store_id: str, after: int, limit: int, stream: str | None
) -> tuple[list[dict[str, Any]], int]:
    """Events of a store in arrival order after the cursor ``after``; returns (events, next cursor)."""
    query = select(Event).where(Event.store_id == store_id, Event.seq > after)
    if stream:
        query = query.where(Event.stream == stream)
    rows = session.scalars(query.order_by(Event.seq).limit(limit)).all()
    events = [
        {
            "idempotency_key": r.idempotency_key,
            "stream": r.stream,
            "kind": r.kind,
            "t": r.t,
            "payload": r.payload,
            "received_at": r.received_at,
            "deliveries": r.deliveries,
        }
        for r in rows
    ]
    return events, (rows[-1].seq if rows else after)


def event_count(*, session: Session, store_id: str | None = None) -> int:
    query = select(func.count()).select_from(Event)
    if store_id is not None:
        query = query.where(Event.store_id == store_id)
    return int(session.scalar(query) or 0)


# ---------------------------------------------------------------------- documents
def document_name(resource: str) -> str:
    if resource not in RESOURCES:
        raise NotFound(f"unknown resource {resource!r}; known: {', '.join(RESOURCES)}")
    return resource


def keys_name(day: str) -> str:
    if not _DAY.match(day):
        raise Invalid(f"day must look like 2026-11-23, got {day!r}")
    return f"customer-keys/{day}"


def get_document(*, session: Session, store_id: str, name: str) -> Document:
    row = session.get(Resource, (store_id, name))
    if row is None:
        what = "keys" if name.startswith("customer-keys/") else name
        raise NotFound(f"no {what} for store {store_id!r}")
    return Document(bytes(row.body), row.etag)


def put_document(
    *, session: Session, store_id: str, name: str, body: bytes, actor: str = SYSTEM_ACTOR
) -> str:
    """Replace a document (must be JSON); returns its new ETag. Audited."""
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Invalid("body is not JSON") from None
    ensure_store(session=session, store_id=store_id, actor=actor)
    row = session.get(Resource, (store_id, name))
    version = (row.version if row else 0) + 1
    etag = f'"{version}-{hashlib.sha256(body).hexdigest()[:16]}"'
    if row is None:
        session.add(
            Resource(
                store_id=store_id, name=name, version=version, body=body, etag=etag, updated_at=time.time()
            )
        )
    else:
        row.version, row.body, row.etag, row.updated_at = version, body, etag, time.time()
    audit(
        session=session,
        actor=actor,
        action="document.put",
        target=f"{store_id}/{name}",
        detail={"etag": etag, "bytes": len(body)},
    )
    session.commit()
    return etag
