"""The unmodified bleak BleakScanner against the BlueZ stand-in on a private dbus-daemon."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from edge.events import PresenceEvent, ShelfId, ShopperSighting, Sighting
from edge.presence.core import PresenceTracker
from edge.presence.resolver import TokenResolver
from edge.presence.sources import BleakSource
from simulators.bluez import simulated_bluez, write_spec
from simulators.phones import Customer, ShopperScript, days_covering, enrolled_keys, random_address

pytestmark = pytest.mark.integration
STORE = "store-001"
ALICE = Customer("sh-alice", bytes(range(16)), "android")
BOB = Customer("sh-bob", bytes(range(3, 19)), "ios")
STRANGER = Customer("x-stranger", bytes(range(5, 21)), "android", enrolled=False)


def _setup(tmp_path: Path, adapters: dict[str, str]) -> tuple[Path, TokenResolver]:
    now = time.time()
    scripts = [
        ShopperScript(ALICE, [(ShelfId(1, 1), now + 0.5, now + 120)]),
        ShopperScript(BOB, [(ShelfId(1, 3), now + 0.5, now + 120)]),
        ShopperScript(STRANGER, [(ShelfId(1, 2), now + 0.5, now + 120)]),
    ]
    spec = write_spec(
        tmp_path / "spec.json", scripts, adapters, store=STORE, gondolas=2, shelves_per_gondola=3
    )
    resolver = TokenResolver()
    resolver.set_keys(enrolled_keys([ALICE, BOB, STRANGER], STORE, days_covering(now, now + 300)))
    resolver.advance(now)
    return spec, resolver


async def _until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def test_real_bleak_scanner_resolves_phones_to_customers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    spec, resolver = _setup(tmp_path, {"hci0": "rx-g1s1", "hci1": "rx-g1s3"})
    tracker = PresenceTracker({"local-hci0": ShelfId(1, 1), "local-hci1": ShelfId(1, 3)})
    raw: list[Sighting] = []
    resolved: list[ShopperSighting] = []
    events: list[PresenceEvent] = []

    def on_sighting(s: Sighting) -> None:
        raw.append(s)
        r = resolver.resolve(s)
        if r is not None:
            resolved.append(r)
            events.extend(tracker.observe(r))

    async def main() -> list[BleakSource]:
        sources = [BleakSource("hci0"), BleakSource("hci1")]
        tasks = [asyncio.create_task(s.run(on_sighting)) for s in sources]
        arrived = lambda: {(e.shopper, e.shelf) for e in events if e.kind == "arrival"}  # noqa: E731
        want = {("sh-alice", ShelfId(1, 1)), ("sh-bob", ShelfId(1, 3))}
        await _until(lambda: want <= arrived() and resolver.dropped > 0, 20, "both shoppers to arrive")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return sources

    with simulated_bluez(spec):
        sources = asyncio.run(main())
    assert all(s.starts == 1 and s.start_failures == 0 for s in sources)
    assert {r.shopper for r in resolved} == {"sh-alice", "sh-bob"}
    assert {s.receiver for s in raw} == {"local-hci0", "local-hci1"}
    # the stranger's adverts reached the gateway through bleak and were dropped without a trace
    assert resolver.dropped > 0
    assert all(e.shopper != "x-stranger" for e in events)
    stranger_addresses = {random_address(STRANGER, int(time.time() // 600) + k) for k in (-1, 0)}
    assert not any(a in caplog.text or a.replace(":", "_") in caplog.text for a in stranger_addresses)


def test_scanner_recovers_when_bluez_is_killed_mid_scan(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge.presence.sources")
    spec, resolver = _setup(tmp_path, {"hci0": "rx-g1s1"})
    resolved: list[ShopperSighting] = []

    def on_sighting(s: Sighting) -> None:
        r = resolver.resolve(s)
        if r is not None:
            resolved.append(r)

    with simulated_bluez(spec) as (_bus, bluez):

        async def main() -> BleakSource:
            source = BleakSource("hci0", watchdog_s=1.5, backoff_min_s=0.2, backoff_max_s=1.0)
            task = asyncio.create_task(source.run(on_sighting))
            await _until(lambda: len(resolved) >= 5, 15, "first resolved adverts")
            await asyncio.to_thread(bluez.kill)
            killed_at = len(resolved)
            await _until(
                lambda: source.watchdog_restarts >= 1 and source.start_failures >= 1, 15, "watchdog restart"
            )
            assert len(resolved) <= killed_at + 2  # callbacks stopped with BlueZ
            await asyncio.to_thread(bluez.start)
            await _until(lambda: len(resolved) >= killed_at + 5, 20, "adverts after BlueZ came back")
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return source

        source = asyncio.run(main())
    assert source.starts >= 2
    assert {r.shopper for r in resolved} <= {"sh-alice", "sh-bob"}
    assert "no advertisement for" in caplog.text and "restarting it" in caplog.text
    assert "failed to start" in caplog.text and "retrying in" in caplog.text


def test_scanner_recovers_when_the_adapter_is_unplugged_and_plugged_back(tmp_path: Path) -> None:
    spec, resolver = _setup(tmp_path, {"hci0": "rx-g1s1"})
    resolved: list[ShopperSighting] = []

    def on_sighting(s: Sighting) -> None:
        r = resolver.resolve(s)
        if r is not None:
            resolved.append(r)

    with simulated_bluez(spec) as (_bus, bluez):

        async def main() -> BleakSource:
            source = BleakSource("hci0", watchdog_s=1.5, backoff_min_s=0.2, backoff_max_s=1.0)
            task = asyncio.create_task(source.run(on_sighting))
            await _until(lambda: len(resolved) >= 5, 15, "first resolved adverts")
            assert await asyncio.to_thread(bluez.toggle_adapters) == "UNPLUGGED"
            await _until(lambda: source.start_failures >= 1, 15, "a failed restart while unplugged")
            before = len(resolved)
            assert await asyncio.to_thread(bluez.toggle_adapters) == "PLUGGED"
            await _until(lambda: len(resolved) >= before + 5, 20, "adverts after the adapter came back")
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return source

        source = asyncio.run(main())
    assert source.watchdog_restarts >= 1 and source.starts >= 2
