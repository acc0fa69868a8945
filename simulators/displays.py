"""Simulated shelf displays for the terminal: each one is its own MQTT client, like a real display.

A display subscribes to its offer topic, refuses an offer whose ``expires_at`` has passed (acks
``expired``), shows a live one (acks ``shown``, retained state ``showing``), takes it down when it is
withdrawn or expires, and announces itself with a birth message and a Last Will on its availability
topic. ``on_show`` lets the demo print what the shopper would see.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edge.config import DisplaySection, MqttSection
from edge.errors import PayloadError
from edge.mqtt.client import MqttClient, MqttMessage
from edge.mqtt.payloads import AckMessage, DisplayStateMessage, OfferMessage, decode_display_command, encode
from edge.mqtt.topics import Topics

log = logging.getLogger("simulators.displays")

ShowCallback = Callable[[str, OfferMessage], None]


@dataclass
class DisplayRecord:
    """What a simulated display did, for tests and the demo summary."""

    shown: list[OfferMessage] = field(default_factory=list)
    refused_expired: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    malformed: int = 0


class SimulatedDisplay:
    """One shelf display on MQTT."""

    def __init__(
        self,
        mqtt: MqttSection,
        topics: Topics,
        display: DisplaySection,
        on_show: ShowCallback | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.section = display
        self.topics = topics
        self.on_show = on_show
        self.clock = clock
        self.record = DisplayRecord()
        self.current: OfferMessage | None = None
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        d = display
        self.client = MqttClient(
            mqtt,
            client_id=f"display-{d.display_id}",
            availability_topic=topics.display(d.gondola, d.shelf, d.display_id, "availability"),
        )
        self.client.subscribe(topics.display_offer(d.gondola, d.shelf, d.display_id), self._on_command, qos=1)

    def start(self) -> None:
        self.client.start()

    def stop(self) -> None:
        if self._timer:
            self._timer.cancel()
        self.client.stop()

    # ------------------------------------------------------------------
    def _topic(self, leaf: str) -> str:
        d = self.section
        return self.topics.display(d.gondola, d.shelf, d.display_id, leaf)

    def _ack(self, offer_id: str, status: str) -> None:
        ack = AckMessage(offer_id=offer_id, display=self.section.display_id, status=status, at=self.clock())
        self.client.publish(self._topic("ack"), encode(ack), qos=1)

    def _state(self) -> None:
        state = DisplayStateMessage(
            display=self.section.display_id,
            state="showing" if self.current else "idle",
            offer_id=self.current.offer_id if self.current else None,
            updated_at=self.clock(),
        )
        self.client.publish(self._topic("state"), encode(state), qos=1, retain=True)

    def _on_command(self, msg: MqttMessage) -> None:
        try:
            command = decode_display_command(msg.topic, msg.payload)
        except PayloadError as exc:
            self.record.malformed += 1
            log.warning("display %s ignored a message: %s", self.section.display_id, exc)
            return
        now = self.clock()
        with self._lock:
            if isinstance(command, OfferMessage):
                if command.expires_at <= now:
                    self.record.refused_expired.append(command.offer_id)
                    self._ack(command.offer_id, "expired")
                    return
                self.current = command
                self.record.shown.append(command)
                self._ack(command.offer_id, "shown")
                self._state()
                self._arm_expiry(command)
                if self.on_show:
                    self.on_show(self.section.display_id, command)
            elif self.current and self.current.offer_id == command.offer_id:
                self.record.withdrawn.append(command.offer_id)
                self.current = None
                self._ack(command.offer_id, "withdrawn")
                self._state()

    def _arm_expiry(self, offer: OfferMessage) -> None:
        if self._timer:
            self._timer.cancel()
        delay = max(0.0, offer.expires_at - self.clock())
        self._timer = threading.Timer(delay, self._expire, args=(offer.offer_id,))
        self._timer.daemon = True
        self._timer.start()

    def _expire(self, offer_id: str) -> None:
        with self._lock:
            if self.current and self.current.offer_id == offer_id:
                self.current = None
                self._state()
