"""Remote receivers over real Mosquitto -> MqttReceiversSource -> resolver -> presence core."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from edge.config import MqttSection, parse_config
from edge.events import PresenceEvent, ShelfId, Sighting
from edge.mqtt.client import MqttClient
from edge.mqtt.topics import Topics
from edge.presence.core import PresenceTracker
from edge.presence.keys import load_keys_file, write_keys_file
from edge.presence.resolver import TokenResolver
from edge.presence.sources import MqttReceiversSource, build_source
from simulators.broker import MosquittoBroker
from simulators.phones import Customer, PhoneWorld, ShopperScript, aisle_store, days_covering, enrolled_keys
from simulators.phones_mqtt import ReceiverPublisher
from tests.support.configs import IDENTITY

pytestmark = pytest.mark.integration
STORE = "store-001"


def test_receivers_over_mqtt_resolve_an_enrolled_phone_and_drop_others(
    broker: MosquittoBroker, tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    layout = aisle_store(2, 3)
    now = time.time()
    alice = Customer("sh-alice", bytes(range(16)), "android")
    bob = Customer("sh-bob", bytes(range(1, 17)), "ios")
    stranger = Customer("x-stranger", bytes(range(2, 18)), "android", enrolled=False)
    scripts = [
        ShopperScript(alice, [(ShelfId(1, 2), now + 1, now + 60)]),
        ShopperScript(bob, [(ShelfId(2, 3), now + 1, now + 60)]),
        ShopperScript(stranger, [(ShelfId(1, 1), now + 1, now + 60)]),
    ]
    keys_path = write_keys_file(
        tmp_path / "keys.json",
        STORE,
        enrolled_keys([alice, bob, stranger], STORE, days_covering(now, now + 120)),
    )
    resolver = TokenResolver()
    resolver.set_keys(load_keys_file(keys_path, store=STORE))
    resolver.advance(now)
    tracker = PresenceTracker(layout.zones)
    events: list[PresenceEvent] = []
    heard: list[Sighting] = []

    def on_sighting(s: Sighting) -> None:
        heard.append(s)
        resolved = resolver.resolve(s)
        if resolved is not None:
            events.extend(tracker.observe(resolved))

    settings = MqttSection(host=broker.host, port=broker.port)
    config = parse_config(
        {
            "gateway": IDENTITY,
            "mqtt": {"host": broker.host, "port": broker.port},
            "presence": {"source": "mqtt-receivers"},
        }
    )
    gateway = MqttClient(settings, "gw-test")

    async def main() -> MqttReceiversSource:
        source = build_source(config, gateway)
        assert isinstance(source, MqttReceiversSource)
        gateway.attach_loop(asyncio.get_running_loop())
        task = asyncio.create_task(source.run(on_sighting))
        gateway.start()
        assert await asyncio.to_thread(gateway.wait_connected, 10)
        world = PhoneWorld(layout, scripts, store=STORE, seed=4)
        with ReceiverPublisher(world, settings, STORE, period_s=0.25):
            gateway.publish(
                Topics(STORE).ble_sightings("rx-g1s1"), b'{"receiver": "rx-g1s1", "sightings": [{"t": "x"}]}'
            )
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                arrived = {(e.shopper, e.shelf) for e in events if e.kind == "arrival"}
                if {("sh-alice", ShelfId(1, 2)), ("sh-bob", ShelfId(2, 3))} <= arrived and source.malformed:
                    break
                await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return source

    try:
        source = asyncio.run(main())
    finally:
        gateway.stop()
    arrived = {(e.shopper, e.shelf) for e in events if e.kind == "arrival"}
    assert ("sh-alice", ShelfId(1, 2)) in arrived
    assert ("sh-bob", ShelfId(2, 3)) in arrived
    assert tracker.shoppers_at(ShelfId(1, 2), heard[-1].t)[0][0] == "sh-alice"
    # the stranger is not enrolled (enrolled_keys skips them): never resolved, never in an event
    assert all(e.shopper != "x-stranger" for e in events)
    assert resolver.dropped > 0 and source.malformed == 1
    assert "sightings on smartshelf/store-001/ble/rx-g1s1/sightings refused (malformed)" in caplog.text
    stranger_token = scripts[2].customer.secret.hex()
    assert stranger_token not in caplog.text
