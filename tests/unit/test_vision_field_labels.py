"""Field labels: a weight event labels the lane crops around it; the store keeps them under a limit."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edge.events import ShelfId, WeightEvent
from edge.vision.crops_file import load_crops
from edge.vision.field_labels import HAND_IN, ITEM_OUT, NO_HAND, CropRing, label_event
from edge.vision.field_store import FieldLabelStore
from edge.vision.lanes import LaneLayout, grid_lanes

SHELF = ShelfId(1, 1)


def ring_with_a_reach(lane: int = 2) -> CropRing:
    """Ten seconds at 15 fps: a hand in ``lane`` from 5.0 to 7.0 s, every lane still otherwise; each
    kept crop is filled with its time in tenths of a second so the test can tell which one it is."""
    layout = LaneLayout(tuple(grid_lanes(SHELF, 320, 240, 6, 28, 174)), 320, 240)
    ring = CropRing(layout, slots=60, every=3)
    for k in range(150):
        t = k / 15
        frame = np.full((240, 320, 3), min(255, round(t * 10)), np.uint8)
        depth = [0.0] * 6
        if 5.0 <= t <= 7.0:
            depth[lane] = 0.6
            depth[lane + 1] = 0.2  # the arm brushes the neighbour's aisle edge
        ring.push(t, frame, depth)
    return ring


def pick(plates: tuple[int, ...] = (3,)) -> WeightEvent:
    return WeightEvent(5.2, 7.4, SHELF, plates, -120.0, "pick", "B", 1, 0.9)


def test_a_pick_labels_hand_in_then_item_out_and_still_crops_before_as_nothing() -> None:
    got = label_event(ring_with_a_reach(), pick(), ["A", "B", "C"])
    tenths = got.crops[:, 0, 0, 0].astype(float) / 10
    hand = got.hand
    assert set(hand[tenths >= 5.0]) == {HAND_IN, ITEM_OUT}
    assert tenths[hand == HAND_IN].max() < tenths[hand == ITEM_OUT].min()  # in, then out
    assert set(got.product[hand == ITEM_OUT]) == {1} and set(got.product[hand != ITEM_OUT]) == {-1}
    nothing = tenths[hand == NO_HAND]
    assert nothing.size and nothing.max() <= 5.2 - 1.0 and nothing.min() >= 5.2 - 6.0
    assert (hand == NO_HAND).sum() <= (hand != NO_HAND).sum()  # balanced


def test_a_return_is_the_other_way_round_and_an_event_elsewhere_labels_nothing() -> None:
    ring = ring_with_a_reach()
    event = WeightEvent(5.2, 7.4, SHELF, (3,), 120.0, "return", "B", 1, 0.9)
    got = label_event(ring, event, ["A", "B"])
    tenths = got.crops[:, 0, 0, 0].astype(float) / 10
    assert tenths[got.hand == ITEM_OUT].max() < tenths[got.hand == HAND_IN].min()
    assert label_event(ring, pick(plates=(4,)), ["A", "B"]).size == 0  # only a brush in lane 4
    other_shelf = WeightEvent(5.2, 7.4, ShelfId(1, 2), (3,), -120.0, "pick", "B", 1, 0.9)
    assert label_event(ring, other_shelf, ["A", "B"]).size == 0


def test_the_store_writes_crops_files_and_keeps_them_under_the_limit(tmp_path: Path) -> None:
    labelled = label_event(ring_with_a_reach(), pick(), ["A", "B", "C"])
    store = FieldLabelStore(tmp_path / "field", "cam-1", ["A", "B", "C"], max_mb=1.0, batch=10)
    first = store.add(labelled)
    assert first is not None and (tmp_path / "field").stat().st_mode & 0o777 == 0o700
    assert first.stat().st_mode & 0o777 == 0o600
    crops, products = load_crops(first)
    assert products == ["A", "B", "C"] and np.array_equal(crops.hand, labelled.hand)
    old = time_shifted(first, days=31)
    store.add(labelled)
    assert not old.exists() and store.removed == 1  # older than retention_days
    big = tmp_path / "field" / "field-cam-1-1-99.npz"
    big.write_bytes(os.urandom(1_200_000))
    store.add(labelled)
    assert not big.exists()  # the directory went over max_mb: the oldest file went
    assert sum(p.stat().st_size for p in (tmp_path / "field").iterdir()) <= 1e6


def time_shifted(path: Path, days: float) -> Path:
    st = path.stat()
    os.utime(path, (st.st_atime - days * 86400, st.st_mtime - days * 86400))
    return path
