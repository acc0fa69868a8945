"""Presence core: resolved sightings -> which shopper stands at which shelf. Pure: no I/O, no clock.

Per (shopper, receiver) the RSSI of the last ``window_s`` seconds is smoothed by a median after
IQR outlier rejection (ESPresense style). A shelf's level for a shopper is the best smoothed RSSI of
the receivers standing at that shelf (``zones``: receiver id -> shelf), counted only while fresh.

Zone assignment with hysteresis: a shopper enters the best shelf once it is above ``enter_dbm``
with at least ``min_adverts`` adverts; it switches to another shelf only when that one beats the
current by ``hysteresis_db``; it leaves a shelf when the shelf falls below ``leave_dbm`` or goes
stale. Events: ``arrival`` (entering a zone), ``dwell`` (once per visit after ``dwell_s``),
``departure`` (leaving a zone, or no advert at all for ``departure_s``: checked by :meth:`tick`).

A phone's rotating token is resolved to the same pseudonymous shopper before it arrives here, so a
rotation is invisible to this core.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from edge.events import PresenceEvent, ShelfId, ShopperSighting

#: Margin credited when no other shelf hears the shopper at all, dB.
NO_RIVAL_MARGIN_DB = 18.0


#: Score of a shopper whose zone is held through a gap in adverts (no fresh level at the shelf):
#: the zone is kept so a lost advert doesn't cause a departure, but it is weak evidence of who is there.
HELD_ZONE_SCORE = 0.25


@dataclass(frozen=True, slots=True)
class PresenceParams:
    """Tunables of the presence core (defaults tuned on the simulated store, see README.md)."""

    #: RSSI history kept per (shopper, receiver), seconds.
    window_s: float = 6.0
    #: A receiver counts for zone choice only if it heard the shopper this recently, seconds.
    fresh_s: float = 4.0
    #: No advert at all for this long: the shopper left (departure), seconds.
    departure_s: float = 12.0
    #: Another shelf must beat the current one by this margin to take the shopper, dB.
    hysteresis_db: float = 4.0
    #: Smoothed level needed to enter a shelf zone, dBm.
    enter_dbm: float = -80.0
    #: Below this smoothed level the shopper leaves the zone, dBm.
    leave_dbm: float = -86.0
    #: Adverts from a receiver needed before its level is trusted.
    min_adverts: int = 2
    #: Staying this long in a zone emits one ``dwell`` event, seconds.
    dwell_s: float = 20.0
    #: Softness of the shelf score (a logistic over dB differences), dB.
    score_scale_db: float = 3.0
    #: Level at which "close to the shelf" counts one half in the score, dBm (~1.5 m with n = 2.7).
    close_dbm: float = -66.0
    #: Sightings weaker than this are ignored, dBm.
    floor_dbm: float = -100.0
    #: Age at which an advert counts half in the weighted median, seconds.
    half_life_s: float = 2.0
    #: Zones are re-evaluated at most this often per shopper on sightings (tick always evaluates), s.
    eval_interval_s: float = 0.5


def robust_level(values: list[float], weights: list[float] | None = None) -> float:
    """(Weighted) median after dropping values outside [Q1 - 1.5 IQR, Q3 + 1.5 IQR].

    ``weights`` (same length) let recent adverts count more, so a shopper who just arrived is
    placed by where they stand, not by where they walked.
    """
    ordered = sorted(values)
    n = len(ordered)
    if n < 4:
        kept = ordered
    else:
        q1 = _quantile(ordered, 0.25)
        q3 = _quantile(ordered, 0.75)
        spread = 1.5 * (q3 - q1)
        kept = [v for v in ordered if q1 - spread <= v <= q3 + spread] or ordered
    if weights is None:
        return _median(kept)
    lo, hi = kept[0], kept[-1]
    pairs = sorted((v, w) for v, w in zip(values, weights, strict=True) if lo <= v <= hi)
    half = sum(w for _, w in pairs) / 2.0
    acc = 0.0
    for v, w in pairs:
        acc += w
        if acc >= half:
            return v
    return pairs[-1][0]


def _quantile(ordered: list[float], q: float) -> float:
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _median(ordered: list[float]) -> float:
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


@dataclass(slots=True)
class _Shopper:
    last_t: float
    readings: dict[str, deque[tuple[float, float]]] = field(default_factory=dict)
    zone: ShelfId | None = None
    zone_since: float = 0.0
    dwell_sent: bool = False
    evaluated_at: float = -math.inf


class PresenceTracker:
    """Tracks every resolved shopper's zone; see the module docstring for the rules."""

    def __init__(self, zones: Mapping[str, ShelfId], params: PresenceParams = PresenceParams()) -> None:
        self.zones = dict(zones)
        self.params = params
        self._shoppers: dict[str, _Shopper] = {}
        #: Sightings from receivers not in ``zones`` (counted, otherwise ignored).
        self.unknown_receiver = 0

    # ------------------------------------------------------------------ inputs
    def observe(self, s: ShopperSighting) -> list[PresenceEvent]:
        """Take one resolved sighting; return the zone changes it causes."""
        if s.receiver not in self.zones:
            self.unknown_receiver += 1
            return []
        if s.rssi < self.params.floor_dbm:
            return []
        state = self._shoppers.get(s.shopper)
        if state is None:
            state = _Shopper(last_t=s.t)
            self._shoppers[s.shopper] = state
        state.last_t = max(state.last_t, s.t)
        history = state.readings.setdefault(s.receiver, deque())
        history.append((s.t, s.rssi))
        horizon = s.t - self.params.window_s
        while history and history[0][0] < horizon:
            history.popleft()
        if s.t - state.evaluated_at < self.params.eval_interval_s:
            return []
        return self._update(s.shopper, state, s.t)

    def tick(self, t: float) -> list[PresenceEvent]:
        """Departures of shoppers not heard for ``departure_s``, zone exits, and dwell events at ``t``."""
        events: list[PresenceEvent] = []
        for shopper in sorted(self._shoppers):
            state = self._shoppers[shopper]
            if t - state.last_t >= self.params.departure_s:
                if state.zone is not None:
                    events.append(PresenceEvent(t, shopper, state.zone, "departure"))
                del self._shoppers[shopper]
                continue
            events.extend(self._update(shopper, state, t))
        return events

    def forget(self, shopper: str) -> None:
        """Drop everything about a shopper at once (revocation); no event is emitted."""
        self._shoppers.pop(shopper, None)

    # ------------------------------------------------------------------ queries
    def levels(self, shopper: str, t: float) -> dict[ShelfId, float]:
        """Fresh smoothed level per shelf of one shopper at ``t`` (best receiver per shelf), dBm."""
        state = self._shoppers.get(shopper)
        if state is None:
            return {}
        out: dict[ShelfId, float] = {}
        for receiver, history in state.readings.items():
            recent = [(ts, r) for (ts, r) in history if t - self.params.window_s <= ts <= t]
            if len(recent) < self.params.min_adverts or t - history[-1][0] > self.params.fresh_s:
                continue
            half_life = self.params.half_life_s
            level = robust_level([r for _, r in recent], [0.5 ** ((t - ts) / half_life) for ts, _ in recent])
            shelf = self.zones[receiver]
            if level > out.get(shelf, -math.inf):
                out[shelf] = level
        return out

    def zone_of(self, shopper: str) -> ShelfId | None:
        state = self._shoppers.get(shopper)
        return None if state is None else state.zone

    def zone_since(self, shopper: str) -> float | None:
        """When the shopper arrived in their current zone (None when in no zone)."""
        state = self._shoppers.get(shopper)
        return None if state is None or state.zone is None else state.zone_since

    def shoppers(self) -> list[str]:
        return sorted(self._shoppers)

    def shoppers_at(self, shelf: ShelfId, t: float) -> list[tuple[str, float]]:
        """Shoppers whose zone is ``shelf`` at ``t`` with a score in (0, 1], best first.

        The score is the product of two logistics: the dB margin of this shelf over the best other
        shelf (here rather than there) and this shelf's level against ``close_dbm`` (standing at
        the shelf rather than passing by in the aisle).
        """
        ranked: list[tuple[str, float]] = []
        for shopper, state in self._shoppers.items():
            if state.zone != shelf:
                continue
            levels = self.levels(shopper, t)
            own = levels.get(shelf)
            if own is None:  # zone kept through a gap in adverts
                ranked.append((shopper, HELD_ZONE_SCORE))
                continue
            scale = self.params.score_scale_db
            others = [v for k, v in levels.items() if k != shelf]
            margin = own - max(others) if others else NO_RIVAL_MARGIN_DB
            # here rather than at another shelf, and close to this one rather than passing by
            here = 1.0 / (1.0 + math.exp(-margin / scale))
            close = 1.0 / (1.0 + math.exp(-(own - self.params.close_dbm) / scale))
            ranked.append((shopper, round(here * close, 4)))
        ranked.sort(key=lambda item: (-item[1], item[0]))
        return ranked

    # ------------------------------------------------------------------ rules
    def _zone_last_heard(self, state: _Shopper, zone: ShelfId) -> float:
        heard = [h[-1][0] for r, h in state.readings.items() if h and self.zones[r] == zone]
        return max(heard, default=-math.inf)

    def _update(self, shopper: str, state: _Shopper, t: float) -> list[PresenceEvent]:
        p = self.params
        state.evaluated_at = t
        levels = self.levels(shopper, t)
        events: list[PresenceEvent] = []
        best = max(levels.items(), key=lambda kv: (kv[1], kv[0]), default=None)
        if state.zone is not None:
            current = levels.get(state.zone)
            # a zone that merely went quiet is kept (adverts get lost) until departure_s of silence
            leave = (current is not None and current < p.leave_dbm) or (
                current is None and t - self._zone_last_heard(state, state.zone) >= p.departure_s
            )
            switch = (
                best is not None
                and best[0] != state.zone
                and best[1] >= p.enter_dbm
                and (current is None or best[1] >= current + p.hysteresis_db)
            )
            if leave or switch:
                events.append(PresenceEvent(t, shopper, state.zone, "departure", current))
                state.zone = None
        if state.zone is None and best is not None and best[1] >= p.enter_dbm:
            state.zone = best[0]
            state.zone_since = t
            state.dwell_sent = False
            events.append(PresenceEvent(t, shopper, best[0], "arrival", round(best[1], 1)))
        if state.zone is not None and not state.dwell_sent and t - state.zone_since >= p.dwell_s:
            state.dwell_sent = True
            events.append(PresenceEvent(t, shopper, state.zone, "dwell", _rounded(levels.get(state.zone))))
        return events


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
