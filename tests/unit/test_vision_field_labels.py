"""Field labels: a weight event labels the lane crops around it; the store keeps them under a limit."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from edge.config_camera import CameraSection
from edge.events import ShelfId, WeightEvent
from edge.vision.crops_file import load_crops
from edge.vision.field_labels import HAND_IN, ITEM_OUT, NO_HAND, CropRing, label_event
from edge.vision.field_store import FieldLabelStore
from edge.vision.lanes import LaneLayout, grid_lanes
from edge.vision.stage import CameraStage

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
    writing = store.add(labelled)
    assert writing is not None and (tmp_path / "field").stat().st_mode & 0o777 == 0o700
    first = writing.result()
    assert first.stat().st_mode & 0o777 == 0o600
    crops, products = load_crops(first)
    assert products == ["A", "B", "C"] and np.array_equal(crops.hand, labelled.hand)
    old = time_shifted(first, days=31)
    written(store.add(labelled))
    assert not old.exists() and store.removed == 1  # older than retention_days
    big = tmp_path / "field" / "field-cam-1-1-99.npz"
    big.write_bytes(os.urandom(1_200_000))
    written(store.add(labelled))
    assert not big.exists()  # the directory went over max_mb: the oldest file went
    assert sum(p.stat().st_size for p in (tmp_path / "field").iterdir()) <= 1e6


def written(write: Future[Path] | None) -> Path:
    assert write is not None
    return write.result()


@contextmanager
def busy_writer() -> Iterator[tuple[ThreadPoolExecutor, threading.Event]]:
    """A one-thread writer kept busy until the test sets the event (set at the end in any case)."""
    gate = threading.Event()
    with ThreadPoolExecutor(1) as writer:
        try:
            writer.submit(gate.wait)
            yield writer, gate
        finally:
            gate.set()


def test_crops_files_are_written_by_the_writer_not_the_caller(tmp_path: Path) -> None:
    """The camera stage calls ``add`` on the daemon's event loop: a full batch goes to the writer
    (here an executor held busy until the test lets it go), ``add`` returns at once."""
    labelled = label_event(ring_with_a_reach(), pick(), ["A", "B", "C"])
    with busy_writer() as (writer, gate):
        store = FieldLabelStore(tmp_path / "field", "cam-1", ["A", "B", "C"], batch=10, executor=writer)
        writing = store.add(labelled)
        assert writing is not None and not writing.done()
        assert list((tmp_path / "field").iterdir()) == [] and store.in_flight() == [writing]
        gate.set()
        path = writing.result()
    assert path.stat().st_mode & 0o777 == 0o600 and store.written == labelled.size == store.labelled
    assert store.in_flight() == []


def test_a_stopping_camera_writes_every_gathered_crop_before_it_ends(tmp_path: Path) -> None:
    """Fewer crops than a batch are gathered when the camera stops: ``stop`` hands them to the writer
    without writing on the event loop, and ``run`` ends only once they are written."""
    labelled = label_event(ring_with_a_reach(), pick(), ["A", "B", "C"])
    lane = {"gondola": 1, "shelf": 1, "plate": 3, "polygon": [[0, 0], [60, 0], [60, 60], [0, 60]]}
    # a camera whose video file is not there: its stage reads no frame, stopped or not
    section = CameraSection.model_validate(
        {"camera_id": "cam-1", "source": str(tmp_path / "none.avi"), "lanes": [lane]}
    )
    with busy_writer() as (writer, gate):
        stage = CameraStage(section)
        stage.enable_field_labels(
            FieldLabelStore(tmp_path / "field", "cam-1", ["A", "B", "C"], executor=writer)
        )
        assert stage.labels is not None and stage.labels.add(labelled) is None  # under a batch: kept

        async def main() -> None:
            stage.stop()
            assert list((tmp_path / "field").iterdir()) == []  # nothing written on the loop
            ending = asyncio.create_task(stage.run(lambda _: None))
            gate.set()
            await ending

        asyncio.run(main())
        (path,) = (tmp_path / "field").iterdir()
    crops, _ = load_crops(path)
    assert np.array_equal(crops.hand, labelled.hand)


def time_shifted(path: Path, days: float) -> Path:
    st = path.stat()
    os.utime(path, (st.st_atime - days * 86400, st.st_mtime - days * 86400))
    return path
