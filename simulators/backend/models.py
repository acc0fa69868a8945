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


class FileEntry(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9._-]{1,128}$", description="File name inside the release.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the file, hex.")
    size: int = Field(ge=0, description="Size in bytes.")


class ReleaseSigned(Section):
    """The signed part of release metadata."""

    model: str = Field(pattern=r"^[a-z0-9-]{1,64}$", description="Model family, e.g. 'offers'.")
    version: int = Field(ge=1, description="Release version; gateways never go back to a lower one.")
    created_at: float = Field(description="Unix time the release was made.")
    expires_at: float = Field(description="Unix time after which the metadata must not be trusted.")
    files: list[FileEntry] = Field(min_length=1, description="Every file of the release.")


class Signature(Section):
    keyid: str = Field(description="SHA-256 (hex, first 16) of the raw Ed25519 public key.")
    sig: str = Field(description="Ed25519 signature of the canonical JSON of 'signed', base64.")


class ReleaseMetadata(Section):
    """Signed release metadata (TUF-like, one role)."""

    signed: ReleaseSigned = Field(description="What is signed.")
    signatures: list[Signature] = Field(min_length=1, description="Signatures over 'signed'.")


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
