"""Pydantic models of every MQTT payload (JSON). The JSON schemas in docs are generated from these.

Adapters decode with :func:`decode`, which raises :class:`edge.errors.PayloadError` naming the topic
and the reason; a malformed message is counted and logged, never crashes a stage. No model takes NaN
or Infinity (``allow_inf_nan=False``, on :class:`Section` and :class:`DeviceMessage`).

Messages *to* devices (offers, withdrawals, display commands, shelf commands) are
:class:`edge.mqtt.versioning.DeviceMessage`: they carry their major version ``v`` and a device
ignores fields it does not know. Messages *from* devices are checked strictly at the gateway's door
(:class:`Section`: unknown fields refused).
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, model_validator

from edge.errors import PayloadError
from edge.events import (
    BasketEvent,
    Offer,
    PresenceEvent,
    SampleBatch,
    ShelfId,
    Sighting,
    WeightEvent,
)
from edge.mqtt.shelf_commands import (
    IdentifyCommand,
    InfoCommand,
    RateCommand,
    ShelfReplyMessage,
    SpanCommand,
    TareCommand,
)
from edge.mqtt.versioning import DeviceMessage
from edge.settings_base import Section

M = TypeVar("M", bound=BaseModel)
SCHEMA_VERSION = 1


#: Most plates a shelf controller reports (shelf_firmware_bridge.protocol.MAX_PLATES) and most samples
#: in one batch (the bridge sends ``bridge.batch_samples`` <= 120): a larger batch is refused, so one
#: message cannot make the gateway keep a shelf of 200 000 plates (memory, /metrics series).
MAX_BATCH_PLATES = 64
MAX_BATCH_SAMPLES = 1024
#: Largest sample-batch payload read (bytes); a full batch of the bounds above is about 1 MB of JSON.
MAX_SAMPLES_BYTES = 1 << 20


class SampleBatchMessage(Section):
    """Load-cell samples of one shelf, published by shelf-bridge on ``.../{gondola}/{shelf}/samples``."""

    v: Literal[1] = Field(1, description="Payload schema version.")
    bridge: str = Field(description="Bridge that read the samples.")
    gondola: int = Field(ge=0, description="Gondola of the shelf.")
    shelf: int = Field(ge=0, description="Shelf within the gondola.")
    seq: int = Field(ge=0, description="Sequence number of the first firmware frame in this batch.")
    plates: list[Annotated[int, Field(ge=0, le=1023)]] = Field(
        min_length=1,
        max_length=MAX_BATCH_PLATES,
        description="Plate numbers (distinct), in the order of each reading row.",
    )
    t: list[float] = Field(
        min_length=1,
        max_length=MAX_BATCH_SAMPLES,
        description="Unix time of each sample (from firmware timestamps).",
    )
    readings: list[list[float]] = Field(
        max_length=MAX_BATCH_SAMPLES,
        description="Grams, calibrated: readings[i][p] is plate plates[p] at t[i].",
    )

    @model_validator(mode="after")
    def _shape(self) -> SampleBatchMessage:
        if len(set(self.plates)) != len(self.plates):
            raise ValueError(f"plates {self.plates} name a plate twice")
        if len(self.readings) != len(self.t):
            raise ValueError(f"{len(self.t)} timestamps but {len(self.readings)} reading rows")
        width = len(self.plates)
        for i, row in enumerate(self.readings):
            if len(row) != width:
                raise ValueError(f"reading row {i} has {len(row)} values for {width} plates")
        return self

    def to_event(self, shelf: ShelfId | None = None) -> SampleBatch:
        """The batch as an event of ``shelf`` (the topic's shelf; the payload's when not given)."""
        return SampleBatch(
            shelf=shelf if shelf is not None else ShelfId(self.gondola, self.shelf),
            plates=tuple(self.plates),
            t=tuple(self.t),
            readings=tuple(tuple(r) for r in self.readings),
            seq=self.seq,
        )


class ShelfStatusMessage(Section):
    """Retained state of one shelf's serial link, on ``.../{gondola}/{shelf}/status``."""

    bridge: str = Field(description="Bridge serving the shelf.")
    port: str = Field(description="Serial device path.")
    connected: bool = Field(description="True while the port is open and frames arrive.")
    firmware: str | None = Field(None, description="Firmware version from the hello frame.")
    protocol_version: int | None = Field(None, description="Shelf protocol version from the hello frame.")
    sample_rate_hz: float | None = Field(None, description="Configured sample rate of the shelf.")
    frames: int = Field(0, ge=0, description="Good frames received since the bridge started.")
    crc_errors: int = Field(0, ge=0, description="Frames dropped for a bad CRC or framing.")
    gaps: int = Field(0, ge=0, description="Frames lost, counted from sequence-number gaps.")
    reconnects: int = Field(0, ge=0, description="Times the port was reopened.")
    updated_at: float = Field(description="Unix time of this status.")


class SightingItem(Section):
    """One advertisement heard by a BLE receiver."""

    t: float = Field(description="Unix time the advertisement was received.")
    rssi: float = Field(ge=-127, le=20, description="Received signal strength, dBm.")
    manufacturer_data: dict[int, str] = Field(
        default_factory=dict, description="Company id -> data bytes as hex."
    )
    service_data: dict[str, str] = Field(
        default_factory=dict, description="Service UUID -> data bytes as hex."
    )
    service_uuids: list[str] = Field(default_factory=list, description="Advertised service UUIDs.")

    def to_event(self, receiver: str) -> Sighting:
        return Sighting(
            t=self.t,
            receiver=receiver,
            rssi=self.rssi,
            manufacturer_data=tuple((k, bytes.fromhex(v)) for k, v in sorted(self.manufacturer_data.items())),
            service_data=tuple((k, bytes.fromhex(v)) for k, v in sorted(self.service_data.items())),
            service_uuids=tuple(self.service_uuids),
        )


#: Most advertisements in one receiver message (a receiver reports every second or so: 100 phones
#: advertising at 10 Hz is 1 000) and the largest such payload read (bytes): one message of 100 000
#: sightings (17 MB) held the daemon's event loop for ~2 s.
MAX_SIGHTINGS = 4096
MAX_SIGHTINGS_BYTES = 1 << 20


class SightingsMessage(Section):
    """Raw sightings from a remote BLE receiver, on ``smartshelf/{store}/ble/{receiver}/sightings``.

    Transient: the gateway resolves each one at once and drops those of non-enrolled devices.
    """

    receiver: str = Field(description="Receiver that heard the advertisements.")
    sightings: list[SightingItem] = Field(
        max_length=MAX_SIGHTINGS, description="Advertisements, oldest first (at most 4096)."
    )


class OfferMessage(DeviceMessage):
    """An offer for one display, on ``.../display/{display}/offer`` (MQTT 5 message expiry set)."""

    type: Literal["offer"] = Field("offer", description="Message type.")
    offer_id: str = Field(description="Unique id of this offer; acknowledgements refer to it.")
    shopper: str = Field(description="Pseudonymous shopper id (never a loyalty number).")
    gondola: int = Field(description="Gondola of the display.")
    shelf: int = Field(description="Shelf of the display.")
    display: str = Field(description="Display id.")
    product_id: str = Field(description="Offered product.")
    name: str = Field(description="Product name as shown.")
    price: float = Field(ge=0, description="Price shown, store currency.")
    reason: str = Field(description="Why this offer, in shopper words.")
    social_proof: str | None = Field(
        None,
        description="e.g. 'In 23 % of past baskets with an item you picked'; only when true, above the "
        "minimum counts, never for sensitive categories.",
    )
    campaign_id: str | None = Field(None, description="Campaign that funds the offer.")
    variant: str = Field("default", description="Experiment variant that chose it.")
    issued_at: float = Field(description="Unix time the decision was made.")
    expires_at: float = Field(description="Unix time after which the offer must not be shown.")
    opt_out: str | None = Field(
        None,
        description="How the shopper switches personal offers off in the app, shown small with the offer "
        "(None: show nothing).",
    )

    @classmethod
    def from_offer(cls, offer: Offer) -> OfferMessage:
        return cls(
            offer_id=offer.offer_id,
            shopper=offer.shopper,
            gondola=offer.shelf.gondola,
            shelf=offer.shelf.shelf,
            display=offer.display,
            product_id=offer.product_id,
            name=offer.name,
            price=offer.price,
            reason=offer.reason,
            social_proof=offer.social_proof,
            campaign_id=offer.campaign_id,
            variant=offer.variant,
            issued_at=offer.t,
            expires_at=offer.expires_at,
            opt_out=offer.opt_out,
        )


class WithdrawMessage(DeviceMessage):
    """Withdraws an offer (its shopper left), on the same offer topic."""

    type: Literal["withdraw"] = Field("withdraw", description="Message type.")
    offer_id: str = Field(description="Offer to take off the display.")
    reason: str = Field("shopper-left", description="Why it was withdrawn.")


DisplayCommand = Annotated[OfferMessage | WithdrawMessage, Field(discriminator="type")]


#: What arrives on a display's offer topic: an offer or a withdrawal, told apart by ``type``.
DISPLAY_COMMAND: TypeAdapter[OfferMessage | WithdrawMessage] = TypeAdapter(DisplayCommand)


def decode_display_command(topic: str, payload: bytes) -> OfferMessage | WithdrawMessage:
    try:
        return DISPLAY_COMMAND.validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "<payload>"
        raise PayloadError(topic, f"{where}: {first['msg']}", payload) from None


#: Largest acknowledgement the gateway reads (bytes); a real one is about 100.
MAX_ACK_BYTES = 1024


class AckMessage(Section):
    """A display's acknowledgement, on ``.../display/{display}/ack`` (at most MAX_ACK_BYTES)."""

    offer_id: str = Field(max_length=128, description="Offer acknowledged.")
    display: str = Field(
        pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Display that acknowledges (the topic's display)."
    )
    status: Literal["shown", "expired", "withdrawn", "impression"] = Field(
        description="'shown' when rendered, 'expired' when refused as stale, 'impression' when seen by a shopper."
    )
    at: float = Field(description="Unix time of the status on the display.")


class DisplayStateMessage(Section):
    """Retained state of a display, on ``.../display/{display}/state``."""

    display: str = Field(description="Display id.")
    state: Literal["idle", "showing"] = Field(description="What the display shows now.")
    offer_id: str | None = Field(None, description="Offer on screen, if any.")
    updated_at: float = Field(description="Unix time of this state.")


class DisplaySetMessage(DeviceMessage):
    """A command to a display, on ``.../display/{display}/set`` (not retained)."""

    command: Literal["clear", "identify", "brightness"] = Field(
        description="'clear' takes any offer down, 'identify' flashes the display, 'brightness' sets it."
    )
    value: float | None = Field(None, ge=0, le=100, description="Brightness in percent, for 'brightness'.")
    at: float = Field(description="Unix time the command was issued.")


class ShelfDisplayTextMessage(DeviceMessage):
    """An offer for a serial text display on a shelf controller, on the shelf's ``.../set`` topic.

    shelf-bridge forwards ``lines`` over the shelf protocol and, once the controller confirms,
    publishes an :class:`AckMessage` ('shown') on ``.../display/{display}/ack`` for it. The bridge must
    not forward it after ``expires_at`` (MQTT 5 message expiry is set as well).
    """

    type: Literal["display-text"] = Field("display-text", description="Message type.")
    display: str = Field(description="Display id on the shelf controller.")
    offer_id: str = Field(description="Offer shown; the bridge acks with this id.")
    lines: list[str] = Field(
        min_length=1,
        max_length=4,
        description="Text lines, each at most 32 characters (ASCII after folding).",
    )
    expires_at: float = Field(description="Unix time after which the text must be cleared.")

    @classmethod
    def from_offer(cls, offer: Offer) -> ShelfDisplayTextMessage:
        lines = [offer.name[:32], f"{offer.price:.2f}"[:32], offer.reason[:32]]
        if offer.social_proof:
            lines.append(offer.social_proof[:32])
        return cls(display=offer.display, offer_id=offer.offer_id, lines=lines, expires_at=offer.expires_at)


class ShelfDisplayClearMessage(DeviceMessage):
    """Clears a serial text display (its shopper left), on the shelf's ``.../set`` topic."""

    type: Literal["display-clear"] = Field("display-clear", description="Message type.")
    display: str = Field(description="Display id on the shelf controller.")
    offer_id: str = Field(description="Offer to take down; ignored when another offer is showing.")


class WeightEventMessage(Section):
    """A weight event as published for observers on ``.../gateway/{id}/events/weight``."""

    t_start: float = Field(description="Unix time the shelf started to move.")
    t_end: float = Field(description="Unix time the shelf settled.")
    gondola: int = Field(description="Gondola.")
    shelf: int = Field(description="Shelf.")
    plates: list[int] = Field(description="Plates whose weight changed.")
    delta_g: float = Field(description="Settled weight change, grams (negative for a pick).")
    kind: Literal["pick", "return"] = Field(description="Pick or return.")
    product_id: str | None = Field(description="Product from the planogram, null when unknown.")
    quantity: int = Field(description="Units.")
    confidence: float = Field(ge=0, le=1, description="Confidence of product and quantity.")

    @classmethod
    def from_event(cls, e: WeightEvent) -> WeightEventMessage:
        return cls(
            t_start=e.t_start,
            t_end=e.t_end,
            gondola=e.shelf.gondola,
            shelf=e.shelf.shelf,
            plates=list(e.plates),
            delta_g=e.delta_g,
            kind=e.kind,
            product_id=e.product_id,
            quantity=e.quantity,
            confidence=e.confidence,
        )


class PresenceEventMessage(Section):
    """A presence change as published for observers on ``.../gateway/{id}/events/presence``."""

    t: float = Field(description="Unix time.")
    shopper: str = Field(description="Pseudonymous shopper id.")
    gondola: int = Field(description="Gondola of the zone.")
    shelf: int = Field(description="Shelf of the zone.")
    kind: Literal["arrival", "dwell", "departure"] = Field(description="What changed.")

    @classmethod
    def from_event(cls, e: PresenceEvent) -> PresenceEventMessage:
        return cls(t=e.t, shopper=e.shopper, gondola=e.shelf.gondola, shelf=e.shelf.shelf, kind=e.kind)


class BasketEventMessage(Section):
    """A basket change as published for observers on ``.../gateway/{id}/events/basket``."""

    event_id: str = Field(description="Unique id (also the outbox idempotency key).")
    t: float = Field(description="Unix time.")
    gondola: int = Field(description="Gondola.")
    shelf: int = Field(description="Shelf.")
    kind: Literal["pick", "return"] = Field(description="Pick or return.")
    product_id: str | None = Field(description="Product, null when unknown.")
    quantity: int = Field(description="Units.")
    confidence: float = Field(description="Confidence.")
    shopper: str | None = Field(description="Pseudonymous shopper, null when nobody could be attributed.")
    sources: list[str] = Field(description="Signals that contributed: weight, vision, presence.")

    @classmethod
    def from_event(cls, e: BasketEvent) -> BasketEventMessage:
        return cls(
            event_id=e.event_id,
            t=e.t,
            gondola=e.shelf.gondola,
            shelf=e.shelf.shelf,
            kind=e.kind,
            product_id=e.product_id,
            quantity=e.quantity,
            confidence=e.confidence,
            shopper=e.shopper,
            sources=list(e.sources),
        )


class DecisionEventMessage(Section):
    """An offer decision as published for observers on ``.../gateway/{id}/events/decision``.

    Every decision is published, also those that show nothing (holdout group, caps, no candidate);
    the full record (candidates, propensity) goes to the backend through the outbox.
    """

    decision_id: str = Field(description="Unique id of the decision.")
    shopper: str = Field(description="Pseudonymous shopper id.")
    outcome: str = Field(
        description="'offered', 'held-out', 'no-candidate', 'no-consent', or the cap that applied."
    )
    variant: str = Field(description="Experiment group: 'holdout' or a variant name.")
    chosen: str | None = Field(description="Product chosen (also for held-out decisions), null when none.")


def decode(model: type[M], topic: str, payload: bytes) -> M:
    """Parse a JSON payload into ``model``; raise PayloadError with the topic and reason."""
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "<payload>"
        raise PayloadError(topic, f"{where}: {first['msg']}", payload) from None


def encode(message: BaseModel) -> bytes:
    return message.model_dump_json(exclude_none=False).encode()


#: Every payload model, by the name its JSON schema is published under.
PAYLOADS: dict[str, type[BaseModel]] = {
    "sample-batch": SampleBatchMessage,
    "shelf-status": ShelfStatusMessage,
    "ble-sightings": SightingsMessage,
    "display-offer": OfferMessage,
    "display-withdraw": WithdrawMessage,
    "display-ack": AckMessage,
    "display-state": DisplayStateMessage,
    "display-set": DisplaySetMessage,
    "shelf-display-text": ShelfDisplayTextMessage,
    "shelf-display-clear": ShelfDisplayClearMessage,
    "event-weight": WeightEventMessage,
    "event-presence": PresenceEventMessage,
    "event-basket": BasketEventMessage,
    "event-decision": DecisionEventMessage,
    "shelf-command-tare": TareCommand,
    "shelf-command-span": SpanCommand,
    "shelf-command-rate": RateCommand,
    "shelf-command-identify": IdentifyCommand,
    "shelf-command-info": InfoCommand,
    "shelf-reply": ShelfReplyMessage,
}
