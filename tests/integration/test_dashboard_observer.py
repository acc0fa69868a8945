"""The dashboard's MQTT observer and live state: any bytes on its topics are counted, never raised;
valid payloads build the state (weights history, presence counts, offers and acks)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.mqtt.client import MqttMessage
from edge.mqtt.payloads import AckMessage, BasketEventMessage, OfferMessage, PresenceEventMessage, encode
from edge.web.live import HISTORY_S, LiveState
from edge.web.observer import StoreObserver

TOPICS = [
    "smartshelf/s/1/2/samples",
    "smartshelf/s/1/2/status",
    "smartshelf/s/bridge/b/availability",
    "smartshelf/s/gateway/gw/events/basket",
    "smartshelf/s/gateway/gw/events/presence",
    "smartshelf/s/gateway/gw/events/offer",
    "smartshelf/s/1/2/display/d1/ack",
]


def deliver(observer: StoreObserver, topic: str, payload: bytes) -> None:
    msg = MqttMessage(topic, payload, False, 0.0)
    handler = {
        "samples": observer._samples,
        "status": observer._status,
        "availability": observer._availability,
        "ack": observer._ack,
    }.get(topic.rsplit("/", 1)[-1], observer._gateway_event)
    handler(msg)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(TOPICS), st.binary(max_size=200))
def test_any_bytes_are_counted_not_raised(topic: str, payload: bytes) -> None:
    live = LiveState()
    deliver(StoreObserver(live, "s"), topic, payload)
    snapshot = live.snapshot()
    assert snapshot["counters"]["malformed"] in (0, 1)


def test_state_from_valid_payloads() -> None:
    live = LiveState()
    obs = StoreObserver(live, "s")
    for i in range(int(HISTORY_S * 8)):
        t = 1000.0 + i * 0.125
        batch = {
            "bridge": "b",
            "gondola": 1,
            "shelf": 2,
            "seq": i,
            "plates": [1, 2],
            "t": [t],
            "readings": [[100.0 + i, 5.0]],
        }
        deliver(obs, "smartshelf/s/1/2/samples", json.dumps(batch).encode())
    plates = live.snapshot()["plates"]
    assert [p["plate"] for p in plates] == [1, 2]
    assert plates[0]["t"][-1] - plates[0]["t"][0] <= HISTORY_S  # bounded history
    assert len(plates[0]["series"]) <= HISTORY_S / 0.25 + 1  # thinned to 4 points per second
    presence = PresenceEventMessage(t=1.0, shopper="sh-1", gondola=1, shelf=2, kind="arrival")
    deliver(obs, "smartshelf/s/gateway/gw/events/presence", encode(presence))
    deliver(
        obs,
        "smartshelf/s/gateway/gw/events/presence",
        encode(presence.model_copy(update={"shopper": "sh-2"})),
    )
    deliver(
        obs,
        "smartshelf/s/gateway/gw/events/presence",
        encode(presence.model_copy(update={"kind": "departure"})),
    )
    basket = BasketEventMessage(
        event_id="e",
        t=2.0,
        gondola=1,
        shelf=2,
        kind="return",
        product_id=None,
        quantity=1,
        confidence=0.5,
        shopper=None,
        sources=["weight"],
    )
    deliver(obs, "smartshelf/s/gateway/gw/events/basket", encode(basket))
    offer = OfferMessage(
        offer_id="o1",
        shopper="sh-2",
        gondola=1,
        shelf=2,
        display="d1",
        product_id="p",
        name="Tea",
        price=2.0,
        reason="r",
        issued_at=3.0,
        expires_at=33.0,
    )
    deliver(obs, "smartshelf/s/gateway/gw/events/offer", encode(offer))
    deliver(
        obs,
        "smartshelf/s/1/2/display/d1/ack",
        encode(AckMessage(offer_id="o1", display="d1", status="impression", at=4.0)),
    )
    snap = live.snapshot()
    assert snap["shelves"] == [
        {"shelf": "1/2", "connected": False, "firmware": None, "crc_errors": 0, "shoppers": 1}
    ]
    assert snap["events"][0]["product"] == "unknown" and snap["events"][0]["attributed"] is False
    assert snap["offers"][0]["status"] == "impression" and snap["offers"][0]["acknowledged"] is True
    assert snap["counters"]["returns"] == 1 and snap["counters"]["unattributed"] == 1
    assert "sh-1" not in str(snap) and "sh-2" not in str(snap)
