"""The publisher's handlers for display acks, state and availability take any bytes without raising;
an ack for an offer the gateway never sent is refused (the accepted path runs against the real
daemon in tests/integration/test_gateway_door.py)."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.config import DisplaySection, MqttSection
from edge.displays.publisher import DisplayPublisher
from edge.mqtt.client import MqttClient, MqttMessage
from edge.mqtt.topics import Topics

TOPICS = Topics("s")
PUB = DisplayPublisher(
    MqttClient(MqttSection(), "fuzz"), TOPICS, [DisplaySection(display_id="d1", gondola=1, shelf=1)]
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["ack", "state", "availability"]))
def test_any_bytes(payload: bytes, leaf: str) -> None:
    msg = MqttMessage(TOPICS.display(1, 1, "d1", leaf), payload, False, time.time())
    {"ack": PUB._on_ack, "state": PUB._on_state, "availability": PUB._on_availability}[leaf](msg)


def test_ack_for_an_offer_never_sent_is_refused_and_availability_is_taken() -> None:
    before = PUB.counts.copy()
    PUB._on_ack(
        MqttMessage(
            TOPICS.display(1, 1, "d1", "ack"),
            b'{"offer_id":"o","display":"d1","status":"shown","at":1.0}',
            False,
            0.0,
        )
    )
    PUB._on_availability(MqttMessage(TOPICS.display(1, 1, "d1", "availability"), b"online", True, 0.0))
    assert PUB.counts["acks"] == before["acks"] and PUB.counts["bad_acks"] == before["bad_acks"] + 1
    assert PUB.status["d1"].available is True


def test_state_and_availability_count_only_from_a_configured_displays_own_topic() -> None:
    pub = DisplayPublisher(
        MqttClient(MqttSection(), "unit"), TOPICS, [DisplaySection(display_id="d1", gondola=1, shelf=1)]
    )
    state = b'{"display":"%s","state":"showing","offer_id":"x","updated_at":1.0}'
    pub._on_state(MqttMessage(TOPICS.display(1, 1, "d1", "state"), state % b"d9", True, 0.0))
    pub._on_state(MqttMessage(TOPICS.display(1, 2, "d1", "state"), state % b"d1", True, 0.0))
    pub._on_availability(MqttMessage(TOPICS.display(7, 7, "d9", "availability"), b"online", True, 0.0))
    pub._on_availability(MqttMessage(TOPICS.display(1, 2, "d1", "availability"), b"online", True, 0.0))
    assert set(pub.status) == {"d1"} and pub.status["d1"].state is None and pub.status["d1"].available is None
    pub._on_state(MqttMessage(TOPICS.display(1, 1, "d1", "state"), state % b"d1", True, 0.0))
    assert pub.status["d1"].state is not None and pub.status["d1"].state.state == "showing"
