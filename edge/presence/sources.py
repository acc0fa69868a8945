"""Where BLE sightings come from: remote receivers over MQTT, and local adapters through bleak.

Every source implements :class:`SightingSource`::

    source = build_source(config, mqtt)          # from config.presence.source
    task = asyncio.create_task(source.run(on_sighting))
    ...
    task.cancel()                                 # stops scanning / stops delivering

``on_sighting`` is called on the event loop that runs :meth:`SightingSource.run`, once per
advertisement, with our frozen :class:`edge.events.Sighting` (no MAC address, no device name:
the identifiers of non-enrolled devices never enter the gateway's code past this boundary).
It must be quick (resolve + track); it must not raise (exceptions are counted and logged).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from edge import telemetry
from edge.config import EdgeConfig
from edge.errors import AdapterError, PayloadError
from edge.events import Sighting
from edge.mqtt.client import MqttClient, MqttMessage
from edge.mqtt.payloads import MAX_SIGHTINGS_BYTES, SightingsMessage, decode
from edge.mqtt.refusals import RefusalLog
from edge.mqtt.topics import Topics

log = logging.getLogger("edge.presence.sources")

OnSighting = Callable[[Sighting], None]

#: A scanner start that takes longer than this (BlueZ hung) counts as failed and is retried.
START_TIMEOUT_S = 10.0


class SightingSource(Protocol):
    """A stream of sightings; :meth:`run` delivers them until cancelled."""

    name: str

    async def run(self, on_sighting: OnSighting) -> None:
        """Deliver every sighting to ``on_sighting`` on the running loop; return only when cancelled."""
        ...


def _call(on_sighting: OnSighting, sighting: Sighting, source: str, errors: list[int]) -> None:
    try:
        on_sighting(sighting)
    except Exception:
        errors[0] += 1
        log.exception("%s: sighting handler failed (sighting dropped)", source)


class MqttReceiversSource:
    """Sightings published by remote receivers on ``smartshelf/{store}/ble/{receiver}/sightings``."""

    def __init__(self, mqtt: MqttClient, store: str) -> None:
        self.name = "mqtt-receivers"
        self.mqtt = mqtt
        self.topics = Topics(store)
        self.messages = 0
        self.sightings = 0
        self.malformed = 0
        self._refusals = RefusalLog(log)
        self._errors = [0]
        self._on: OnSighting | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._subscribed = False

    @property
    def handler_errors(self) -> int:
        return self._errors[0]

    async def run(self, on_sighting: OnSighting) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._on = on_sighting
        if not self._subscribed:
            self.mqtt.subscribe(self.topics.all_ble_sightings(), self._on_message)
            self._subscribed = True
        log.info("presence source mqtt-receivers: listening on %s", self.topics.all_ble_sightings())
        try:
            await asyncio.Event().wait()
        finally:
            self._on = None
            log.info("presence source mqtt-receivers: stopped")

    def _on_message(self, msg: MqttMessage) -> None:
        loop = self._loop
        if loop is None or self._on is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._deliver(msg)
        else:
            loop.call_soon_threadsafe(self._deliver, msg)

    def _deliver(self, msg: MqttMessage) -> None:
        on = self._on
        if on is None:
            return
        self.messages += 1
        try:
            if len(msg.payload) > MAX_SIGHTINGS_BYTES:
                raise PayloadError(
                    msg.topic, f"{len(msg.payload)} bytes (at most {MAX_SIGHTINGS_BYTES})", b""
                )
            parsed = decode(SightingsMessage, msg.topic, msg.payload)
            topic_receiver = msg.topic.split("/")[3]
            if parsed.receiver != topic_receiver:
                raise PayloadError(
                    msg.topic, f"receiver {parsed.receiver!r} does not match topic receiver", b""
                )
            sightings = [item.to_event(parsed.receiver) for item in parsed.sightings]
        except (PayloadError, ValueError, IndexError) as exc:
            self.malformed += 1
            telemetry.MALFORMED_SIGHTINGS.inc()
            reason = exc.reason if isinstance(exc, PayloadError) else str(exc)
            # The payload itself is never logged: it may carry tokens of non-enrolled phones. One line per
            # minute, whichever receiver (a flood is counted on /metrics, not written to the journal).
            self._refusals.refused(
                "receivers",
                f"sightings on {msg.topic[:120]}",
                "malformed",
                f"{reason} ({self.malformed} so far)",
            )
            return
        for sighting in sightings:
            self.sightings += 1
            _call(on, sighting, self.name, self._errors)


class BleakSource:
    """The local adapter through the unmodified bleak ``BleakScanner``, with a silence watchdog.

    bleak does not notice BlueZ restarting (callbacks just stop, see REFERENCE.md 2), so the
    scanner is restarted whenever no advertisement arrived for ``watchdog_s``; a failing start is
    retried with exponential backoff (``backoff_min_s`` doubling up to ``backoff_max_s``).
    """

    def __init__(
        self,
        adapter: str = "hci0",
        receiver: str | None = None,
        watchdog_s: float = 30.0,
        backoff_min_s: float = 0.5,
        backoff_max_s: float = 30.0,
        scanning_mode: str = "active",
    ) -> None:
        self.name = f"bleak:{adapter}"
        self.adapter = adapter
        self.receiver = receiver or f"local-{adapter}"
        self.watchdog_s = watchdog_s
        self.backoff_min_s = backoff_min_s
        self.backoff_max_s = backoff_max_s
        self.scanning_mode = scanning_mode
        self.adverts = 0
        self.starts = 0
        self.start_failures = 0
        self.watchdog_restarts = 0
        self.running = False
        self._errors = [0]
        self._last_advert = 0.0

    @property
    def handler_errors(self) -> int:
        return self._errors[0]

    async def run(self, on_sighting: OnSighting) -> None:
        from bleak import BleakScanner  # imported here: the MQTT-only gateway does not need BlueZ

        # bleak logs every D-Bus signal, with device addresses, at DEBUG: never let that reach a log.
        bleak_log = logging.getLogger("bleak")
        if bleak_log.getEffectiveLevel() < logging.INFO:
            bleak_log.setLevel(logging.INFO)
        loop = asyncio.get_running_loop()

        def detected(device: Any, adv: Any) -> None:
            self._last_advert = loop.time()
            self.adverts += 1
            _call(on_sighting, self.to_sighting(adv, time.time()), self.name, self._errors)

        backoff = self.backoff_min_s
        while True:
            scanner = BleakScanner(
                detection_callback=detected,
                scanning_mode=self.scanning_mode,  # type: ignore[arg-type]
                bluez={"adapter": self.adapter},
            )
            try:
                await asyncio.wait_for(scanner.start(), timeout=START_TIMEOUT_S)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.start_failures += 1
                log.warning(
                    "bleak scanner on %s failed to start (%s: %s); retrying in %.1f s",
                    self.adapter,
                    type(exc).__name__,
                    exc,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.backoff_max_s)
                continue
            self.starts += 1
            self.running = True
            started_at = loop.time()
            self._last_advert = started_at
            adverts_at_start = self.adverts
            log.info("bleak scanner on %s started (start %d)", self.adapter, self.starts)
            try:
                while True:
                    await asyncio.sleep(min(1.0, self.watchdog_s / 4))
                    silent = loop.time() - self._last_advert
                    if silent >= self.watchdog_s:
                        self.watchdog_restarts += 1
                        log.warning(
                            "bleak scanner on %s: no advertisement for %.0f s; restarting it (restart %d)",
                            self.adapter,
                            silent,
                            self.watchdog_restarts,
                        )
                        break
            finally:
                self.running = False
                await self._stop_quietly(scanner)
            if self.adverts > adverts_at_start:
                backoff = self.backoff_min_s
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.backoff_max_s)

    async def _stop_quietly(self, scanner: Any) -> None:
        try:
            await asyncio.wait_for(scanner.stop(), timeout=5.0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info(
                "bleak scanner on %s: stop failed (%s: %s), continuing", self.adapter, type(exc).__name__, exc
            )

    def to_sighting(self, adv: Any, t: float) -> Sighting:
        """bleak AdvertisementData -> our Sighting (no address, no name: nothing that identifies a device)."""
        return Sighting(
            t=t,
            receiver=self.receiver,
            rssi=float(adv.rssi),
            manufacturer_data=tuple(sorted((int(k), bytes(v)) for k, v in adv.manufacturer_data.items())),
            service_data=tuple(sorted((str(k), bytes(v)) for k, v in adv.service_data.items())),
            service_uuids=tuple(str(u) for u in adv.service_uuids),
        )


class CombinedSource:
    """Several sources at once (local adapters and remote receivers)."""

    def __init__(self, sources: Sequence[SightingSource]) -> None:
        self.sources = list(sources)
        self.name = "+".join(s.name for s in self.sources)

    async def run(self, on_sighting: OnSighting) -> None:
        async with asyncio.TaskGroup() as group:
            for source in self.sources:
                group.create_task(source.run(on_sighting))


class NoSource:
    """``presence.source = "none"``: no sightings; run() just waits to be cancelled."""

    name = "none"

    async def run(self, on_sighting: OnSighting) -> None:
        log.info("presence source: none (no BLE sightings)")
        await asyncio.Event().wait()


def build_source(config: EdgeConfig, mqtt: MqttClient | None) -> SightingSource:
    """The source chosen by ``config.presence.source``; raises AdapterError when it cannot be built."""
    p = config.presence
    kind = p.source
    parts: list[SightingSource] = []
    if kind in ("bleak", "bleak+mqtt-receivers"):
        for adapter in [p.adapter, *p.adapters]:
            parts.append(
                BleakSource(
                    adapter=adapter,
                    watchdog_s=p.watchdog_s,
                    backoff_max_s=p.backoff_max_s,
                )
            )
    if kind in ("mqtt-receivers", "bleak+mqtt-receivers"):
        if mqtt is None:
            raise AdapterError("presence", kind, "needs an MQTT client (remote receivers publish over MQTT)")
        parts.append(MqttReceiversSource(mqtt, config.gateway.store_id))
    if kind == "none":
        return NoSource()
    if not parts:
        raise AdapterError("presence", kind, "unknown source")
    return parts[0] if len(parts) == 1 else CombinedSource(parts)
