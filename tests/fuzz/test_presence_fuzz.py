"""Fuzzing the presence parsers of outside bytes: MQTT sightings, advertisements, keys files."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.config import MqttSection
from edge.events import Sighting
from edge.mqtt.client import MqttClient, MqttMessage
from edge.presence.keys import KeysFileError, load_keys_file
from edge.presence.resolver import TokenResolver
from edge.presence.sources import MqttReceiversSource
from edge.presence.tokens import candidate_tokens

TOPIC = "smartshelf/store-001/ble/rx-1/sightings"
_RESOLVER = TokenResolver()
_RESOLVER.advance(1_763_900_000.0)


def _source() -> tuple[MqttReceiversSource, list[Sighting]]:
    got: list[Sighting] = []
    source = MqttReceiversSource(MqttClient(MqttSection(), "fuzz"), "store-001")
    source._on = got.append
    return source, got


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(payload=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_sightings_payload_is_decoded_or_counted_never_raised(payload: bytes) -> None:
    source, got = _source()
    source._deliver(MqttMessage(TOPIC, payload, False, 0.0))
    assert source.messages == 1
    if source.malformed:
        assert source.malformed == 1 and got == []  # nothing half-delivered
    else:
        assert len(got) == len(json.loads(payload)["sightings"])


@settings(max_examples=100, deadline=None)
@given(
    items=st.lists(
        st.fixed_dictionaries(
            {
                "t": st.floats(min_value=0, max_value=2e9),
                "rssi": st.floats(min_value=-127, max_value=20),
                "manufacturer_data": st.dictionaries(
                    st.integers(0, 65535).map(str), st.binary(max_size=30).map(bytes.hex), max_size=3
                ),
                "service_uuids": st.lists(st.uuids().map(str) | st.text(max_size=40), max_size=3),
            }
        ),
        max_size=5,
    )
)
def test_well_formed_messages_deliver_every_sighting_and_resolve_to_nothing(items: list[dict]) -> None:  # type: ignore[type-arg]
    source, got = _source()
    body = json.dumps({"receiver": "rx-1", "sightings": items}).encode()
    source._deliver(MqttMessage(TOPIC, body, False, 0.0))
    assert source.malformed == 0 and len(got) == len(items)
    assert all(_RESOLVER.resolve(s) is None for s in got)  # no keys: everything dropped


@settings(max_examples=150, deadline=None)
@given(
    mdata=st.lists(st.tuples(st.integers(0, 65535), st.binary(max_size=40)), max_size=4),
    sdata=st.lists(st.tuples(st.text(max_size=40), st.binary(max_size=40)), max_size=4),
    uuids=st.lists(st.text(max_size=40) | st.uuids().map(str), max_size=4),
)
def test_candidate_tokens_are_always_16_bytes(mdata, sdata, uuids) -> None:  # type: ignore[no-untyped-def]
    for token in candidate_tokens(tuple(mdata), tuple(sdata), tuple(uuids)):
        assert len(token) == 16


@settings(max_examples=100, deadline=None)
@given(content=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_keys_file_loader_raises_only_keys_file_error(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "keys.json"
        path.write_bytes(content)
        try:
            keys = load_keys_file(path)
        except KeysFileError as exc:
            assert str(path) in str(exc)
        else:
            assert isinstance(keys, list)
