"""Simulated remote BLE receivers (ESP32-style nodes near shelves) publishing sightings over MQTT.

Each period the publisher asks the :class:`simulators.phones.PhoneWorld` what every receiver heard
since the last period (in real unix time) and publishes one ``SightingsMessage`` per receiver on
``smartshelf/{store}/ble/{receiver}/sightings`` — exactly what the gateway's ``mqtt-receivers``
source subscribes to. Usage::

    world = PhoneWorld(aisle_store(), scripts, store="store-001")
    with ReceiverPublisher(world, MqttSection(host="127.0.0.1", port=port), "store-001"):
        ...  # phones walk, receivers publish twice a second
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from types import TracebackType

from edge.config import MqttSection
from edge.events import Sighting
from edge.mqtt.client import MqttClient
from edge.mqtt.payloads import SightingItem, SightingsMessage, encode
from edge.mqtt.topics import Topics
from simulators.phones import PhoneWorld

log = logging.getLogger("simulators.phones")


def sightings_messages(sightings: list[Sighting]) -> list[SightingsMessage]:
    """Group sightings per receiver into the MQTT payload models (receivers in sorted order)."""
    by_receiver: dict[str, list[SightingItem]] = defaultdict(list)
    for s in sightings:
        by_receiver[s.receiver].append(
            SightingItem(
                t=s.t,
                rssi=s.rssi,
                manufacturer_data={k: v.hex() for k, v in s.manufacturer_data},
                service_data={k: v.hex() for k, v in s.service_data},
                service_uuids=list(s.service_uuids),
            )
        )
    return [SightingsMessage(receiver=r, sightings=items) for r, items in sorted(by_receiver.items())]


class ReceiverPublisher:
    """Publishes what the world's receivers hear, every ``period_s``, on a background thread."""

    def __init__(
        self,
        world: PhoneWorld,
        mqtt: MqttSection,
        store: str,
        period_s: float = 0.5,
        clock: Callable[[], float] = time.time,
        client_id: str = "sim-ble-receivers",
    ) -> None:
        self.world = world
        self.topics = Topics(store)
        self.period_s = period_s
        self.clock = clock
        self.client = MqttClient(mqtt, client_id)
        self.messages = 0
        self.sightings = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ReceiverPublisher:
        self.client.start()
        if not self.client.wait_connected(10.0):
            self.client.stop()
            raise ConnectionError(
                f"simulated receivers: no broker at {self.client.settings.host}:{self.client.settings.port}"
            )
        self._thread = threading.Thread(target=self._run, name="sim-ble-receivers", daemon=True)
        self._thread.start()
        return self

    def publish_until(self, t: float) -> int:
        """Publish everything heard up to ``t``; return the number of sightings sent."""
        sent = 0
        for message in sightings_messages(self.world.sightings_until(t)):
            self.client.publish(self.topics.ble_sightings(message.receiver), encode(message), qos=0)
            self.messages += 1
            sent += len(message.sightings)
        self.sightings += sent
        return sent

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                self.publish_until(self.clock())
            except Exception:
                log.exception("simulated receivers: publishing failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self.client.stop()

    def __enter__(self) -> ReceiverPublisher:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
