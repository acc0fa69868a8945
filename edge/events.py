"""The frozen event types that travel between the stages of the gateway.

Every type here is created at an adapter (from serial bytes, adverts, frames, MQTT payloads) or by a
pure core, and never carries a third-party object. Time is always unix seconds taken from the data
(firmware timestamps, advert reception time), never read from a clock inside a core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

EventKind = Literal["pick", "return"]
PresenceKind = Literal["arrival", "dwell", "departure"]


@dataclass(frozen=True, slots=True, order=True)
class ShelfId:
    """One shelf: store > gondola > shelf (plates are numbered within a shelf)."""

    gondola: int
    shelf: int

    def __str__(self) -> str:
        return f"g{self.gondola}/s{self.shelf}"


@dataclass(frozen=True, slots=True)
class SampleBatch:
    """Consecutive load-cell samples of one shelf, grams after calibration.

    ``t[i]`` is the unix time of sample ``i``; ``readings[i][p]`` the weight on plate ``plates[p]``.
    """

    shelf: ShelfId
    plates: tuple[int, ...]
    t: tuple[float, ...]
    readings: tuple[tuple[float, ...], ...]
    seq: int = 0


@dataclass(frozen=True, slots=True)
class WeightEvent:
    """A pick or return detected from load cells on one shelf."""

    t_start: float
    t_end: float
    shelf: ShelfId
    plates: tuple[int, ...]
    delta_g: float
    kind: EventKind
    product_id: str | None
    quantity: int
    confidence: float


@dataclass(frozen=True, slots=True)
class Sighting:
    """One BLE advertisement as received, translated at the scanner boundary.

    Lives only until the resolver has looked at it; a sighting that resolves to no enrolled customer
    is dropped at once and never stored, logged with identifiers or published.
    """

    t: float
    receiver: str
    rssi: float
    manufacturer_data: tuple[tuple[int, bytes], ...] = ()
    service_data: tuple[tuple[str, bytes], ...] = ()
    service_uuids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ShopperSighting:
    """A sighting resolved to an enrolled shopper (pseudonymous id, never the loyalty number)."""

    t: float
    receiver: str
    shopper: str
    rssi: float


@dataclass(frozen=True, slots=True)
class PresenceEvent:
    """A shopper arrived at, dwells at, or left a shelf zone."""

    t: float
    shopper: str
    shelf: ShelfId
    kind: PresenceKind
    rssi: float | None = None


@dataclass(frozen=True, slots=True)
class LaneInteraction:
    """A hand reached into a camera lane, with what (if anything) it left with."""

    t_start: float
    t_end: float
    camera: str
    shelf: ShelfId
    plate: int
    kind: EventKind | Literal["touch"]
    product_id: str | None
    confidence: float


@dataclass(frozen=True, slots=True)
class BasketEvent:
    """A product entered or left a shopper's physical basket (weight, vision and presence fused)."""

    t: float
    shelf: ShelfId
    kind: EventKind
    product_id: str | None
    quantity: int
    confidence: float
    shopper: str | None
    sources: tuple[str, ...] = ("weight",)
    event_id: str = field(default="")


class Offer(NamedTuple):
    """An offer chosen for a shopper, to be shown on one display.

    Immutable like the dataclasses here, but a named tuple: one is made per offer decision, and a
    frozen dataclass's constructor costs about 4 us of that decision's 200 us budget."""

    offer_id: str
    t: float
    expires_at: float
    shopper: str
    shelf: ShelfId
    display: str
    product_id: str
    name: str
    price: float
    reason: str
    social_proof: str | None = None
    campaign_id: str | None = None
    variant: str = "default"
    propensity: float = 1.0
    opt_out: str | None = None  # how to switch personal offers off in the app, shown with the offer
    shadow_variant: str | None = None  # held out: the variant the offer held back was decided as
