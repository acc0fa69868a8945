"""PresenceService as the daemon wires it: config 'bleak', keys file, simulated BlueZ, revocation."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from edge.config import parse_config
from edge.events import PresenceEvent, ShelfId
from edge.presence.keys import write_keys_file
from edge.presence.service import PresenceService
from simulators.bluez import simulated_bluez, write_spec
from simulators.phones import Customer, ShopperScript, days_covering, enrolled_keys
from tests.support.configs import IDENTITY

pytestmark = pytest.mark.integration
STORE = "store-001"


def test_service_tracks_enrolled_shoppers_through_bleak_and_forgets_revoked(tmp_path: Path) -> None:
    now = time.time()
    alice = Customer("sh-alice", bytes(range(16)), "android")
    bob = Customer("sh-bob", bytes(range(7, 23)), "android-service")
    scripts = [
        ShopperScript(alice, [(ShelfId(1, 1), now + 0.5, now + 120)]),
        ShopperScript(bob, [(ShelfId(1, 3), now + 0.5, now + 120)]),
    ]
    spec = write_spec(
        tmp_path / "spec.json",
        scripts,
        {"hci0": "rx-g1s1", "hci1": "rx-g1s3"},
        gondolas=2,
        shelves_per_gondola=3,
    )
    keys = write_keys_file(
        tmp_path / "keys.json", STORE, enrolled_keys([alice, bob], STORE, days_covering(now, now + 300))
    )
    config = parse_config(
        {
            "gateway": IDENTITY,
            "presence": {
                "source": "bleak",
                "adapter": "hci0",
                "adapters": ["hci1"],
                "receivers": {"local-hci0": "1/1", "local-hci1": "1/3"},
                "keys_file": str(keys),
            },
        }
    )
    events: list[PresenceEvent] = []

    with simulated_bluez(spec):
        service = PresenceService(config, mqtt=None, on_event=events.append, tick_s=0.2)
        assert service.load_keys() == 2

        async def main() -> None:
            task = asyncio.create_task(service.run())
            deadline = time.monotonic() + 20
            want = {("sh-alice", ShelfId(1, 1)), ("sh-bob", ShelfId(1, 3))}
            while not want <= {(e.shopper, e.shelf) for e in events if e.kind == "arrival"}:
                assert time.monotonic() < deadline, events
                await asyncio.sleep(0.05)
            assert service.shoppers_at(ShelfId(1, 1), time.time())[0][0] == "sh-alice"
            assert service.revoke(["sh-bob"]) == len(days_covering(now, now + 300))
            await asyncio.sleep(1.0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        asyncio.run(main())
    assert "sh-bob" not in service.tracker.shoppers()
    assert "sh-bob" not in service.resolver.enrolled_shoppers()
    assert service.shoppers_at(ShelfId(1, 3), time.time()) == []
    stats = service.stats()
    assert stats["enrolled_keys"] == len(days_covering(now, now + 300)) and stats["sightings_resolved"] > 0
