"""A simulated display (like an installed one) under a newer gateway: unknown fields ignored, an
unknown major version refused with one line naming it, over a real Mosquitto."""

from __future__ import annotations

import json
import logging
import time

import pytest

from edge.config import DisplaySection, MqttSection
from edge.events import Offer, ShelfId
from edge.mqtt.client import MqttClient
from edge.mqtt.payloads import OfferMessage, encode
from edge.mqtt.topics import Topics
from simulators.broker import MosquittoBroker
from simulators.displays import SimulatedDisplay
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

TOPICS = Topics("store-v")
D1 = DisplaySection(display_id="dv1", gondola=4, shelf=1)


def test_simulated_display_ignores_new_fields_and_refuses_a_new_major_version(
    shared_broker: MosquittoBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="simulators.displays")
    settings = MqttSection(host=shared_broker.host, port=shared_broker.port)
    display = SimulatedDisplay(settings, TOPICS, D1)
    gw = MqttClient(settings, "gw-versions")
    display.start()
    gw.start()
    try:
        assert gw.wait_connected(5) and display.client.wait_connected(5)
        now = time.time()
        offer = json.loads(
            encode(
                OfferMessage.from_offer(
                    Offer("o-v1", now, now + 30, "s", ShelfId(4, 1), "dv1", "p", "Tea", 2.5, "r")
                )
            )
        )
        assert offer["v"] == 1
        topic = TOPICS.display_offer(4, 1, "dv1")
        gw.publish(topic, json.dumps({**offer, "offer_id": "o-v2", "v": 2}).encode(), qos=1)
        gw.publish(topic, json.dumps({**offer, "layout": {"theme": "dark"}, "badge": "new"}).encode(), qos=1)
        wait_until(lambda: display.record.shown, 5, what="the offer with new fields shown")
        assert [s.offer_id for s in display.record.shown] == ["o-v1"] and display.record.malformed == 1
        [line] = [r.getMessage() for r in caplog.records]
        assert "message version 2 is not understood by this device" in line
    finally:
        gw.stop()
        display.stop()
