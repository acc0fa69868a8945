"""PresenceTracker: smoothing, zones with hysteresis, arrival/dwell/departure, scores."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.events import ShelfId, ShopperSighting
from edge.presence.core import PresenceParams, PresenceTracker, robust_level

A, B = ShelfId(1, 1), ShelfId(1, 2)
ZONES = {"rx-a": A, "rx-b": B}


def _feed(
    tr: PresenceTracker, shopper: str, t0: float, t1: float, levels: dict[str, float], step: float = 0.25
):
    events = []
    t = t0
    while t < t1:
        for rx, rssi in levels.items():
            events += tr.observe(ShopperSighting(t, rx, shopper, rssi))
        t += step
    return events


def test_robust_level_rejects_outliers() -> None:
    assert robust_level([-60, -61, -59, -60, -95, -60, -20]) == -60
    assert robust_level([-70.0]) == -70.0


def test_arrival_then_dwell_then_departure_when_adverts_stop() -> None:
    tr = PresenceTracker(ZONES, PresenceParams(dwell_s=10, departure_s=12))
    events = _feed(tr, "s1", 0, 15, {"rx-a": -60, "rx-b": -75})
    kinds = [(e.kind, e.shelf) for e in events]
    assert kinds[0] == ("arrival", A)
    assert ("dwell", A) in kinds
    assert tr.shoppers_at(A, 14.9)[0][0] == "s1"
    assert tr.tick(20) == []
    left = tr.tick(27)
    assert [(e.kind, e.shelf, e.shopper) for e in left] == [("departure", A, "s1")]
    assert tr.shoppers() == []


def test_hysteresis_keeps_zone_on_small_margin_and_switches_on_large() -> None:
    tr = PresenceTracker(ZONES)
    _feed(tr, "s1", 0, 5, {"rx-a": -62, "rx-b": -66})
    assert tr.zone_of("s1") == A
    _feed(tr, "s1", 5, 12, {"rx-a": -64, "rx-b": -62})  # B better by 2 dB only: stays at A
    assert tr.zone_of("s1") == A
    events = _feed(tr, "s1", 12, 20, {"rx-a": -72, "rx-b": -60})
    assert [(e.kind, e.shelf) for e in events][:2] == [("departure", A), ("arrival", B)]
    assert tr.zone_of("s1") == B


def test_weak_signal_never_enters_a_zone() -> None:
    tr = PresenceTracker(ZONES)
    assert _feed(tr, "s1", 0, 5, {"rx-a": -92}) == []
    assert tr.zone_of("s1") is None


def test_shoppers_at_ranks_by_margin() -> None:
    tr = PresenceTracker(ZONES)
    _feed(tr, "near", 0, 5, {"rx-a": -58, "rx-b": -75})
    _feed(tr, "edge", 0, 5, {"rx-a": -66, "rx-b": -71})
    ranked = tr.shoppers_at(A, 5)
    assert [s for s, _ in ranked] == ["near", "edge"]
    assert 0 < ranked[1][1] < ranked[0][1] <= 1
    assert tr.shoppers_at(B, 5) == []


def test_unknown_receiver_is_counted_and_ignored() -> None:
    tr = PresenceTracker(ZONES)
    assert tr.observe(ShopperSighting(0, "rx-zz", "s1", -50)) == []
    assert tr.unknown_receiver == 1 and tr.shoppers() == []


def test_forget_removes_a_shopper_at_once() -> None:
    tr = PresenceTracker(ZONES)
    _feed(tr, "s1", 0, 3, {"rx-a": -60})
    tr.forget("s1")
    assert tr.shoppers() == [] and tr.shoppers_at(A, 3) == []


def test_weighted_level_follows_recent_adverts() -> None:
    old, new = [-75.0] * 6, [-55.0] * 4
    assert robust_level(old + new) == -75.0
    assert robust_level(old + new, [0.1] * 6 + [1.0] * 4) == -55.0


def test_just_arrived_shopper_is_placed_where_they_stand() -> None:
    tr = PresenceTracker(ZONES)
    _feed(tr, "s1", 0, 4, {"rx-a": -60, "rx-b": -70})  # standing at A
    _feed(tr, "s1", 4, 7, {"rx-a": -72, "rx-b": -56})  # walked to B, 3 s ago
    assert tr.zone_of("s1") == B


_step = st.tuples(
    st.sampled_from(["s1", "s2"]),
    st.sampled_from(["rx-a", "rx-b", "rx-x"]),
    st.floats(min_value=-105, max_value=-40),
    st.floats(min_value=0.0, max_value=20.0),
)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(_step, max_size=120))
def test_events_are_well_formed_for_any_sighting_stream(steps: list[tuple[str, str, float, float]]) -> None:
    tr = PresenceTracker(ZONES)
    t = 0.0
    events = []
    for shopper, rx, rssi, gap in steps:
        t += gap
        events += tr.observe(ShopperSighting(t, rx, shopper, rssi))
        events += tr.tick(t)
    events += tr.tick(t + 100)
    zone: dict[str, object] = {}
    for e in events:
        if e.kind == "arrival":
            assert zone.get(e.shopper) is None  # one zone at a time
            zone[e.shopper] = e.shelf
        else:
            assert zone.get(e.shopper) == e.shelf  # dwell/departure only where they arrived
            if e.kind == "departure":
                zone[e.shopper] = None
    assert all(v is None for v in zone.values())  # everybody left in the end
    assert tr.shoppers() == []
