"""Every MQTT payload model refuses NaN and Infinity; messages to devices are versioned and tolerant."""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from edge.errors import PayloadError
from edge.mqtt.payloads import PAYLOADS, decode, decode_display_command
from edge.mqtt.versioning import DEVICE_MESSAGE_VERSION, DeviceMessage
from edge.settings_base import Section

T = 1_760_000_000.0
#: A valid payload of every model in PAYLOADS, with every optional number filled in.
EXAMPLES: dict[str, dict[str, Any]] = {
    "sample-batch": {
        "bridge": "b",
        "gondola": 1,
        "shelf": 2,
        "seq": 0,
        "plates": [1, 2],
        "t": [T, T + 0.1],
        "readings": [[1.5, 2.5], [3.5, 4.5]],
    },
    "shelf-status": {
        "bridge": "b",
        "port": "/dev/ttyUSB0",
        "connected": True,
        "protocol_version": 1,
        "sample_rate_hz": 60.0,
        "frames": 1,
        "crc_errors": 0,
        "gaps": 0,
        "reconnects": 0,
        "updated_at": T,
    },
    "ble-sightings": {
        "receiver": "rx",
        "sightings": [{"t": T, "rssi": -60.5, "manufacturer_data": {"76": "00"}}],
    },
    "display-offer": {
        "offer_id": "o1",
        "shopper": "s",
        "gondola": 1,
        "shelf": 2,
        "display": "d1",
        "product_id": "p",
        "name": "Tea",
        "price": 2.5,
        "reason": "r",
        "issued_at": T,
        "expires_at": T + 30,
    },
    "display-withdraw": {"offer_id": "o1"},
    "display-ack": {"offer_id": "o1", "display": "d1", "status": "shown", "at": T},
    "display-state": {"display": "d1", "state": "idle", "updated_at": T},
    "display-set": {"command": "brightness", "value": 50.0, "at": T},
    "shelf-display-text": {"display": "d1", "offer_id": "o1", "lines": ["Tea"], "expires_at": T + 30},
    "shelf-display-clear": {"display": "d1", "offer_id": "o1"},
    "event-weight": {
        "t_start": T,
        "t_end": T + 1,
        "gondola": 1,
        "shelf": 2,
        "plates": [3],
        "delta_g": -100.5,
        "kind": "pick",
        "product_id": None,
        "quantity": 1,
        "confidence": 0.5,
    },
    "event-presence": {"t": T, "shopper": "s", "gondola": 1, "shelf": 2, "kind": "arrival"},
    "event-basket": {
        "event_id": "e",
        "t": T,
        "gondola": 1,
        "shelf": 2,
        "kind": "pick",
        "product_id": "p",
        "quantity": 1,
        "confidence": 0.5,
        "shopper": None,
        "sources": ["weight"],
    },
    "event-decision": {
        "decision_id": "d",
        "shopper": "s",
        "outcome": "offered",
        "variant": "A",
        "chosen": None,
    },
    "shelf-command-tare": {"type": "tare", "plate": 3, "samples": 60},
    "shelf-command-span": {"type": "span", "plate": 3, "known_g": 1000.0},
    "shelf-command-rate": {"type": "rate", "rate_hz": 60.0},
    "shelf-command-identify": {"type": "identify", "duration_s": 5.0},
    "shelf-command-info": {"type": "info"},
    "shelf-reply": {
        "request_id": "r",
        "type": "span",
        "status": "ok",
        "plate": 3,
        "zero_raw": 100.5,
        "g_per_count": 0.241,
        "rate_hz": 60.0,
        "at": T,
    },
}


def _number_paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, bool):
        return
    if isinstance(node, int | float):
        yield path
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _number_paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _number_paths(v, (*path, i))


def _with(example: dict[str, Any], path: tuple[Any, ...], value: float) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(example))
    node: Any = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copy


def test_every_payload_model_has_an_example() -> None:
    assert set(EXAMPLES) == set(PAYLOADS)
    for name, model in PAYLOADS.items():
        decode(model, name, json.dumps(EXAMPLES[name]).encode())


CASES = [
    (name, path, bad)
    for name, example in EXAMPLES.items()
    for path in _number_paths(example)
    for bad in (math.nan, math.inf, -math.inf)
]


@pytest.mark.parametrize(
    ("name", "path", "bad"), CASES, ids=[f"{n}:{'.'.join(map(str, p))}:{b}" for n, p, b in CASES]
)
def test_nan_and_infinity_are_refused_everywhere(name: str, path: tuple[Any, ...], bad: float) -> None:
    payload = json.dumps(_with(EXAMPLES[name], path, bad)).encode()  # json writes NaN / Infinity
    assert b"NaN" in payload or b"Infinity" in payload
    with pytest.raises(PayloadError):
        decode(PAYLOADS[name], "t", payload)


def _subclasses(cls: type) -> Iterator[type]:
    sub: type
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_model_for_outside_data_refuses_non_finite_numbers() -> None:
    for module in (
        "edge.config",
        "edge.presence.checkin",
        "edge.presence.keys",
        "edge.sync.release_meta",
        "edge.sync.validate",
        "edge.offers.rules",
        "shelf_firmware_bridge.messages",
    ):
        importlib.import_module(module)
    from edge.offers.rules import Rules

    models: list[type[BaseModel]] = [
        *_subclasses(Section),
        *_subclasses(DeviceMessage),
        *_subclasses(Rules.__mro__[1]),
    ]
    assert len(models) > 30
    lax = [m.__qualname__ for m in models if m.model_config.get("allow_inf_nan") is not False]
    assert not lax


DEVICE_BOUND = [
    "display-offer",
    "display-withdraw",
    "display-set",
    "shelf-display-text",
    "shelf-display-clear",
    "shelf-command-tare",
    "shelf-command-span",
    "shelf-command-rate",
    "shelf-command-identify",
    "shelf-command-info",
]


@pytest.mark.parametrize("name", DEVICE_BOUND)
def test_messages_to_devices_carry_a_version_and_ignore_unknown_fields(name: str) -> None:
    model = PAYLOADS[name]
    assert issubclass(model, DeviceMessage)
    message = model.model_validate(EXAMPLES[name])
    assert json.loads(message.model_dump_json())["v"] == DEVICE_MESSAGE_VERSION
    newer = {**EXAMPLES[name], "v": DEVICE_MESSAGE_VERSION, "added_in_a_newer_gateway": {"x": 1}}
    assert decode(model, "t", json.dumps(newer).encode()) == message
    with pytest.raises(PayloadError, match="message version 2 is not understood by this device"):
        decode(model, "t", json.dumps({**EXAMPLES[name], "v": 2}).encode())


def test_display_command_union_refuses_a_new_major_version_clearly() -> None:
    offer = {**EXAMPLES["display-offer"], "type": "offer", "v": 7, "layout": "new"}
    with pytest.raises(PayloadError, match="version 7 is not understood"):
        decode_display_command("t", json.dumps(offer).encode())
    offer["v"] = 1
    assert decode_display_command("t", json.dumps(offer).encode()).offer_id == "o1"


def test_messages_from_devices_stay_strict() -> None:
    ack = {**EXAMPLES["display-ack"], "extra": 1}
    with pytest.raises(PayloadError, match="extra"):
        decode(PAYLOADS["display-ack"], "t", json.dumps(ack).encode())
