"""Commands to a shelf controller through shelf-bridge (``.../{gondola}/{shelf}/set``) and its replies.

The commands are messages to a device (:class:`edge.mqtt.versioning.DeviceMessage`): versioned, and
the bridge ignores fields it does not know. Besides these, the ``set`` topic carries the gateway's
text-display messages (``ShelfDisplayTextMessage`` / ``ShelfDisplayClearMessage`` in
``edge.mqtt.payloads``); ``shelf_firmware_bridge.messages.SHELF_COMMAND`` tells them apart by ``type``.
The reply is strict (read by the gateway's tools).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edge.mqtt.versioning import DeviceMessage
from edge.settings_base import Section


class TareCommand(DeviceMessage):
    """Zero one plate with whatever lies on it now (mean of ``samples`` readings)."""

    type: Literal["tare"] = Field(description="Command type.")
    plate: int = Field(ge=1, le=64, description="Plate number.")
    samples: int = Field(60, ge=1, le=400, description="Readings the controller averages.")
    request_id: str = Field("", max_length=64, description="Echoed in the reply.")


class SpanCommand(DeviceMessage):
    """Calibrate one plate's gain with a known weight lying on it (tare the plate first)."""

    type: Literal["span"] = Field(description="Command type.")
    plate: int = Field(ge=1, le=64, description="Plate number.")
    known_g: float = Field(gt=0, le=50_000, description="Weight placed on the plate since its tare, grams.")
    samples: int = Field(60, ge=1, le=400, description="Readings the controller averages.")
    request_id: str = Field("", max_length=64, description="Echoed in the reply.")


class RateCommand(DeviceMessage):
    """Set the controller's sample rate."""

    type: Literal["rate"] = Field(description="Command type.")
    rate_hz: float = Field(ge=10, le=80, description="Samples per second (10-80).")
    request_id: str = Field("", max_length=64, description="Echoed in the reply.")


class IdentifyCommand(DeviceMessage):
    """Blink the controller's LED so a technician finds it."""

    type: Literal["identify"] = Field(description="Command type.")
    duration_s: float = Field(10.0, gt=0, le=600, description="How long to blink.")
    request_id: str = Field("", max_length=64, description="Echoed in the reply.")


class InfoCommand(DeviceMessage):
    """Read firmware version, serial number, plates and rate (the reply carries them)."""

    type: Literal["info"] = Field(description="Command type.")
    request_id: str = Field("", max_length=64, description="Echoed in the reply.")


class ShelfReplyMessage(Section):
    """The bridge's answer to a command, on ``.../{gondola}/{shelf}/reply``."""

    request_id: str = Field(description="The command's request_id.")
    type: str = Field(description="The command's type.")
    status: Literal[
        "ok", "bad-argument", "busy", "unknown-command", "failed", "timeout", "not-connected", "invalid"
    ] = Field(description="Outcome.")
    detail: str = Field("", description="Human-readable detail.")
    plate: int | None = Field(None, description="Plate concerned, for tare and span.")
    zero_raw: float | None = Field(None, description="Stored zero of the plate in ADC counts (tare, span).")
    g_per_count: float | None = Field(None, description="Stored gain of the plate, grams per count (span).")
    firmware: str | None = Field(None, description="Firmware version (info).")
    serial: str | None = Field(None, description="Controller serial number (info).")
    plates: int | None = Field(None, description="Plates of the controller (info).")
    rate_hz: float | None = Field(None, description="Sample rate (info, rate).")
    at: float = Field(description="Unix time of the reply.")
