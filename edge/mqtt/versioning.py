"""The base of every message the gateway sends to a device (display, shelf bridge): versioned, tolerant.

A gateway is updated more often than the displays and shelf bridges installed in a store, so a
message to a device carries ``v``, the *major* version of its format, and the device

- ignores fields it does not know: a newer gateway may add fields without breaking it (the major
  version stays the same for additions);
- refuses a message whose major version it does not know, with one line that says so (a change
  that an older device would misread gets a new major version).

A message without ``v`` is version 1 (what gateways sent before the field existed).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Major version of the messages to devices that this software writes and understands.
DEVICE_MESSAGE_VERSION = 1


class UnsupportedVersion(ValueError):
    """A message to a device has a major version this software does not understand."""


class DeviceMessage(BaseModel):
    """A message to a device: carries its major version ``v``; unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, validate_default=True, allow_inf_nan=False)

    v: int = Field(
        DEVICE_MESSAGE_VERSION,
        description="Major version of the message format. A device refuses a major version it does not "
        "know and ignores fields it does not know (fields are added without a new major version).",
    )

    @model_validator(mode="before")
    @classmethod
    def _known_major_version(cls, data: Any) -> Any:
        if isinstance(data, dict) and "v" in data and data["v"] != DEVICE_MESSAGE_VERSION:
            raise UnsupportedVersion(
                f"message version {data['v']!r} is not understood by this device (it understands version "
                f"{DEVICE_MESSAGE_VERSION}); update the device software"
            )
        return data
