"""Request and answer bodies of the backend API (pydantic). openapi.json is generated from these."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from edge.settings_base import Section


class EventIn(Section):
    """One gateway event from the outbox."""

    idempotency_key: str = Field(min_length=1, max_length=200, description="Unique key; stored once.")
    stream: str = Field(min_length=1, max_length=64, description="Event stream (basket, offers, ...).")
    kind: str = Field(min_length=1, max_length=64, description="Kind within the stream.")
    t: float = Field(description="Unix time of the event.")
    payload: dict[str, Any] = Field(description="The event body as the gateway stored it.")


class EventsBatch(Section):
    """A batch of events, oldest first (order within a stream is kept)."""

    events: list[dict[str, Any]] = Field(
        max_length=5000, description="Events (see EventIn); each one is validated on its own."
    )


class RejectedEvent(Section):
    idempotency_key: str = Field(description="Key of the refused event ('' when it had none).")
    reason: str = Field(description="Why it was refused; resending it will not help.")


class EventsResult(Section):
    """Verdict for every event of a batch."""

    accepted: list[str] = Field(description="Keys stored now.")
    duplicates: list[str] = Field(description="Keys stored before (a resend): nothing changed.")
    rejected: list[RejectedEvent] = Field(description="Events refused as invalid.")


class StoredEvent(Section):
    idempotency_key: str = Field(description="Key of the event.")
    stream: str = Field(description="Stream.")
    kind: str = Field(description="Kind.")
    t: float = Field(description="Unix time of the event.")
    payload: dict[str, Any] = Field(description="Event body.")
    received_at: float = Field(description="Unix time the backend first stored it.")
    deliveries: int = Field(description="How many times it was sent (1 + resends).")


class EventsPage(Section):
    events: list[StoredEvent] = Field(description="Events in arrival order.")
    next_after: int = Field(description="Cursor for the next page (pass as ?after=).")


class ReleaseReport(Section):
    """What a gateway did with a release."""

    model: str = Field(description="Model family.")
    version: int = Field(description="Release version.")
    outcome: Literal["activated", "kept", "reverted", "refused", "failed"] = Field(
        description="activated: switched to it; kept: passed its health window; reverted: health window "
        "failed, previous model back; refused: verification or validation failed; failed: could not install."
    )
    detail: str = Field("", max_length=2000, description="Human-readable reason.")
    at: float = Field(description="Unix time on the gateway.")


class ResourceDoc(Section):
    """A resource document as central IT uploads it (catalogue, planogram, campaigns, customer keys)."""

    data: Any = Field(description="Any JSON; the gateway components define its shape.")


class Problem(Section):
    detail: str = Field(description="What went wrong.")
