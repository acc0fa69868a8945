"""JSON payloads of the bridge's command topic (``.../{gondola}/{shelf}/set``) and reply topic.

The models live in :mod:`edge.mqtt.shelf_commands` (and are listed in ``edge.mqtt.payloads.PAYLOADS``,
so their schemas are published); the ``set`` topic also carries the gateway's text-display messages
(:class:`edge.mqtt.payloads.ShelfDisplayTextMessage` / ``ShelfDisplayClearMessage``), told apart by
``type``. Every command is versioned (``v``); the bridge ignores fields it does not know and refuses
a major version it does not know (reply ``invalid``, naming the version).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from edge.mqtt.payloads import ShelfDisplayClearMessage, ShelfDisplayTextMessage
from edge.mqtt.shelf_commands import (
    IdentifyCommand,
    InfoCommand,
    RateCommand,
    ShelfReplyMessage,
    SpanCommand,
    TareCommand,
)

ShelfCommand = Annotated[
    TareCommand
    | SpanCommand
    | RateCommand
    | IdentifyCommand
    | InfoCommand
    | ShelfDisplayTextMessage
    | ShelfDisplayClearMessage,
    Field(discriminator="type"),
]
SHELF_COMMAND: TypeAdapter[
    TareCommand
    | SpanCommand
    | RateCommand
    | IdentifyCommand
    | InfoCommand
    | ShelfDisplayTextMessage
    | ShelfDisplayClearMessage
] = TypeAdapter(ShelfCommand)

__all__ = [
    "SHELF_COMMAND",
    "IdentifyCommand",
    "InfoCommand",
    "RateCommand",
    "ShelfCommand",
    "ShelfReplyMessage",
    "SpanCommand",
    "TareCommand",
]
