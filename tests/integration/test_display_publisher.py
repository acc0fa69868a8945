"""DisplayPublisher over a real Mosquitto with simulated displays: expiry, withdrawal, acks, serial."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from edge import telemetry
from edge.config import DisplaySection, MqttSection
from edge.displays.publisher import DisplayPublisher, UnknownDisplayError
from edge.events import BasketEvent, Offer, ShelfId
from edge.mqtt.client import MqttClient, MqttMessage
from edge.mqtt.payloads import ShelfDisplayClearMessage, ShelfDisplayTextMessage, decode
from edge.mqtt.topics import Topics
from edge.store.db import open_database
from edge.store.events_repo import EventStore
from simulators.broker import MosquittoBroker
from simulators.displays import SimulatedDisplay
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

TOPICS = Topics("store-1")
D1 = DisplaySection(display_id="d1", gondola=1, shelf=2)
SERIAL = DisplaySection(display_id="s1", gondola=3, shelf=0, transport="serial")


def offer(
    oid: str, shopper: str = "shopper-a", ttl: float = 30, display: str = "d1", variant: str = "A"
) -> Offer:
    now = time.time()
    return Offer(
        oid,
        now,
        now + ttl,
        shopper,
        ShelfId(1, 2),
        display,
        "p1",
        "Oat biscuits",
        1.99,
        "goes with your tea",
        "bought together by 23 % of shoppers",
        "c1",
        variant,
    )


@pytest.fixture
def rig(broker: MosquittoBroker, tmp_path: Path):
    settings = MqttSection(host=broker.host, port=broker.port)
    gw = MqttClient(settings, "gw-test", TOPICS.availability("gateway", "gw-test"))
    db = open_database(tmp_path / "edge.db")
    store = EventStore(db)
    pub = DisplayPublisher(gw, TOPICS, [D1, SERIAL], record=store.append, conversion_window_s=60)
    pub.start()
    gw.start()
    display = SimulatedDisplay(settings, TOPICS, D1)
    display.start()
    assert gw.wait_connected(5) and display.client.wait_connected(5)
    wait_until(lambda: pub.status["d1"].available, 5, what="display birth message")
    yield pub, display, store, settings
    display.stop()
    gw.stop()


def test_offer_shown_acked_withdrawn_and_recorded(rig) -> None:
    pub, display, store, _ = rig
    o = offer("o1")
    acked = telemetry.REGISTRY.get_sample_value("smartshelf_offer_to_ack_seconds_count") or 0.0
    pub.publish(o)
    wait_until(lambda: pub.ack_latencies, 5, what="shown ack")
    assert telemetry.REGISTRY.get_sample_value("smartshelf_offer_to_ack_seconds_count") == acked + 1
    assert display.record.shown[0].name == "Oat biscuits"
    wait_until(lambda: pub.status["d1"].state and pub.status["d1"].state.state == "showing", 5, what="state")
    assert pub.withdraw_for("shopper-b", time.time()) == []
    assert pub.withdraw_for("shopper-a", time.time()) == ["o1"]
    wait_until(lambda: display.record.withdrawn == ["o1"], 5, what="withdrawal on the display")
    wait_until(lambda: store.count("display-acks") == 2, 5, what="acks recorded")
    [conv] = pub.on_basket(
        BasketEvent(o.t + 5, ShelfId(1, 2), "pick", "p1", 1, 0.9, "shopper-a", ("weight",), "b1")
    )
    assert conv.offer_id == "o1" and store.count("conversions") == 1 and store.count("offers") == 2


def test_stale_offer_never_reaches_a_late_display(rig, broker: MosquittoBroker) -> None:
    pub, _display, _store, _settings = rig
    pub.publish(offer("old", ttl=-1))
    assert pub.counts["dropped_stale"] == 1
    # a display with a persistent session goes away; offers queued for it expire in the broker
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    got: list[bytes] = []
    late = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id="late-display", protocol=mqtt.MQTTv5
    )
    late.on_message = lambda c, u, m: got.append(m.payload)
    subscribed = threading.Event()
    late.on_subscribe = lambda *a: subscribed.set()
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 300
    late.connect(broker.host, broker.port, clean_start=False, properties=props)
    late.loop_start()
    late.subscribe(TOPICS.display_offer(1, 2, "d1"), qos=1)
    wait_until(lambda: late.is_connected(), 5)
    assert subscribed.wait(5)  # the broker keeps the subscription in the session from now on
    late.disconnect()
    late.loop_stop()
    pub.publish(offer("short", ttl=1.0))
    pub.publish(offer("long", ttl=30))
    time.sleep(2.2)  # let 'short' expire inside the broker while the display is away
    late.connect(broker.host, broker.port, clean_start=False, properties=props)
    late.loop_start()
    try:
        wait_until(lambda: any(b"long" in p for p in got), 5, what="queued live offer")
        assert not any(b'"short"' in p for p in got)
    finally:
        late.disconnect()
        late.loop_stop()


def test_serial_display_gets_text_command_on_shelf_set(rig) -> None:
    pub, _display, _store, settings = rig
    seen: list[MqttMessage] = []
    bridge = MqttClient(settings, "bridge-test")
    bridge.subscribe(TOPICS.shelf_set(3, 0), seen.append, qos=1)
    bridge.start()
    assert bridge.wait_connected(5)  # connected and subscribed (SUBACK received)
    try:
        pub.publish(offer("o-serial", display="s1"))
        wait_until(lambda: seen, 5, what="text command")
        text = decode(ShelfDisplayTextMessage, seen[0].topic, seen[0].payload)
        assert text.lines[:2] == ["Oat biscuits", "1.99"] and text.offer_id == "o-serial"
        assert pub.withdraw_for("shopper-a", time.time()) == ["o-serial"]
        wait_until(lambda: len(seen) == 2, 5, what="clear command")
        assert decode(ShelfDisplayClearMessage, seen[1].topic, seen[1].payload).offer_id == "o-serial"
    finally:
        bridge.stop()


def test_holdout_recorded_not_shown_and_unknown_display_refused(rig) -> None:
    pub, display, store, _ = rig
    pub.publish(offer("h1", variant="holdout"))
    assert pub.counts["held_out"] == 1 and store.count("offers") == 1
    with pytest.raises(UnknownDisplayError, match="'nope'"):
        pub.publish(offer("x", display="nope"))
    assert display.record.shown == []
