"""Bodies of the release API. The metadata itself is edge.sync.release_meta.ReleaseMetadata."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from backend.gateway.schemas import Schema


class ReleaseReportIn(Schema):
    """What a gateway did with a release."""

    model: str = Field(description="Model family.")
    version: int = Field(description="Release version.")
    outcome: Literal["activated", "kept", "reverted", "refused", "failed"] = Field(
        description="activated: switched to it; kept: passed its health window; reverted: health window "
        "failed, previous model back; refused: verification or validation failed; failed: could not install."
    )
    detail: str = Field("", max_length=2000, description="Human-readable reason.")
    at: float = Field(description="Unix time on the gateway.")


class FileStored(Schema):
    sha256: str = Field(description="SHA-256 of the stored file, hex.")
    size: int = Field(description="Bytes stored.")


class Published(Schema):
    model: str = Field(description="Model family.")
    version: int = Field(description="Published version.")


class ReportStored(Schema):
    stored: bool = Field(description="Always true.")
