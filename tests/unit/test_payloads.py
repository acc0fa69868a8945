import json

import pytest

from edge.errors import PayloadError
from edge.events import Offer, ShelfId
from edge.mqtt.payloads import (
    PAYLOADS,
    OfferMessage,
    SampleBatchMessage,
    SightingsMessage,
    WithdrawMessage,
    decode,
    decode_display_command,
    encode,
)
from edge.mqtt.topics import Topics, parse_display_topic, parse_shelf_topic


def test_sample_batch_round_trip_to_event():
    msg = SampleBatchMessage(
        bridge="b", gondola=1, shelf=2, seq=7, plates=[1, 2], t=[1.0, 1.1], readings=[[1, 2], [3, 4]]
    )
    back = decode(SampleBatchMessage, "t", encode(msg))
    event = back.to_event()
    assert event.shelf == ShelfId(1, 2)
    assert event.readings == ((1.0, 2.0), (3.0, 4.0))
    assert event.seq == 7


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "Invalid JSON"),
        (
            b'{"bridge":"b","gondola":1,"shelf":2,"seq":0,"plates":[1],"t":[1.0],"readings":[[1,2]]}',
            "1 plates",
        ),
        (
            b'{"bridge":"b","gondola":1,"shelf":2,"seq":0,"plates":[1],"t":[1.0,2.0],"readings":[[1]]}',
            "2 timestamps",
        ),
        (b'{"bridge":"b","gondola":-1,"shelf":2,"seq":0,"plates":[1],"t":[1.0],"readings":[[1]]}', "gondola"),
        (
            b'{"bridge":"b","gondola":1,"shelf":2,"seq":0,"plates":[1],"t":[1.0],"readings":[[1]],"x":1}',
            "x: Extra",
        ),
    ],
)
def test_malformed_sample_batches_are_named(payload, reason):
    with pytest.raises(PayloadError) as info:
        decode(SampleBatchMessage, "smartshelf/s/1/2/samples", payload)
    assert reason in str(info.value)
    assert info.value.topic == "smartshelf/s/1/2/samples"


def test_sightings_hex_is_decoded():
    raw = {"receiver": "rx", "sightings": [{"t": 1.0, "rssi": -60, "manufacturer_data": {"65535": "0a0b"}}]}
    msg = decode(SightingsMessage, "t", json.dumps(raw).encode())
    assert msg.sightings[0].to_event("rx").manufacturer_data == ((65535, b"\x0a\x0b"),)


def test_display_commands_are_told_apart():
    offer = Offer(
        offer_id="o1",
        t=1.0,
        expires_at=31.0,
        shopper="s",
        shelf=ShelfId(1, 2),
        display="d1",
        product_id="p",
        name="Tea",
        price=2.5,
        reason="goes with milk",
    )
    cmd = decode_display_command("t", encode(OfferMessage.from_offer(offer)))
    assert isinstance(cmd, OfferMessage) and cmd.expires_at == 31.0
    cmd = decode_display_command("t", encode(WithdrawMessage(offer_id="o1")))
    assert isinstance(cmd, WithdrawMessage)
    with pytest.raises(PayloadError, match="type"):
        decode_display_command("t", b'{"type":"dance"}')


def test_every_payload_has_a_schema_with_descriptions():
    for name, model in PAYLOADS.items():
        schema = model.model_json_schema()
        for prop, spec in schema["properties"].items():
            assert "description" in spec, f"{name}.{prop}"


def test_topics_parse_back():
    t = Topics("store-9")
    assert parse_shelf_topic(t.samples(3, 4)) == ("store-9", 3, 4, "samples")
    assert parse_display_topic(t.display_offer(3, 4, "d7")) == ("store-9", 3, 4, "d7", "offer")
    with pytest.raises(ValueError):
        parse_shelf_topic("smartshelf/store-9/gateway/gw/availability")
