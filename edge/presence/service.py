"""The presence stage as the daemon runs it: source -> resolver -> tracker, keys, window, ticks.

Wiring for ``edge/app.py``::

    presence = PresenceService(config, mqtt, on_event=handle_presence_event)
    presence.load_keys()                      # config.presence.keys_file (no-op when unset)
    task = asyncio.create_task(presence.run())
    ...
    presence.shoppers_at(shelf, t)            # [(shopper, score)], best first, for pick attribution
    presence.set_keys(keys_from_sync, purposes)   # full set after a sync (revocations included)
    presence.consents(shopper, "offers")      # per-purpose consent of a recognised shopper
    task.cancel()

Everything runs on the event loop that runs :meth:`PresenceService.run`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from edge.config import EdgeConfig
from edge.events import PresenceEvent, ShelfId, Sighting
from edge.mqtt.client import MqttClient
from edge.presence.core import PresenceParams, PresenceTracker
from edge.presence.keys import PURPOSES, Purpose, load_key_set, trim_heap
from edge.presence.resolver import EnrolledKey, TokenResolver
from edge.presence.sources import SightingSource, build_source
from edge.presence.tokens import INTERVAL_S, CheckIn

log = logging.getLogger("edge.presence")

#: Seconds before a token interval boundary at which the next interval's tokens are computed.
PREPARE_AHEAD_S = 60.0
#: A check-in makes the shopper present in the store (no shelf) for this long; the app checks in
#: again every token interval while it is inside the store's geofence.
CHECK_IN_PRESENCE_S = float(INTERVAL_S)


def zones_from_config(config: EdgeConfig) -> dict[str, ShelfId]:
    """``presence.receivers`` ({'rx-1': '1/2'}) as receiver id -> ShelfId."""
    out = {}
    for receiver, zone in config.presence.receivers.items():
        gondola, shelf = zone.split("/")
        out[receiver] = ShelfId(int(gondola), int(shelf))
    return out


class PresenceService:
    """Owns the resolver, the tracker and the sighting source of one gateway."""

    def __init__(
        self,
        config: EdgeConfig,
        mqtt: MqttClient | None,
        on_event: Callable[[PresenceEvent], None] | None = None,
        source: SightingSource | None = None,
        clock: Callable[[], float] = time.time,
        tick_s: float = 1.0,
    ) -> None:
        self.config = config
        self.resolver = TokenResolver()
        self.tracker = PresenceTracker(
            zones_from_config(config), PresenceParams(departure_s=config.presence.departure_s)
        )
        self.source = source if source is not None else build_source(config, mqtt)
        self.on_event = on_event or (lambda e: None)
        self.clock = clock
        self.tick_s = tick_s
        self.events = 0
        self.event_errors = 0
        self.check_ins_accepted = 0
        self.check_ins_refused = 0
        #: Consented purposes per enrolled shopper, from the keys document.
        self.purposes: dict[str, frozenset[Purpose]] = {}
        #: Shoppers present in the store through an iOS check-in -> time of their last check-in.
        self.checked_in: dict[str, float] = {}

    # ------------------------------------------------------------------ keys
    def load_keys(self, path: str | Path | None = None) -> int:
        """Load the keys file (``path`` or ``presence.keys_file``); return the live key count."""
        path = path or self.config.presence.keys_file
        if path is None:
            log.info("presence: no keys file configured; waiting for keys from sync")
            return 0
        key_set = load_key_set(path, store=self.config.gateway.store_id)
        self.set_keys(key_set.keys, key_set.purposes)
        del key_set
        trim_heap()
        log.info("presence: %d enrolled keys loaded from %s", self.resolver.enrolled, path)
        return self.resolver.enrolled

    def set_keys(
        self, keys: Sequence[EnrolledKey], purposes: Mapping[str, frozenset[Purpose]] | None = None
    ) -> list[str]:
        """Make ``keys`` the enrolled set; shoppers no longer in it are forgotten at once. Returns them.

        ``purposes``: consent per shopper (a shopper missing from it consented to everything, as in
        version 1 keys files). A key without recognition consent is never loaded.
        """
        before = self.resolver.enrolled_shoppers()
        granted = dict(purposes or {})
        keys = [k for k in keys if "recognition" in granted.get(k.shopper, PURPOSES)]
        self.resolver.set_keys(keys)
        enrolled = self.resolver.enrolled_shoppers()
        self.purposes = {s: granted.get(s, frozenset(PURPOSES)) for s in enrolled}
        gone = sorted(before - enrolled)
        for shopper in gone:
            self.tracker.forget(shopper)
            self.checked_in.pop(shopper, None)
        if self.resolver.current_interval is None:
            self.resolver.advance(self.clock())
        return gone

    def revoke(self, shopper_ids: Iterable[str]) -> int:
        """Revocation: remove the shoppers' keys and everything the tracker holds about them."""
        ids = list(shopper_ids)
        wiped = self.resolver.revoke(ids)
        for shopper in ids:
            self.tracker.forget(shopper)
            self.purposes.pop(shopper, None)
            self.checked_in.pop(shopper, None)
        return wiped

    def consents(self, shopper: str, purpose: Purpose) -> bool:
        """True when an enrolled shopper consented to ``purpose`` (False for anyone not enrolled)."""
        return purpose in self.purposes.get(shopper, ())

    # ------------------------------------------------------------------ flow
    def on_sighting(self, s: Sighting) -> None:
        resolved = self.resolver.resolve(s)
        if resolved is None:
            return  # not enrolled: dropped, nothing kept
        self._emit(self.tracker.observe(resolved))

    def check_in(self, c: CheckIn, now: float) -> str | None:
        """A backgrounded iOS app's check-in: the shopper if the token, tag, time and nonce hold."""
        if c.store != self.config.gateway.store_id:
            return None
        shopper = self.resolver.resolve_check_in(c, now)
        self.check_ins_accepted += shopper is not None
        self.check_ins_refused += shopper is None
        if shopper is not None:
            self.checked_in[shopper] = now
        return shopper

    def in_store(self, now: float) -> list[str]:
        """Shoppers present in the store: in a shelf zone or checked in within CHECK_IN_PRESENCE_S."""
        recent = {s for s, t in self.checked_in.items() if now - t < CHECK_IN_PRESENCE_S}
        return sorted(recent.union(self.tracker.shoppers()))

    def shoppers_at(self, shelf: ShelfId, t: float) -> list[tuple[str, float]]:
        return self.tracker.shoppers_at(shelf, t)

    def tick(self, now: float) -> None:
        """Roll the token window and emit departures/dwells; :meth:`run` calls it every ``tick_s``."""
        self.resolver.advance(now)
        self._emit(self.tracker.tick(now))
        for shopper in [s for s, t in self.checked_in.items() if now - t >= CHECK_IN_PRESENCE_S]:
            del self.checked_in[shopper]

    async def run(self) -> None:
        """Run the source and the ticks until cancelled."""
        self.resolver.advance(self.clock())
        log.info(
            "presence: source %s, %d zones, %d enrolled keys",
            self.source.name,
            len(self.tracker.zones),
            self.resolver.enrolled,
        )
        async with asyncio.TaskGroup() as group:
            group.create_task(self.source.run(self.on_sighting))
            group.create_task(self._ticks())

    async def _ticks(self) -> None:
        prepared: int | None = None
        while True:
            await asyncio.sleep(self.tick_s)
            now = self.clock()
            upcoming = self.resolver.next_interval()
            if upcoming is not None and upcoming != prepared:
                roll_at = (upcoming - self.resolver.params.after) * INTERVAL_S
                if roll_at - now <= PREPARE_AHEAD_S:
                    prepared = upcoming
                    try:
                        # the next interval's tokens, off the event loop: the roll itself is then instant
                        await asyncio.to_thread(self.resolver.prepare, upcoming)
                    except Exception:
                        log.exception(
                            "presence: preparing interval %d failed; it is built at the roll", upcoming
                        )
            self.tick(self.clock())

    def _emit(self, events: list[PresenceEvent]) -> None:
        for event in events:
            self.events += 1
            try:
                self.on_event(event)
            except Exception:
                self.event_errors += 1
                log.exception("presence: event handler failed for a %s event", event.kind)

    def stats(self) -> dict[str, int]:
        """Counters for /metrics (counts only: nothing about non-enrolled devices)."""
        return {
            "enrolled_keys": self.resolver.enrolled,
            "sightings_resolved": self.resolver.resolved,
            "sightings_dropped": self.resolver.dropped,
            "shoppers_tracked": len(self.tracker.shoppers()),
            "presence_events": self.events,
            "table_bytes": self.resolver.table_nbytes(),
            "check_ins_accepted": self.check_ins_accepted,
            "check_ins_refused": self.check_ins_refused,
            "checked_in": len(self.checked_in),
        }
