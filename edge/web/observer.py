"""Feeds a :class:`~edge.web.live.LiveState` from the store's MQTT topics (read only)."""

from __future__ import annotations

import logging

from edge.errors import PayloadError
from edge.mqtt.client import MqttClient, MqttMessage
from edge.mqtt.payloads import (
    MAX_SAMPLES_BYTES,
    AckMessage,
    BasketEventMessage,
    OfferMessage,
    PresenceEventMessage,
    SampleBatchMessage,
    ShelfStatusMessage,
    decode,
)
from edge.mqtt.refusals import RefusalLog
from edge.mqtt.topics import ROOT, Topics, parse_shelf_topic
from edge.web.live import LiveState

log = logging.getLogger("edge.web.observer")

#: Largest payload the dashboard reads on a topic other than samples (bytes); real ones are < 2 kB.
MAX_PAYLOAD_BYTES = 64 * 1024


class StoreObserver:
    """Subscribes ``mqtt`` to samples, shelf status, availability, gateway events and display acks."""

    def __init__(self, live: LiveState, store_id: str) -> None:
        self.live = live
        self.store_id = store_id
        self.topics = Topics(store_id)
        self._refusals = RefusalLog(log)

    def subscribe(self, mqtt: MqttClient) -> None:
        base = f"{ROOT}/{self.store_id}"
        mqtt.subscribe(self.topics.all_samples(), self._samples)
        mqtt.subscribe(f"{base}/+/+/status", self._status)
        mqtt.subscribe(f"{base}/+/+/availability", self._availability)
        mqtt.subscribe(self.topics.all_gateway_events(), self._gateway_event, qos=1)
        mqtt.subscribe(self.topics.all_display("ack"), self._ack, qos=1)

    def _guard(self, msg: MqttMessage, what: str, exc: Exception | str) -> None:
        """Count a message the dashboard cannot use; one log line per kind at most every minute."""
        self.live.on_malformed()
        detail = exc.reason if isinstance(exc, PayloadError) else str(exc)
        self._refusals.refused(what, f"dashboard: {what} on {msg.topic[:120]}", "malformed", detail)

    def _too_large(self, msg: MqttMessage, what: str, limit: int = MAX_PAYLOAD_BYTES) -> bool:
        if len(msg.payload) <= limit:
            return False
        self._guard(msg, what, f"{len(msg.payload)} bytes (at most {limit})")
        return True

    def _samples(self, msg: MqttMessage) -> None:
        if self._too_large(msg, "sample batch", MAX_SAMPLES_BYTES):
            return
        try:
            _, gondola, shelf, _ = parse_shelf_topic(msg.topic)
            m = decode(SampleBatchMessage, msg.topic, msg.payload)
        except (ValueError, PayloadError) as exc:
            self._guard(msg, "sample batch", exc)
            return
        if (m.gondola, m.shelf) != (gondola, shelf):  # the topic's shelf is trusted, as in the daemon
            self._guard(msg, "sample batch", f"payload names shelf {m.gondola}/{m.shelf}")
            return
        self.live.on_samples(gondola, shelf, m.plates, m.t, m.readings)

    def _status(self, msg: MqttMessage) -> None:
        if self._too_large(msg, "shelf status"):
            return
        try:
            _, gondola, shelf, _ = parse_shelf_topic(msg.topic)
            m = decode(ShelfStatusMessage, msg.topic, msg.payload)
        except (ValueError, PayloadError) as exc:
            self._guard(msg, "shelf status", exc)
            return
        self.live.on_shelf_status(gondola, shelf, m.model_dump())

    def _availability(self, msg: MqttMessage) -> None:
        parts = msg.topic.split("/")
        self.live.on_availability(f"{parts[2]}/{parts[3]}", msg.payload.decode(errors="replace")[:16])

    def _gateway_event(self, msg: MqttMessage) -> None:
        kind = msg.topic.rsplit("/", 1)[-1]
        if self._too_large(msg, f"{kind} event"):
            return
        try:
            if kind == "basket":
                b = decode(BasketEventMessage, msg.topic, msg.payload)
                self.live.on_basket(
                    b.t,
                    b.gondola,
                    b.shelf,
                    b.kind,
                    b.product_id,
                    b.quantity,
                    b.confidence,
                    b.shopper is not None,
                )
            elif kind == "presence":
                p = decode(PresenceEventMessage, msg.topic, msg.payload)
                self.live.on_presence(p.shopper, p.gondola, p.shelf, p.kind)
            elif kind == "offer":
                o = decode(OfferMessage, msg.topic, msg.payload)
                self.live.on_offer(o.offer_id, o.issued_at, o.display, o.gondola, o.shelf, o.name, o.price)
        except PayloadError as exc:
            self._guard(msg, f"{kind} event", exc)

    def _ack(self, msg: MqttMessage) -> None:
        if self._too_large(msg, "display ack"):
            return
        try:
            a = decode(AckMessage, msg.topic, msg.payload)
        except PayloadError as exc:
            self._guard(msg, "display ack", exc)
            return
        self.live.on_ack(a.offer_id, a.status)
