"""Offers to shelf displays over MQTT: publish with expiry, withdraw on departure, acks, conversions.

One :class:`DisplayPublisher` per gateway. It

- publishes each :class:`edge.events.Offer` on its display's offer topic with QoS 1 and MQTT 5
  message expiry equal to the offer's remaining lifetime, so a display that reconnects late never
  receives a stale offer (and the display checks ``expires_at`` itself as well);
- withdraws every live offer of a shopper who left (:meth:`withdraw_for`);
- for serial displays on shelf controllers, publishes a text command on the shelf's ``.../set``
  topic instead; shelf-bridge forwards it over the shelf protocol (see README.md);
- listens to acknowledgements (``shown``, ``expired``, ``withdrawn``, ``impression``), display state
  (retained) and availability (Last Will), and keeps per-display status. An acknowledgement is
  taken only when it is at most ``MAX_ACK_BYTES``, decodes, comes from a configured display's own
  topic, names that display, and refers to an offer sent to it (live, or ended less than
  ``ACK_GRACE_S`` ago); anything else is refused, counted (``ACKS_REFUSED`` on /metrics) and logged
  in one short line (no payload echo), so a forged ack never becomes a stored event;
- records offers, acknowledgements and conversions as events (event + outbox row in one transaction)
  so the backend can report uplift per campaign and variant against the holdout group.

Offers whose variant is a holdout group (``holdout``, ``universal-holdout``) are recorded as exposures
and followed to conversions like shown ones, but never shown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from edge import telemetry
from edge.config import DisplaySection
from edge.displays.conversions import Conversion, ConversionTracker, Exposure
from edge.errors import EdgeError, PayloadError
from edge.events import BasketEvent, Offer
from edge.mqtt.client import MqttClient, MqttMessage
from edge.mqtt.payloads import (
    MAX_ACK_BYTES,
    AckMessage,
    DisplayStateMessage,
    OfferMessage,
    ShelfDisplayClearMessage,
    ShelfDisplayTextMessage,
    WithdrawMessage,
    decode,
    encode,
)
from edge.mqtt.refusals import RefusalLog
from edge.mqtt.topics import Topics, parse_display_topic
from edge.offers.experiments import HELD_OUT_GROUPS
from edge.telemetry import ACKS_REFUSED, PAYLOADS_REFUSED

log = logging.getLogger("edge.displays")

#: Seconds after an offer ended (expired, withdrawn) during which its late acks are still taken.
ACK_GRACE_S = 120.0
#: Ended offers remembered for late acks, at most.
MAX_ENDED = 10_000

#: Signature of EventStore.append: (stream, kind, event_id, t, payload) -> stored.
Recorder = Callable[[str, str, str, float, dict[str, object]], bool]


class UnknownDisplayError(EdgeError):
    """An offer names a display that is not in the configuration."""

    def __init__(self, display: str, known: Iterable[str]) -> None:
        self.display = display
        self.known = sorted(known)
        super().__init__(
            f"offer for unknown display {display!r}; configured: {', '.join(self.known) or 'none'}"
        )


@dataclass(slots=True)
class LiveOffer:
    offer: Offer
    published_at: float  # perf_counter at publish
    status: str = "sent"


@dataclass(slots=True)
class DisplayStatus:
    display: str
    available: bool | None = None
    state: DisplayStateMessage | None = None


class DisplayPublisher:
    """Publishes offers to displays and tracks what happened to them."""

    def __init__(
        self,
        mqtt: MqttClient,
        topics: Topics,
        displays: list[DisplaySection],
        *,
        record: Recorder | None = None,
        conversion_window_s: float = 300.0,
        holdout_variants: Iterable[str] = HELD_OUT_GROUPS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.mqtt = mqtt
        self.topics = topics
        self.displays = {d.display_id: d for d in displays}
        self.record = record
        self.clock = clock
        self.holdout_variants = frozenset(holdout_variants)
        self.tracker = ConversionTracker(conversion_window_s)
        self.status = {d.display_id: DisplayStatus(d.display_id) for d in displays}
        self._live: dict[str, LiveOffer] = {}
        #: offer id -> (display, forget after): offers that ended lately, whose acks are still taken
        self._ended: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._refusals = RefusalLog(log)
        self._lock = threading.Lock()
        self._ack_listeners: list[Callable[[AckMessage, float | None], None]] = []
        #: seconds from publish to the 'shown' ack, most recent last
        self.ack_latencies: deque[float] = deque(maxlen=10_000)
        self.counts = {
            "published": 0,
            "held_out": 0,
            "dropped_stale": 0,
            "dropped_offline": 0,
            "withdrawn": 0,
            "acks": 0,
            "bad_acks": 0,
            "conversions": 0,
        }

    # ------------------------------------------------------------------ wiring
    def start(self) -> None:
        """Subscribe to acknowledgements, display state and availability of every display."""
        self.mqtt.subscribe(self.topics.all_display("ack"), self._on_ack, qos=1)
        self.mqtt.subscribe(self.topics.all_display("state"), self._on_state, qos=1)
        self.mqtt.subscribe(self.topics.all_display("availability"), self._on_availability, qos=1)

    def add_ack_listener(self, listener: Callable[[AckMessage, float | None], None]) -> None:
        """Call ``listener(ack, seconds_since_publish_or_None)`` for every valid acknowledgement."""
        self._ack_listeners.append(listener)

    # ------------------------------------------------------------------ offers
    def publish(self, offer: Offer) -> None:
        """Send ``offer`` to its display (QoS 1, expiry = remaining lifetime); drop it if already stale."""
        display = self.displays.get(offer.display)
        if display is None:
            raise UnknownDisplayError(offer.display, self.displays)
        exposure = Exposure.from_offer(offer)
        now = self.clock()
        if offer.variant in self.holdout_variants:
            with self._lock:
                self.tracker.expose(exposure)
                self.counts["held_out"] += 1
            self._record("offers", "holdout", offer.offer_id, offer.t, _offer_payload(offer, shown=False))
            return
        remaining = offer.expires_at - now
        if remaining <= 0:
            self.counts["dropped_stale"] += 1
            log.warning(
                "offer %s expired %.1f s before it could be sent; dropped", offer.offer_id, -remaining
            )
            return
        if not self.mqtt.connected.is_set():
            # paho would queue it and send it after the reconnect with a fresh expiry interval, so a
            # display could receive it late; an offer is shown quickly or not at all
            self.counts["dropped_offline"] += 1
            log.warning("broker unreachable: offer %s dropped", offer.offer_id)
            self._record("offers", "undelivered", offer.offer_id, offer.t, _offer_payload(offer, shown=False))
            return
        if display.transport == "serial":
            topic = self.topics.shelf_set(display.gondola, display.shelf)
            body = encode(ShelfDisplayTextMessage.from_offer(offer))
        else:
            topic = self.topics.display_offer(display.gondola, display.shelf, display.display_id)
            body = encode(OfferMessage.from_offer(offer))
        with self._lock:
            self._live[offer.offer_id] = LiveOffer(offer, time.perf_counter())
            self.tracker.expose(exposure)
            self.counts["published"] += 1
        self.mqtt.publish(topic, body, qos=1, expiry_s=remaining)
        self._record("offers", "offer", offer.offer_id, offer.t, _offer_payload(offer, shown=True))

    def withdraw_for(self, shopper: str, t: float) -> list[str]:
        """Withdraw every live offer of ``shopper`` (who left at ``t``); returns the offer ids withdrawn."""
        with self._lock:
            mine = [lo for lo in self._live.values() if lo.offer.shopper == shopper]
            for lo in mine:
                self._end(lo.offer.offer_id, t)
        withdrawn = []
        for lo in mine:
            offer = lo.offer
            remaining = offer.expires_at - t
            if remaining <= 0:
                continue  # expired already: the broker and the display drop it on their own
            display = self.displays[offer.display]
            if display.transport == "serial":
                topic = self.topics.shelf_set(display.gondola, display.shelf)
                body = encode(ShelfDisplayClearMessage(display=offer.display, offer_id=offer.offer_id))
            else:
                topic = self.topics.display_offer(display.gondola, display.shelf, display.display_id)
                body = encode(WithdrawMessage(offer_id=offer.offer_id))
            self.mqtt.publish(topic, body, qos=1, expiry_s=remaining)
            withdrawn.append(offer.offer_id)
            self._record(
                "offers", "withdraw", f"{offer.offer_id}:withdraw", t, {"offer_id": offer.offer_id, "t": t}
            )
        self.counts["withdrawn"] += len(withdrawn)
        return withdrawn

    def expire(self, t: float) -> int:
        """Forget offers and exposures past their lifetime at ``t``; returns how many live offers ended."""
        with self._lock:
            gone = [k for k, lo in self._live.items() if lo.offer.expires_at <= t]
            for k in gone:
                self._end(k, t)
            while self._ended and next(iter(self._ended.values()))[1] <= t:
                self._ended.popitem(last=False)
            self.tracker.expire(t)
        return len(gone)

    def live_offers(self) -> list[Offer]:
        with self._lock:
            return [lo.offer for lo in self._live.values()]

    # ------------------------------------------------------------------ conversions
    def on_basket(self, event: BasketEvent) -> list[Conversion]:
        """Feed every basket event; picks of an offered product by that shopper become conversions."""
        with self._lock:
            conversions = self.tracker.pick(event)
        for c in conversions:
            self.counts["conversions"] += 1
            self._record("conversions", "conversion", f"{c.offer_id}:conversion", c.t, c.to_dict())
        return conversions

    # ------------------------------------------------------------------ MQTT handlers
    def _end(self, offer_id: str, t: float) -> None:
        """Move a live offer to the recently ended ones (call with the lock held)."""
        live = self._live.pop(offer_id)
        self._ended[offer_id] = (live.offer.display, t + ACK_GRACE_S)
        self._ended.move_to_end(offer_id)
        while len(self._ended) > MAX_ENDED:
            self._ended.popitem(last=False)

    def _display_of_offer(self, offer_id: str) -> str | None:
        """The display an offer was sent to, if it is live or ended lately (call with the lock held)."""
        live = self._live.get(offer_id)
        if live is not None:
            return live.offer.display
        ended = self._ended.get(offer_id)
        return ended[0] if ended is not None else None

    def _judge_ack(self, msg: MqttMessage) -> AckMessage | tuple[str, str]:
        """The acknowledgement if it may be taken, else (reason, short detail) for its refusal."""
        size = len(msg.payload)
        if size > MAX_ACK_BYTES:
            return "too_large", f"{size} bytes (at most {MAX_ACK_BYTES})"
        display = self._own_display(msg.topic)
        if display is None:
            return "unknown_display", "not the topic of a display configured at this shelf"
        try:
            ack = decode(AckMessage, msg.topic, msg.payload)
        except PayloadError as exc:
            return "malformed", exc.reason
        if ack.display != display:
            return "wrong_display", f"payload names display {ack.display!r}"
        with self._lock:
            sent_to = self._display_of_offer(ack.offer_id)
        if sent_to != display:
            return "unknown_offer", f"offer {ack.offer_id[:40]!r} was not sent to this display"
        return ack

    def _on_ack(self, msg: MqttMessage) -> None:
        ack = self._judge_ack(msg)
        if isinstance(ack, tuple):
            reason, detail = ack
            self.counts["bad_acks"] += 1
            ACKS_REFUSED.labels(reason=reason).inc()
            topic = msg.topic[:120]
            self._refusals.refused(topic, f"display ack on {topic!r}", reason, detail)
            return
        latency = None
        with self._lock:
            live = self._live.get(ack.offer_id)
            if live is not None:
                if ack.status == "shown" and live.status == "sent":
                    latency = time.perf_counter() - live.published_at
                    self.ack_latencies.append(latency)
                    telemetry.OFFER_TO_ACK.observe(latency)
                live.status = ack.status
                if ack.status in ("expired", "withdrawn"):
                    self._end(ack.offer_id, self.clock())
            self.counts["acks"] += 1
        self._record("display-acks", ack.status, f"{ack.offer_id}:{ack.status}", ack.at, ack.model_dump())
        for listener in self._ack_listeners:
            listener(ack, latency)

    def _own_display(self, topic: str) -> str | None:
        """The configured display whose own topic this is (its id at its gondola and shelf), or None."""
        try:
            _, gondola, shelf, display, _ = parse_display_topic(topic)
        except ValueError:
            return None
        section = self.displays.get(display)
        if section is None or (section.gondola, section.shelf) != (gondola, shelf):
            return None
        return display

    def _on_state(self, msg: MqttMessage) -> None:
        display = self._own_display(msg.topic)
        if display is None or len(msg.payload) > MAX_ACK_BYTES:
            PAYLOADS_REFUSED.labels(kind="display-state", reason="unknown_display_or_too_large").inc()
            return
        try:
            state = decode(DisplayStateMessage, msg.topic, msg.payload)
        except PayloadError as exc:
            PAYLOADS_REFUSED.labels(kind="display-state", reason="malformed").inc()
            self._refusals.refused(display, f"display {display}: state", "malformed", exc.reason)
            return
        if state.display != display:
            PAYLOADS_REFUSED.labels(kind="display-state", reason="wrong_display").inc()
            return
        with self._lock:
            self.status[display].state = state

    def _on_availability(self, msg: MqttMessage) -> None:
        display = self._own_display(msg.topic)
        if display is None:
            PAYLOADS_REFUSED.labels(kind="display-availability", reason="unknown_display").inc()
            return
        text = msg.payload[:16].decode(errors="replace")
        if text not in ("online", "offline") or len(msg.payload) > 16:
            PAYLOADS_REFUSED.labels(kind="display-availability", reason="malformed").inc()
            self._refusals.refused(
                display,
                f"display {display}: availability",
                "malformed",
                f"{text!r} is neither online nor offline",
            )
            return
        with self._lock:
            self.status[display].available = text == "online"

    def _record(self, stream: str, kind: str, event_id: str, t: float, payload: dict[str, object]) -> None:
        if self.record is None:
            return
        try:
            self.record(stream, kind, event_id, t, payload)
        except Exception:
            log.exception("could not record %s/%s %s", stream, kind, event_id)


def _offer_payload(offer: Offer, shown: bool) -> dict[str, object]:
    """The ``offers`` stream's payload: one per exposure (shown, held out or undelivered)."""
    return {
        "offer_id": offer.offer_id,
        "decision_id": "d-" + offer.offer_id[3:] if offer.offer_id.startswith("of-") else None,
        "t": offer.t,
        "expires_at": offer.expires_at,
        "shopper": offer.shopper,
        "gondola": offer.shelf.gondola,
        "shelf": offer.shelf.shelf,
        "display": offer.display,
        "product_id": offer.product_id,
        "price": offer.price,
        "campaign_id": offer.campaign_id,
        "variant": offer.variant,
        "shadow_variant": offer.shadow_variant,
        "propensity": offer.propensity,
        "reason": offer.reason,
        "shown": shown,
    }
