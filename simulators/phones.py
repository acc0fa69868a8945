"""Simulated loyalty-app phones walking through a store, heard by BLE receivers through a radio model.

The phones run the reference app token generator (edge.presence.tokens.AppTokenGenerator), so what
the receivers hear is exactly what real apps would advertise. The radio model is the only fake:

- log-distance path loss: ``rssi = tx_1m - 10 * n * log10(d)`` with n = 2.7;
- body shadowing: up to ``body_db`` when the shopper's body is between the phone and the receiver
  (phones are carried in front of the body, the shopper faces the shelf being visited);
- multipath: Gaussian noise per advert plus occasional deep fades;
- dropped adverts: a base loss rate, and everything under the receiver's sensitivity.

Use :class:`PhoneWorld` to generate sightings for a time range (deterministic for a seed, whatever
the call boundaries), and ``simulators.phones_mqtt.ReceiverPublisher`` to publish them as remote
receivers would.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from edge.events import ShelfId, Sighting
from edge.presence.resolver import EnrolledKey
from edge.presence.tokens import AppTokenGenerator, day_of, derive_day_key

Point = tuple[float, float]
Platform = Literal["android", "android-service", "ios", "other"]

WALK_SPEED_M_S = 1.0
#: Distance from the shelf front at which a shopper stands, metres.
STAND_OFF_M = 0.7


@dataclass(frozen=True, slots=True)
class StoreLayout:
    """Where things are, in metres. ``facing[shelf]`` is the unit vector from the shelf into the aisle."""

    shelves: Mapping[ShelfId, Point]
    facing: Mapping[ShelfId, Point]
    receivers: Mapping[str, Point]
    zones: Mapping[str, ShelfId]
    entrance: Point = (0.0, -3.0)

    def stand_point(self, shelf: ShelfId) -> Point:
        x, y = self.shelves[shelf]
        fx, fy = self.facing[shelf]
        return (x + fx * STAND_OFF_M, y + fy * STAND_OFF_M)

    def zones_text(self) -> dict[str, str]:
        """The ``presence.receivers`` config table for this layout."""
        return {r: f"{s.gondola}/{s.shelf}" for r, s in self.zones.items()}


def aisle_store(
    gondolas: int = 2, shelves_per_gondola: int = 4, bay_m: float = 2.0, aisle_m: float = 2.6
) -> StoreLayout:
    """Gondolas facing each other in pairs across aisles; each shelf is a bay ``bay_m`` wide with a receiver.

    Gondola g (1-based) runs along x; shelf s (1-based) is the bay at x = s * bay_m. Odd gondolas
    face +y, even ones face -y across an aisle of ``aisle_m``. Receiver ``rx-g{g}s{s}`` sits on
    the shelf edge.
    """
    shelves: dict[ShelfId, Point] = {}
    facing: dict[ShelfId, Point] = {}
    receivers: dict[str, Point] = {}
    zones: dict[str, ShelfId] = {}
    for g in range(1, gondolas + 1):
        pair = (g - 1) // 2
        base_y = pair * (aisle_m + 2.0)
        odd = g % 2 == 1
        y = base_y if odd else base_y + aisle_m
        for s in range(1, shelves_per_gondola + 1):
            shelf = ShelfId(g, s)
            shelves[shelf] = (s * bay_m, y)
            facing[shelf] = (0.0, 1.0) if odd else (0.0, -1.0)
            rid = f"rx-g{g}s{s}"
            receivers[rid] = (s * bay_m, y)
            zones[rid] = shelf
    return StoreLayout(shelves, facing, receivers, zones, entrance=(0.0, -3.0))


@dataclass(frozen=True, slots=True)
class RadioModel:
    tx_1m_dbm: float = -59.0
    exponent: float = 2.7
    body_db: float = 8.0
    noise_db: float = 3.0
    fade_p: float = 0.05
    fade_db: float = 10.0
    drop_p: float = 0.2
    sensitivity_dbm: float = -95.0

    def mean_rssi(self, phone: Point, facing: Point, receiver: Point) -> float:
        dx, dy = receiver[0] - phone[0], receiver[1] - phone[1]
        d = max(0.3, math.hypot(dx, dy))
        rssi = self.tx_1m_dbm - 10.0 * self.exponent * math.log10(d)
        # body between phone (in front of the body) and receiver when the receiver is behind
        cos_to = (dx * facing[0] + dy * facing[1]) / d
        rssi -= self.body_db * max(0.0, -cos_to)
        return rssi

    def sample(self, mean: float, rng: np.random.Generator) -> float | None:
        """One received RSSI, or None when the advert is lost."""
        if rng.random() < self.drop_p:
            return None
        value = mean + rng.normal(0.0, self.noise_db)
        if rng.random() < self.fade_p:
            value -= self.fade_db
        if value < self.sensitivity_dbm:
            return None
        return float(round(max(-127.0, min(20.0, value))))


@dataclass(frozen=True, slots=True)
class Customer:
    """A loyalty customer (enrolled) or just some phone (``enrolled=False``)."""

    shopper: str
    secret: bytes
    platform: Platform = "android"
    enrolled: bool = True


def make_customers(n: int, seed: int | None = None, prefix: str = "sh") -> list[Customer]:
    """``n`` enrolled customers with random secrets (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    platforms: tuple[Platform, ...] = ("android", "ios", "android-service")
    out = []
    for i in range(n):
        secret = rng.bytes(16) if seed is not None else secrets.token_bytes(16)
        out.append(Customer(f"{prefix}-{i:04d}", secret, platforms[i % len(platforms)]))
    return out


def enrolled_keys(customers: Iterable[Customer], store: str, days: Iterable[int]) -> list[EnrolledKey]:
    """What the backend would send the gateway: day keys of the enrolled customers for ``days``."""
    days = list(days)
    return [
        EnrolledKey(c.shopper, day, derive_day_key(c.secret, store, day))
        for c in customers
        if c.enrolled
        for day in days
    ]


def days_covering(t0: float, t1: float) -> list[int]:
    return list(range(day_of(t0), day_of(t1) + 1))


@dataclass(frozen=True, slots=True)
class ShopperScript:
    """A shopper's trip: enter, visit shelves ``(shelf, arrive_t, leave_t)`` in order, walk out.

    Between visits the shopper walks straight at 1 m/s (arriving at ``arrive_t``); before the first
    visit they come from the entrance, after the last they walk back to it and their phone is gone.
    """

    customer: Customer
    visits: Sequence[tuple[ShelfId, float, float]]
    advert_interval_s: float = 0.25

    def __post_init__(self) -> None:
        if not self.visits:
            raise ValueError(f"{self.customer.shopper}: a script needs at least one visit")
        for (_, _a0, l0), (_, a1, _l1) in itertools.pairwise(self.visits):
            if a1 < l0:
                raise ValueError(f"{self.customer.shopper}: visits overlap ({a1} < {l0})")
        for shelf, arrive, leave in self.visits:
            if leave < arrive:
                raise ValueError(f"{self.customer.shopper}: leaves {shelf} before arriving")

    def waypoints(self, layout: StoreLayout) -> list[tuple[float, Point, Point]]:
        """(time, position, facing) knots of the trip; positions are interpolated between them."""
        knots: list[tuple[float, Point, Point]] = []
        first_shelf, first_arrive, _ = self.visits[0]
        start = layout.stand_point(first_shelf)
        walk = _dist(layout.entrance, start) / WALK_SPEED_M_S
        knots.append((first_arrive - walk, layout.entrance, _unit(layout.entrance, start)))
        for shelf, arrive, leave in self.visits:
            point = layout.stand_point(shelf)
            fx, fy = layout.facing[shelf]
            toward_shelf = (-fx, -fy)
            knots.append((arrive, point, toward_shelf))
            knots.append((leave, point, toward_shelf))
        last = knots[-1][1]
        out_walk = _dist(last, layout.entrance) / WALK_SPEED_M_S
        knots.append((knots[-1][0] + out_walk, layout.entrance, _unit(last, layout.entrance)))
        return knots

    @property
    def enter_t(self) -> float:
        return self.visits[0][1]

    def position(self, layout: StoreLayout, t: float) -> tuple[Point, Point] | None:
        """(position, facing) at ``t``, or None before entering / after leaving the store."""
        return position_on(self.waypoints(layout), t)


def position_on(knots: Sequence[tuple[float, Point, Point]], t: float) -> tuple[Point, Point] | None:
    """Interpolate (position, facing) on a trip's knots; None outside the trip."""
    if t < knots[0][0] or t > knots[-1][0]:
        return None
    for (t0, p0, _f0), (t1, p1, f1) in itertools.pairwise(knots):
        if t0 <= t <= t1:
            if t1 - t0 <= 1e-9:
                return p1, f1
            a = (t - t0) / (t1 - t0)
            pos = (p0[0] + (p1[0] - p0[0]) * a, p0[1] + (p1[1] - p0[1]) * a)
            moving = _dist(p0, p1) > 1e-6
            return pos, (_unit(p0, p1) if moving else f1)
    return None


def _dist(a: Point, b: Point) -> float:
    return math.hypot(b[0] - a[0], b[1] - a[1])


def _unit(a: Point, b: Point) -> Point:
    d = _dist(a, b)
    return (0.0, 1.0) if d < 1e-9 else ((b[0] - a[0]) / d, (b[1] - a[1]) / d)


@dataclass(frozen=True, slots=True)
class AdvertFields:
    """What one advertisement carries (the fields bleak's AdvertisementData exposes)."""

    manufacturer_data: dict[int, bytes]
    service_data: dict[str, bytes]
    service_uuids: list[str]


def advert_fields(customer: Customer, store: str, t: float) -> AdvertFields:
    """What the phone's advertisement carries at ``t``, per its platform's layout."""
    app = AppTokenGenerator(customer.secret, store)
    if customer.platform == "android":
        return AdvertFields(app.manufacturer_data(t), {}, [])
    if customer.platform == "android-service":
        return AdvertFields({}, app.service_data(t), [])
    if customer.platform == "ios":
        return AdvertFields({}, {}, [app.ios_service_uuid(t)])
    # "other": some unrelated device (e.g. a watch) with vendor data that is no token at all
    return AdvertFields({0x004C: customer.secret[:10]}, {}, [])


def random_address(customer: Customer, interval: int) -> str:
    """A random static BLE address that changes with the token (phones rotate both together)."""
    digest = hashlib.blake2b(customer.secret + interval.to_bytes(8, "big"), digest_size=6).digest()
    first = digest[0] | 0xC0  # random static: two top bits set
    return ":".join(f"{b:02X}" for b in (first, *digest[1:]))


@dataclass(slots=True)
class _PhoneState:
    script: ShopperScript
    rng: np.random.Generator
    radio_rng: np.random.Generator
    next_t: float
    knots: list[tuple[float, Point, Point]] = field(default_factory=list)


class PhoneWorld:
    """Phones following their scripts in a store; yields what each receiver hears."""

    def __init__(
        self,
        layout: StoreLayout,
        scripts: Sequence[ShopperScript],
        store: str = "store-001",
        radio: RadioModel | None = None,
        seed: int = 1,
        receivers: Sequence[str] | None = None,
    ) -> None:
        self.layout = layout
        self.store = store
        self.radio = radio or RadioModel()
        self.receivers = list(receivers) if receivers is not None else sorted(layout.receivers)
        self._phones: list[_PhoneState] = []
        for i, script in enumerate(scripts):
            rng = np.random.default_rng([seed, i, 0])
            radio_rng = np.random.default_rng([seed, i, 1])
            knots = script.waypoints(layout)
            first = knots[0][0] + float(rng.random()) * script.advert_interval_s
            self._phones.append(_PhoneState(script, rng, radio_rng, first, knots))
        self._tokens: dict[tuple[str, int], AdvertFields] = {}

    @property
    def scripts(self) -> list[ShopperScript]:
        return [p.script for p in self._phones]

    def start_t(self) -> float:
        return min(p.knots[0][0] for p in self._phones)

    def end_t(self) -> float:
        return max(p.knots[-1][0] for p in self._phones)

    def adverts_until(self, t1: float) -> list[tuple[float, int, Point, Point]]:
        """Every advert sent up to ``t1`` not yet returned: (t, phone index, position, facing), time order."""
        out: list[tuple[float, int, Point, Point]] = []
        for index, phone in enumerate(self._phones):
            script = phone.script
            while phone.next_t <= t1:
                t = phone.next_t
                phone.next_t = t + script.advert_interval_s + float(phone.rng.random()) * 0.01
                where = position_on(phone.knots, t)
                if where is None:
                    if t > phone.knots[-1][0]:
                        phone.next_t = math.inf
                    continue
                out.append((t, index, where[0], where[1]))
        out.sort(key=lambda a: a[0])
        return out

    def sightings_until(self, t1: float) -> list[Sighting]:
        """What every receiver heard up to ``t1`` (since the previous call), in time order."""
        return [s for s, _address in self.heard_until(t1)]

    def heard_until(self, t1: float) -> list[tuple[Sighting, str]]:
        """Like :meth:`sightings_until`, with the phone's (rotating, random) BLE address of each advert."""
        out: list[tuple[Sighting, str]] = []
        for t, index, pos, facing in self.adverts_until(t1):
            phone = self._phones[index]
            customer = phone.script.customer
            payload = self._advert(customer, t)
            address = random_address(customer, int(t // 600))
            rng = phone.radio_rng
            for rid in self.receivers:
                mean = self.radio.mean_rssi(pos, facing, self.layout.receivers[rid])
                rssi = self.radio.sample(mean, rng)
                if rssi is None:
                    continue
                sighting = Sighting(
                    t=round(t, 3),
                    receiver=rid,
                    rssi=rssi,
                    manufacturer_data=tuple(sorted(payload.manufacturer_data.items())),
                    service_data=tuple(sorted(payload.service_data.items())),
                    service_uuids=tuple(payload.service_uuids),
                )
                out.append((sighting, address))
        return out

    def _advert(self, customer: Customer, t: float) -> AdvertFields:
        key = (customer.shopper, int(t // 600))
        cached = self._tokens.get(key)
        if cached is None:
            cached = advert_fields(customer, self.store, t)
            self._tokens[key] = cached
        return cached
