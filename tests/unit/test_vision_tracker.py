"""The per-lane tracker: model answers over time -> pick, return, touch (pure core, no frames)."""

from __future__ import annotations

from edge.events import ShelfId
from edge.vision.tracker import LaneObservation, LaneTracker

NONE = (0.0, 0.0)
EMPTY = (0.9, 0.05)
HOLD = (0.05, 0.9)


def feed(tracker: LaneTracker, states: list[tuple[float, float]], product: str | None = "A"):
    out = []
    for k, (p_empty, p_holding) in enumerate(states):
        got = tracker.observe(LaneObservation(k / 15, p_empty, p_holding, product, 0.9))
        if got is not None:
            out.append(got)
    return out


def tracker() -> LaneTracker:
    return LaneTracker("cam-1", ShelfId(1, 2), plate=3)


def test_empty_in_holding_out_is_a_pick_of_the_product_seen() -> None:
    found = feed(tracker(), [NONE] * 3 + [EMPTY] * 6 + [HOLD] * 6 + [NONE] * 4)
    assert len(found) == 1
    pick = found[0]
    assert (pick.kind, pick.product_id, pick.plate, pick.shelf) == ("pick", "A", 3, ShelfId(1, 2))
    assert pick.t_start == 3 / 15 and pick.t_end == 14 / 15
    assert 0.5 < pick.confidence <= 1.0


def test_holding_in_empty_out_is_a_return() -> None:
    found = feed(tracker(), [HOLD] * 6 + [EMPTY] * 6 + [NONE] * 3)
    assert [(i.kind, i.product_id) for i in found] == [("return", "A")]


def test_no_change_is_a_touch_without_product() -> None:
    found = feed(tracker(), [EMPTY] * 10 + [NONE] * 3)
    assert [(i.kind, i.product_id) for i in found] == [("touch", None)]


def test_flicker_is_not_an_interaction() -> None:
    t = tracker()
    assert feed(t, [NONE, EMPTY, NONE, EMPTY, NONE, NONE, NONE]) == []
    assert not t.active


def test_a_short_gap_does_not_split_a_visit_and_flush_closes_an_open_one() -> None:
    t = tracker()
    assert feed(t, [EMPTY] * 5 + [NONE] * 2 + [HOLD] * 5) == []
    assert t.active
    closed = t.flush()
    assert closed is not None and closed.kind == "pick"
    assert not t.active and t.flush() is None


# ------------------------------------------------------------------ visits always close (issue 17)
def test_a_model_that_sees_hands_everywhere_cannot_hold_a_visit_open() -> None:
    tr = tracker()
    found = []
    for k in range(15 * 120):  # two minutes of "hand" on every frame, motion only in the first second
        obs = LaneObservation(k / 15, 0.5, 0.45, "A", 0.9, moving=k < 15)
        if (got := tr.observe(obs)) is not None:
            found.append(got)
    assert len(found) == 1 and tr.stilled == 1  # closed 3 s after the lane stopped moving
    assert found[0].t_end - found[0].t_start < tr.params.still_s + 1.0


def test_a_visit_is_capped_and_the_lane_rearms_only_when_the_model_lets_go() -> None:
    tr = tracker()
    states = [(0.5, 0.45, True)] * (15 * 30) + [(0.0, 0.0, True)] * 5 + [(*EMPTY, True)] * 6
    found = [
        got
        for k, (e, h, moving) in enumerate(states)
        if (got := tr.observe(LaneObservation(k / 15, e, h, "A", 0.9, moving=moving))) is not None
    ]
    assert tr.capped == 1
    assert found[0].t_end - found[0].t_start <= tr.params.max_visit_s
    assert len(found) == 1 and tr.active  # after letting go, a new visit has opened


def test_a_pick_in_a_lane_that_looks_unchanged_is_a_touch() -> None:
    tr = tracker()
    states = [EMPTY] * 6 + [HOLD] * 6 + [NONE] * 3
    out = [
        tr.observe_changed(LaneObservation(k / 15, e, h, "A", 0.9), changed=False)
        for k, (e, h) in enumerate(states)
    ]
    assert [(i.kind, i.product_id) for i in out if i is not None] == [("touch", None)]


def test_a_visit_whose_motion_never_reached_into_the_shelf_is_dropped() -> None:
    """A shopper passing in the aisle grazes the lanes' aisle edge; a hand reaches in."""
    shallow, deep = tracker(), tracker()
    states = [EMPTY] * 6 + [HOLD] * 6 + [NONE] * 3
    for k, (e, h) in enumerate(states):
        assert shallow.observe(LaneObservation(k / 15, e, h, "A", 0.9, depth=0.2)) is None
    assert shallow.shallow == 1 and not shallow.active
    depths = [0.1, 0.3, 0.6, 0.7, 0.5, 0.3] * 2 + [0.0] * 3  # one arm, in and out
    out = [
        deep.observe(LaneObservation(k / 15, e, h, "A", 0.9, depth=d))
        for k, ((e, h), d) in enumerate(zip(states, depths, strict=True))
    ]
    assert [(i.kind, i.product_id) for i in out if i is not None] == [("pick", "A")]
