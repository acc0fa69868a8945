"""What the technician dashboard and /metrics show, gathered from the store's MQTT traffic.

:class:`LiveState` is fed decoded payloads (by :mod:`edge.web.observer`) and answers
:meth:`LiveState.snapshot`. It keeps only what a technician needs: plate weights (short history),
shelf link status, recent pick/return events, a COUNT of shoppers per shelf, offers and their acks.
Shopper ids are used only to count presence and are never part of a snapshot. Time comes with the
data (``t`` of each message) or as the ``now`` argument; this class reads no clock.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

HISTORY_S = 60.0
POINT_SPACING_S = 0.25
MAX_EVENTS = 40
MAX_OFFERS = 30
#: Shelves (and device availability entries) kept: a store has far fewer; messages about further ones
#: are counted (``beyond_limit``) and dropped, so a flood of topics cannot grow the state, the page or
#: /metrics without bound.
MAX_SHELVES = 512
MAX_AVAILABILITY = 1024
#: A plate reading below this has not been tared (zeroed) by ``shelf-edge calibrate``: an empty,
#: tared plate reads 0 g plus a few grams of noise or drift and a load only adds weight, whereas an
#: untared plate reads its raw offset times the default scale, kilograms either way. The positive
#: ones cannot be told from a full plate by weight alone; the negative ones are flagged.
UNTARED_BELOW_G = -50.0

PlateKey = tuple[int, int, int]
ShelfKey = tuple[int, int]


@dataclass
class _Offer:
    offer_id: str
    t: float
    display: str
    shelf: str
    product: str
    price: float
    status: str = "published"
    acks: list[str] = field(default_factory=list)


class LiveState:
    """Thread-safe aggregate of the store's live state (see module docstring)."""

    def __init__(self, history_s: float = HISTORY_S) -> None:
        self.history_s = history_s
        self._lock = threading.Lock()
        self._plates: dict[PlateKey, deque[tuple[float, float]]] = {}
        self._status: dict[ShelfKey, dict[str, Any]] = {}
        self._events: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)
        self._present: dict[ShelfKey, set[str]] = {}
        self._offers: dict[str, _Offer] = {}
        self._availability: dict[str, str] = {}
        self.counters: dict[str, int] = {
            "sample_batches": 0,
            "picks": 0,
            "returns": 0,
            "unattributed": 0,
            "offers": 0,
            "acks_shown": 0,
            "acks_impression": 0,
            "acks_expired": 0,
            "acks_withdrawn": 0,
            "presence_arrivals": 0,
            "malformed": 0,
            "beyond_limit": 0,
        }
        self._shelves: set[ShelfKey] = set()

    def _admit(self, key: ShelfKey) -> bool:
        """True when ``key`` is a known shelf or there is room for one more (call under the lock)."""
        if key in self._shelves:
            return True
        if len(self._shelves) >= MAX_SHELVES:
            self.counters["beyond_limit"] += 1
            return False
        self._shelves.add(key)
        return True

    # ------------------------------------------------------------------ feeding
    def on_samples(
        self, gondola: int, shelf: int, plates: list[int], t: list[float], readings: list[list[float]]
    ) -> None:
        with self._lock:
            self.counters["sample_batches"] += 1
            if not self._admit((gondola, shelf)):
                return
            for i, plate in enumerate(plates):
                series = self._plates.setdefault((gondola, shelf, plate), deque())
                for ts, row in zip(t, readings, strict=True):
                    if not series or ts - series[-1][0] >= POINT_SPACING_S:
                        series.append((ts, float(row[i])))
                    elif ts >= series[-1][0]:
                        series[-1] = (series[-1][0], float(row[i]))
                while series and series[-1][0] - series[0][0] > self.history_s:
                    series.popleft()

    def on_shelf_status(self, gondola: int, shelf: int, status: dict[str, Any]) -> None:
        with self._lock:
            if self._admit((gondola, shelf)):
                self._status[(gondola, shelf)] = dict(status)

    def on_availability(self, who: str, state: str) -> None:
        with self._lock:
            if who not in self._availability and len(self._availability) >= MAX_AVAILABILITY:
                self.counters["beyond_limit"] += 1
                return
            self._availability[who] = state

    def on_basket(
        self,
        t: float,
        gondola: int,
        shelf: int,
        kind: str,
        product: str | None,
        quantity: int,
        confidence: float,
        attributed: bool,
    ) -> None:
        with self._lock:
            self.counters["picks" if kind == "pick" else "returns"] += 1
            if not attributed:
                self.counters["unattributed"] += 1
            self._events.appendleft(
                {
                    "t": t,
                    "kind": kind,
                    "shelf": f"{gondola}/{shelf}",
                    "product": product or "unknown",
                    "quantity": quantity,
                    "confidence": round(confidence, 2),
                    "attributed": attributed,
                }
            )

    def on_presence(self, shopper: str, gondola: int, shelf: int, kind: str) -> None:
        with self._lock:
            if not self._admit((gondola, shelf)):
                return
            present = self._present.setdefault((gondola, shelf), set())
            if kind == "departure":
                present.discard(shopper)
            else:
                if shopper not in present and kind == "arrival":
                    self.counters["presence_arrivals"] += 1
                present.add(shopper)

    def on_offer(
        self, offer_id: str, t: float, display: str, gondola: int, shelf: int, product: str, price: float
    ) -> None:
        with self._lock:
            if offer_id not in self._offers:
                self.counters["offers"] += 1
            self._offers[offer_id] = _Offer(offer_id, t, display, f"{gondola}/{shelf}", product, price)
            while len(self._offers) > MAX_OFFERS:
                self._offers.pop(next(iter(self._offers)))

    def on_ack(self, offer_id: str, status: str) -> None:
        with self._lock:
            key = f"acks_{status}"
            if key in self.counters:
                self.counters[key] += 1
            offer = self._offers.get(offer_id)
            if offer is not None:
                offer.acks.append(status)
                offer.status = status

    def on_malformed(self) -> None:
        with self._lock:
            self.counters["malformed"] += 1

    # ------------------------------------------------------------------ reading
    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy: plates (series), shelves, events, presence counts, offers, counters."""
        with self._lock:
            plates = [
                {
                    "gondola": g,
                    "shelf": s,
                    "plate": p,
                    "grams": series[-1][1] if series else None,
                    "untared": bool(series) and series[-1][1] < UNTARED_BELOW_G,
                    "t": [round(x[0], 3) for x in series],
                    "series": [round(x[1], 1) for x in series],
                }
                for (g, s, p), series in sorted(self._plates.items())
            ]
            shelf_keys = sorted(set(self._status) | {(g, s) for g, s, _ in self._plates} | set(self._present))
            shelves = [
                {
                    "shelf": f"{g}/{s}",
                    "connected": bool(self._status.get((g, s), {}).get("connected", False)),
                    "firmware": self._status.get((g, s), {}).get("firmware"),
                    "crc_errors": self._status.get((g, s), {}).get("crc_errors", 0),
                    "shoppers": len(self._present.get((g, s), ())),
                }
                for g, s in shelf_keys
            ]
            offers = [
                {
                    "offer_id": o.offer_id,
                    "t": o.t,
                    "display": o.display,
                    "shelf": o.shelf,
                    "product": o.product,
                    "price": o.price,
                    "status": o.status,
                    "acknowledged": bool(o.acks),
                }
                for o in sorted(self._offers.values(), key=lambda o: -o.t)
            ]
            return {
                "plates": plates,
                "shelves": shelves,
                "events": list(self._events),
                "offers": offers,
                "availability": dict(self._availability),
                "counters": dict(self.counters),
            }
