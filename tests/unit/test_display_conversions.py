"""Conversion matching and uplift against the holdout (pure core)."""

from __future__ import annotations

import pytest

from edge.displays.conversions import ConversionTracker, Exposure, uplift
from edge.events import BasketEvent, ShelfId

SHELF = ShelfId(1, 2)


def exposure(
    offer_id: str, t: float, shopper: str, product: str = "p1", variant: str = "A", campaign: str = "c1"
) -> Exposure:
    return Exposure(offer_id, t, shopper, product, campaign, variant)


def pick(
    t: float, shopper: str | None, product: str | None = "p1", kind: str = "pick", eid: str = "e"
) -> BasketEvent:
    return BasketEvent(t, SHELF, kind, product, 1, 0.9, shopper, ("weight",), eid)  # type: ignore[arg-type]


def test_pick_within_window_converts_once() -> None:
    tracker = ConversionTracker(window_s=60)
    tracker.expose(exposure("o1", 100, "s1"))
    assert tracker.pick(pick(110, "s2")) == []  # another shopper
    assert tracker.pick(pick(111, "s1", "p9")) == []  # another product
    assert tracker.pick(pick(112, "s1", kind="return")) == []
    assert tracker.pick(pick(113, None)) == []  # anonymous pick
    [c] = tracker.pick(pick(120, "s1", eid="e7"))
    assert (c.offer_id, c.event_id, c.delay_s, c.variant) == ("o1", "e7", 20, "A")
    assert tracker.pick(pick(121, "s1")) == []  # converts at most once
    assert tracker.open_count == 0


def test_window_expires_and_pick_before_exposure_does_not_count() -> None:
    tracker = ConversionTracker(window_s=60)
    tracker.expose(exposure("o1", 100, "s1"))
    assert tracker.pick(pick(99, "s1")) == []
    assert tracker.pick(pick(161, "s1")) == []
    assert tracker.open_count == 0


def test_holdout_exposures_convert_too_and_give_the_baseline() -> None:
    tracker = ConversionTracker(window_s=300)
    exposures = []
    conversions = []
    # 10 shown in variant A (4 convert), 10 in B (2 convert), 10 held out (1 converts)
    for variant, converting in (("A", 4), ("B", 2), ("holdout", 1)):
        for i in range(10):
            e = exposure(f"{variant}-{i}", 0, f"{variant}-s{i}", variant=variant)
            exposures.append(e)
            tracker.expose(e)
            if i < converting:
                conversions += tracker.pick(pick(10, f"{variant}-s{i}"))
    rows = {r.variant: r for r in uplift(exposures, conversions)}
    assert rows["A"].rate == pytest.approx(0.4) and rows["A"].uplift == pytest.approx(0.3)
    assert rows["B"].uplift == pytest.approx(0.1)
    assert rows["holdout"].rate == pytest.approx(0.1) and rows["holdout"].uplift is None
    no_holdout = uplift([exposure("x", 0, "s", campaign="c2")], [])
    assert no_holdout[0].uplift is None and no_holdout[0].holdout_rate is None
