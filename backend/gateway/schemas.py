"""Bodies of the gateway API (events, documents). Tables are in backend/db/models.py."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventIn(Schema):
    """One gateway event from the outbox."""

    idempotency_key: str = Field(min_length=1, max_length=200, description="Unique key; stored once.")
    stream: str = Field(min_length=1, max_length=64, description="Event stream (basket, offers, ...).")
    kind: str = Field(min_length=1, max_length=64, description="Kind within the stream.")
    t: float = Field(description="Unix time of the event.")
    payload: dict[str, Any] = Field(description="The event body as the gateway stored it.")


class EventsBatch(Schema):
    """A batch of events, oldest first (order within a stream is kept)."""

    events: list[dict[str, Any]] = Field(
        max_length=5000, description="Events (see EventIn); each one is validated on its own."
    )


class RejectedEvent(Schema):
    idempotency_key: str = Field(description="Key of the refused event ('' when it had none).")
    reason: str = Field(description="Why it was refused; resending it will not help.")


class EventsResult(Schema):
    """Verdict for every event of a batch."""

    accepted: list[str] = Field(description="Keys stored now.")
    duplicates: list[str] = Field(description="Keys stored before (a resend): nothing changed.")
    rejected: list[RejectedEvent] = Field(description="Events refused as invalid.")


class StoredEvent(Schema):
    idempotency_key: str = Field(description="Key of the event.")
    stream: str = Field(description="Stream.")
    kind: str = Field(description="Kind.")
    t: float = Field(description="Unix time of the event.")
    payload: dict[str, Any] = Field(description="Event body.")
    received_at: float = Field(description="Unix time the backend first stored it.")
    deliveries: int = Field(description="How many times it was sent (1 + resends).")


class EventsPage(Schema):
    events: list[StoredEvent] = Field(description="Events in arrival order.")
    next_after: int = Field(description="Cursor for the next page (pass as ?after=).")


class DocumentStored(Schema):
    etag: str = Field(description="ETag of the stored document.")


class Problem(Schema):
    detail: str = Field(description="What went wrong.")
