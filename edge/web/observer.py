"""Feeds a :class:`~edge.web.live.LiveState` from the store's MQTT topics (read only)."""

from __future__ import annotations

import logging

from edge.errors import PayloadError
from edge.mqtt.client import MqttClient, MqttMessage
from edge.mqtt.payloads import (
    AckMessage,
    BasketEventMessage,
    OfferMessage,
    PresenceEventMessage,
    SampleBatchMessage,
    ShelfStatusMessage,
    decode,
)
from edge.mqtt.topics import ROOT, Topics, parse_shelf_topic
from edge.web.live import LiveState

log = logging.getLogger("edge.web.observer")


class StoreObserver:
    """Subscribes ``mqtt`` to samples, shelf status, availability, gateway events and display acks."""

    def __init__(self, live: LiveState, store_id: str) -> None:
        self.live = live
        self.store_id = store_id
        self.topics = Topics(store_id)

    def subscribe(self, mqtt: MqttClient) -> None:
        base = f"{ROOT}/{self.store_id}"
        mqtt.subscribe(self.topics.all_samples(), self._samples)
        mqtt.subscribe(f"{base}/+/+/status", self._status)
        mqtt.subscribe(f"{base}/+/+/availability", self._availability)
        mqtt.subscribe(self.topics.all_gateway_events(), self._gateway_event, qos=1)
        mqtt.subscribe(self.topics.all_display("ack"), self._ack, qos=1)

    def _guard(self, msg: MqttMessage, what: str, exc: Exception) -> None:
        self.live.on_malformed()
        log.warning("dashboard: ignoring a malformed %s on %s: %s", what, msg.topic, exc)

    def _samples(self, msg: MqttMessage) -> None:
        try:
            m = decode(SampleBatchMessage, msg.topic, msg.payload)
        except PayloadError as exc:
            self._guard(msg, "sample batch", exc)
            return
        self.live.on_samples(m.gondola, m.shelf, m.plates, m.t, m.readings)

    def _status(self, msg: MqttMessage) -> None:
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
        try:
            a = decode(AckMessage, msg.topic, msg.payload)
        except PayloadError as exc:
            self._guard(msg, "display ack", exc)
            return
        self.live.on_ack(a.offer_id, a.status)
