"""Generates edge/mqtt/asyncapi.json (AsyncAPI 3.0) from the topic scheme and the pydantic payloads.

    python -m edge.mqtt.asyncapi            # rewrite edge/mqtt/asyncapi.json
    python -m edge.mqtt.asyncapi --check    # exit 1 if the committed file is stale

Operations are described from the gateway's side ('send' = the gateway publishes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from edge.mqtt import payloads as p
from edge.mqtt import shelf_commands as c
from edge.mqtt.topics import ROOT

ASYNCAPI_PATH = Path(__file__).with_name("asyncapi.json")

_PARAMS = {
    "store": "Store id (gateway.store_id).",
    "gondola": "Gondola number.",
    "shelf": "Shelf number within the gondola.",
    "display": "Display id (displays[].display_id).",
    "gateway": "Gateway id.",
    "bridge": "Bridge id.",
    "receiver": "BLE receiver id.",
    "kind": "Event kind: weight, presence, basket.",
}

# name, address (after ROOT/{store}/), messages, qos, retained, expiry?, action (gateway side), description
_CHANNELS: list[tuple[str, str, list[str], int, bool, bool, str, str]] = [
    (
        "displayOffer",
        "{gondola}/{shelf}/display/{display}/offer",
        ["DisplayOffer", "DisplayWithdraw"],
        1,
        False,
        True,
        "send",
        "Offers and withdrawals for one display. MQTT 5 message expiry = the offer's remaining lifetime, so "
        "a display that reconnects late never receives a stale offer; the display also refuses one whose "
        "expires_at has passed (acks 'expired'). A withdrawal follows when the shopper leaves.",
    ),
    (
        "displayAck",
        "{gondola}/{shelf}/display/{display}/ack",
        ["DisplayAck"],
        1,
        False,
        False,
        "receive",
        "Display acknowledgements: 'shown' with the display's timestamp when rendered, 'expired' when refused as "
        "stale, 'withdrawn' when taken down, 'impression' when a shopper looked at it.",
    ),
    (
        "displayState",
        "{gondola}/{shelf}/display/{display}/state",
        ["DisplayState"],
        1,
        True,
        False,
        "receive",
        "Retained state of a display (idle / showing which offer).",
    ),
    (
        "displayAvailability",
        "{gondola}/{shelf}/display/{display}/availability",
        ["Availability"],
        1,
        True,
        False,
        "receive",
        "Retained 'online' published by the display on connect (birth message); 'offline' set as its "
        "Last Will and published on a clean stop.",
    ),
    (
        "displaySet",
        "{gondola}/{shelf}/display/{display}/set",
        ["DisplaySet"],
        1,
        False,
        False,
        "send",
        "Commands to a display: clear, identify, brightness.",
    ),
    (
        "shelfSet",
        "{gondola}/{shelf}/set",
        [
            "ShelfDisplayText",
            "ShelfDisplayClear",
            "ShelfTare",
            "ShelfSpan",
            "ShelfRate",
            "ShelfIdentify",
            "ShelfInfo",
        ],
        1,
        False,
        True,
        "send",
        "Commands for a shelf controller, forwarded over the serial shelf protocol by shelf-bridge; offers for "
        "serial text displays travel here (with message expiry), the bridge acks them on the display's ack topic.",
    ),
    (
        "shelfReply",
        "{gondola}/{shelf}/reply",
        ["ShelfReply"],
        1,
        False,
        False,
        "receive",
        "shelf-bridge's answer to a shelf command, with the command's request_id.",
    ),
    (
        "shelfSamples",
        "{gondola}/{shelf}/samples",
        ["SampleBatch"],
        0,
        False,
        False,
        "receive",
        "Calibrated load-cell samples from shelf-bridge.",
    ),
    (
        "shelfStatus",
        "{gondola}/{shelf}/status",
        ["ShelfStatus"],
        1,
        True,
        False,
        "receive",
        "Retained state of a shelf's serial link.",
    ),
    (
        "bleSightings",
        "ble/{receiver}/sightings",
        ["BleSightings"],
        0,
        False,
        False,
        "receive",
        "Raw advertisements from a remote BLE receiver (resolved at once; non-enrolled devices dropped).",
    ),
    (
        "gatewayEvents",
        "gateway/{gateway}/events/{kind}",
        ["WeightEvent", "PresenceEvent", "BasketEvent"],
        0,
        False,
        False,
        "send",
        "Events published for observers (dashboard, demo).",
    ),
    (
        "gatewayAvailability",
        "gateway/{gateway}/availability",
        ["Availability"],
        1,
        True,
        False,
        "send",
        "Retained 'online' (birth) / 'offline' (Last Will) of the gateway.",
    ),
]

_MESSAGES: dict[str, type[BaseModel] | None] = {
    "DisplayOffer": p.OfferMessage,
    "DisplayWithdraw": p.WithdrawMessage,
    "DisplayAck": p.AckMessage,
    "DisplayState": p.DisplayStateMessage,
    "DisplaySet": p.DisplaySetMessage,
    "ShelfDisplayText": p.ShelfDisplayTextMessage,
    "ShelfDisplayClear": p.ShelfDisplayClearMessage,
    "ShelfTare": c.TareCommand,
    "ShelfSpan": c.SpanCommand,
    "ShelfRate": c.RateCommand,
    "ShelfIdentify": c.IdentifyCommand,
    "ShelfInfo": c.InfoCommand,
    "ShelfReply": c.ShelfReplyMessage,
    "SampleBatch": p.SampleBatchMessage,
    "ShelfStatus": p.ShelfStatusMessage,
    "BleSightings": p.SightingsMessage,
    "WeightEvent": p.WeightEventMessage,
    "PresenceEvent": p.PresenceEventMessage,
    "BasketEvent": p.BasketEventMessage,
    "Availability": None,
}


def build() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for name, model in _MESSAGES.items():
        if model is None:
            schemas[name] = {
                "type": "string",
                "enum": ["online", "offline"],
                "description": "Plain text payload.",
            }
            messages[name] = {
                "name": name,
                "contentType": "text/plain",
                "payload": {"$ref": f"#/components/schemas/{name}"},
            }
            continue
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for sub, body in schema.pop("$defs", {}).items():
            schemas[sub] = body
        schemas[name] = schema
        messages[name] = {
            "name": name,
            "title": model.__name__,
            "summary": (model.__doc__ or "").strip().splitlines()[0],
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{name}"},
        }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for name, address, msgs, qos, retained, expiry, action, description in _CHANNELS:
        params = ["store", *[seg[1:-1] for seg in address.split("/") if seg.startswith("{")]]
        binding: dict[str, Any] = {"qos": qos, "retain": retained, "bindingVersion": "0.2.0"}
        if expiry:
            binding["messageExpiryInterval"] = {
                "type": "integer",
                "description": "Seconds until expires_at (at least 1); the broker drops the message after it.",
            }
        channels[name] = {
            "address": f"{ROOT}/{{store}}/{address}",
            "description": description,
            "parameters": {k: {"description": _PARAMS[k]} for k in params},
            "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in msgs},
        }
        operations[f"{action}{name[0].upper()}{name[1:]}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{name}"},
            "bindings": {"mqtt": binding},
            "messages": [{"$ref": f"#/channels/{name}/messages/{m}"} for m in msgs],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Smart-shelf store MQTT API",
            "version": str(p.SCHEMA_VERSION),
            "description": "Topics and payloads on the store's local Mosquitto (MQTT 5). Generated from "
            "edge/mqtt/topics.py and edge/mqtt/payloads.py by `python -m edge.mqtt.asyncapi`.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "store": {
                "host": "gateway.local:8883",
                "protocol": "mqtt",
                "protocolVersion": "5",
                "description": "The store's broker (TLS, per-client certificates, ACLs).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge.mqtt.asyncapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed file is stale")
    args = parser.parse_args(argv)
    if args.check:
        if ASYNCAPI_PATH.read_text() != render():
            print(f"{ASYNCAPI_PATH} is stale: run python -m edge.mqtt.asyncapi", file=sys.stderr)
            return 1
        return 0
    ASYNCAPI_PATH.write_text(render())
    print(ASYNCAPI_PATH)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
