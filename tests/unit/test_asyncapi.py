"""The committed AsyncAPI document is generated from the current topics and payload models."""

from __future__ import annotations

import re

from edge.mqtt.asyncapi import ASYNCAPI_PATH, build, render
from edge.mqtt.topics import Topics


def test_asyncapi_is_current() -> None:
    assert ASYNCAPI_PATH.read_text() == render(), "run: python -m edge.mqtt.asyncapi"


def test_channel_addresses_match_the_topic_builder() -> None:
    doc = build()
    t = Topics("s1")
    expected = {
        "displayOffer": t.display_offer(1, 2, "d"),
        "displayAck": t.display(1, 2, "d", "ack"),
        "displayState": t.display(1, 2, "d", "state"),
        "displayAvailability": t.display(1, 2, "d", "availability"),
        "displaySet": t.display(1, 2, "d", "set"),
        "shelfSet": t.shelf_set(1, 2),
        "shelfSamples": t.samples(1, 2),
        "bleSightings": t.ble_sightings("d"),
        "gatewayAvailability": t.availability("gateway", "d"),
    }
    values = {"store": "s1", "gondola": "1", "shelf": "2", "display": "d", "receiver": "d", "gateway": "d"}
    for name, topic in expected.items():
        address = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], doc["channels"][name]["address"])
        assert address == topic, name
    for op in doc["operations"].values():
        for ref in op["messages"]:
            channel, _, message = ref["$ref"].split("/")[2:]
            assert message in doc["channels"][channel]["messages"]
    offer = doc["operations"]["sendDisplayOffer"]["bindings"]["mqtt"]
    assert offer["qos"] == 1 and "messageExpiryInterval" in offer
    assert doc["operations"]["receiveDisplayState"]["bindings"]["mqtt"]["retain"] is True
