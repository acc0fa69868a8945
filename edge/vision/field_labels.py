"""Field labels: the shelf's weight events label the lane crops around them, on the gateway.

The lane model has only seen the simulator's renders; a store's own cameras look different. The load
cells know when something was taken or put back, and on which plate, so each weight event labels
the camera's lane crops around it (``edge/vision/crops_file.py`` labels):

- **hand in** (1, empty hand) and **item out** (2, hand holding the event's product): crops of the
  event's lanes (lanes looking at a plate whose weight changed) in which motion reached into the
  lane (``reach_depth``) during the event. For a pick the first half of those crops (by time) is
  "hand in" and the second "item out"; for a return the other way round.
- **nothing** (0): crops of the same lanes, still, in the seconds before the event.

Crops come from a short ring of recent lane crops the camera stage fills (:class:`CropRing`), taken
every ``every`` frames: a weight event reaches the gateway after it ended, so the ring holds the
last ``keep_s`` seconds. Only lane crops (64x64 of the lane's box) are kept, never a frame; they
are written by :class:`edge.vision.field_store.FieldLabelStore` and never leave the gateway.

``label_event`` is a pure function of the ring's contents and the event.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from edge.events import WeightEvent
from edge.vision.lanes import CROP_SIZE, LaneLayout

NO_HAND, HAND_IN, ITEM_OUT = 0, 1, 2


@dataclass(frozen=True, slots=True)
class LabelParams:
    #: Before the event's start, the window in which still crops of its lanes are "nothing".
    before_s: tuple[float, float] = (6.0, 1.0)
    #: Slack around the event's window for the hand crops (the hand is in before the weight moves).
    slack_s: float = 0.7
    #: Motion depth a crop needs to count as a hand in the lane (as TrackerParams.reach_depth).
    reach_depth: float = 0.35
    #: At most this many "nothing" crops per hand crop of the event (keeps the classes balanced).
    nothing_per_hand: float = 1.0


@dataclass(frozen=True, slots=True)
class Labelled:
    """Crops labelled by one weight event, in the crops-file layout (product: catalogue index)."""

    crops: np.ndarray  # [n, 64, 64, 3] uint8 BGR
    hand: np.ndarray  # [n] int64
    product: np.ndarray  # [n] int64, -1 when not holding or the product is not in the catalogue

    @property
    def size(self) -> int:
        return int(self.hand.shape[0])


@dataclass(slots=True)
class CropRing:
    """The last ``slots`` sampled frames' lane crops, with when they were taken and how each lane moved."""

    layout: LaneLayout
    slots: int
    every: int = 3
    crops: np.ndarray = field(init=False)
    times: np.ndarray = field(init=False)
    depth: np.ndarray = field(init=False)
    _next: int = 0
    _frames: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        n = len(self.layout.lanes)
        self.crops = np.zeros((self.slots, n, CROP_SIZE, CROP_SIZE, 3), np.uint8)
        self.times = np.full(self.slots, -np.inf)
        self.depth = np.zeros((self.slots, n), np.float32)

    def push(self, t: float, frame: np.ndarray, depth: Sequence[float]) -> None:
        """Offer one frame (every ``every``-th is kept); ``depth`` per lane (0 when it did not move)."""
        self._frames += 1
        if self._frames % self.every:
            return
        with self._lock:
            slot = self._next
            for lane in range(len(self.layout.lanes)):
                self.layout.crop(frame, lane, self.crops[slot, lane])
            self.depth[slot] = depth
            self.times[slot] = t
            self._next = (slot + 1) % self.slots

    def snapshot(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of (times, depth, crops) of the kept frames taken in [t0, t1], oldest first."""
        with self._lock:
            idx = np.flatnonzero((self.times >= t0) & (self.times <= t1))
            idx = idx[np.argsort(self.times[idx], kind="stable")]
            return self.times[idx].copy(), self.depth[idx].copy(), self.crops[idx].copy()


def event_lanes(layout: LaneLayout, event: WeightEvent) -> list[int]:
    """Lanes of ``layout`` that look at a plate of ``event`` (same shelf)."""
    return [
        i for i, lane in enumerate(layout.lanes) if lane.shelf == event.shelf and lane.plate in event.plates
    ]


def label_event(
    ring: CropRing, event: WeightEvent, catalogue: Sequence[str], params: LabelParams = LabelParams()
) -> Labelled:
    """The crops ``event`` labels (see the module's docstring); empty when none of its lanes moved."""
    empty = Labelled(
        np.zeros((0, CROP_SIZE, CROP_SIZE, 3), np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int64)
    )
    lanes = event_lanes(ring.layout, event)
    if not lanes or event.kind not in ("pick", "return"):
        return empty
    times, depth, crops = ring.snapshot(event.t_start - params.before_s[0], event.t_end + params.slack_s)
    during = (times >= event.t_start - params.slack_s)[:, None] & (depth[:, lanes] >= params.reach_depth)
    rows, cols = np.nonzero(during)
    if rows.size == 0:
        return empty
    hand_times = times[rows]
    middle = (hand_times.min() + hand_times.max()) / 2
    late = hand_times > middle
    first, second = (HAND_IN, ITEM_OUT) if event.kind == "pick" else (ITEM_OUT, HAND_IN)
    hand = np.where(late, second, first).astype(np.int64)
    index = {p: i for i, p in enumerate(catalogue)}
    held = index.get(event.product_id, -1) if event.product_id is not None else -1
    product = np.where(hand == ITEM_OUT, held, -1).astype(np.int64)
    picked = [crops[rows, np.asarray(lanes)[cols]]]
    still = (times <= event.t_start - params.before_s[1])[:, None] & (depth[:, lanes] == 0.0)
    s_rows, s_cols = np.nonzero(still)
    keep = int(params.nothing_per_hand * rows.size)
    if s_rows.size > keep:  # evenly spread over the window, not only its start
        pick = np.linspace(0, s_rows.size - 1, keep).round().astype(np.int64)
        s_rows, s_cols = s_rows[pick], s_cols[pick]
    picked.append(crops[s_rows, np.asarray(lanes)[s_cols]])
    nothing = np.full(s_rows.size, NO_HAND, np.int64)
    return Labelled(
        np.concatenate(picked),
        np.concatenate([hand, nothing]),
        np.concatenate([product, np.full(s_rows.size, -1, np.int64)]),
    )
