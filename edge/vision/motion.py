"""Motion gating per lane: only lanes where something moved go to the model.

Works on a half-resolution grey copy of the frame against a running background (all buffers
preallocated). A lane is active when at least ``min_fraction`` of its polygon changed. A change over
most of the frame is a lighting change, not a hand: the background is reset and no lane fires.

Each lane also has a picture of itself without a hand, learned on site: a slow average of the lane
taken only while it has been still for ``idle_frames`` and no visit is open in it (every
``empty_every`` frames, so it costs little). :meth:`MotionGate.lane_changed` says whether the lane
now differs from that picture: after a hand left, "something changed in the lane" (an item gone or
put back) is a signal that does not depend on the lane model.

How deep the motion went (issue 17: shoppers passing in front of the shelf were most of the false
interactions): for each lane with motion, :attr:`MotionGate.depth` is how far into the lane, from its
aisle edge (``aisle_side``) towards the shelf's back, the deepest moving row (or column) lies, as a
share of the lane's extent (0 at the aisle edge, 1 at the back). A hand reaching for a product goes
deep; a shopper's back or a trolley passing in the aisle only grazes the aisle edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from edge.vision.lanes import LaneLayout

AisleSide = Literal["bottom", "top", "left", "right"]
#: Moving pixels a row (or column) of a lane needs to count for the depth (one is noise).
DEPTH_MIN_PIXELS = 2


@dataclass(slots=True)
class MotionGate:
    layout: LaneLayout
    threshold: int = 18
    min_fraction: float = 0.02
    lighting_fraction: float = 0.5
    learn_rate: float = 0.08
    idle_frames: int = 10
    empty_every: int = 5
    empty_rate: float = 0.2  # per update: the picture follows a still lane within ~2.5 s at 10 fps
    changed_fraction: float = 0.03  # of the lane's pixels, to count as changed
    #: The picture's side where people stand (hands come in from there).
    aisle_side: AisleSide = "bottom"
    lighting_resets: int = 0
    #: Per lane, for the last frame: how deep into the lane motion reached (0 when it did not move).
    depth: list[float] = field(init=False)
    _grey: np.ndarray = field(init=False)
    _small: np.ndarray = field(init=False)
    _background: np.ndarray = field(init=False)
    _diff: np.ndarray = field(init=False)
    _mask: np.ndarray = field(init=False)
    _bg8: np.ndarray = field(init=False)
    _scratch: list[np.ndarray] = field(init=False)
    _boxes: list[tuple[int, int, int, int]] = field(init=False)
    _masks: list[np.ndarray] = field(init=False)
    _areas: list[int] = field(init=False)
    _empty: np.ndarray = field(init=False)
    _idle: list[int] = field(init=False)
    _frame_no: int = 0
    _primed: bool = False

    def __post_init__(self) -> None:
        w, h = self.layout.width // 2, self.layout.height // 2
        self._grey = np.zeros((self.layout.height, self.layout.width), np.uint8)
        self._small = np.zeros((h, w), np.uint8)
        self._background = np.zeros((h, w), np.float32)
        self._diff = np.zeros((h, w), np.uint8)
        self._mask = np.zeros((h, w), np.uint8)
        self._bg8 = np.zeros((h, w), np.uint8)
        self._empty = np.zeros((h, w), np.float32)
        self._idle = [0] * len(self.layout.boxes)
        self.depth = [0.0] * len(self.layout.boxes)
        self._boxes, self._masks, self._areas, self._scratch = [], [], [], []
        for (x0, y0, x1, y1), mask in zip(self.layout.boxes, self.layout.masks, strict=True):
            box = (x0 // 2, y0 // 2, max(x0 // 2 + 1, x1 // 2), max(y0 // 2 + 1, y1 // 2))
            small = cv2.resize(mask, (box[2] - box[0], box[3] - box[1]), interpolation=cv2.INTER_NEAREST)
            self._boxes.append(box)
            self._masks.append(small)
            self._scratch.append(np.zeros_like(small))
            self._areas.append(max(1, int(cv2.countNonZero(small))))

    def update(self, frame: np.ndarray, busy: frozenset[int] | set[int] = frozenset()) -> list[int]:
        """Feed a BGR frame; returns the indices of lanes with motion. ``busy`` lanes have a visit
        open: their picture without a hand is not updated."""
        if frame.shape[0] != self.layout.height or frame.shape[1] != self.layout.width:
            raise ValueError(
                f"frame is {frame.shape[1]}x{frame.shape[0]}, lanes are set for {self.layout.width}x{self.layout.height}"
            )
        cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY, dst=self._grey)
        cv2.resize(
            self._grey,
            (self._small.shape[1], self._small.shape[0]),
            dst=self._small,
            interpolation=cv2.INTER_AREA,
        )
        cv2.GaussianBlur(self._small, (5, 5), 0, dst=self._small)
        if not self._primed:
            self._background[:] = self._small
            self._empty[:] = self._small
            self._primed = True
            return []
        cv2.convertScaleAbs(self._background, dst=self._bg8)
        cv2.absdiff(self._small, self._bg8, dst=self._diff)
        cv2.threshold(self._diff, self.threshold, 255, cv2.THRESH_BINARY, dst=self._mask)
        changed = cv2.countNonZero(self._mask) / self._mask.size
        if changed > self.lighting_fraction:
            self.depth = [0.0] * len(self._boxes)
            self._background[:] = self._small
            self._empty[:] = self._small  # the lighting changed: so did every lane's picture
            self.lighting_resets += 1
            return []
        active = []
        for i, ((x0, y0, x1, y1), lane_mask) in enumerate(zip(self._boxes, self._masks, strict=True)):
            region = self._mask[y0:y1, x0:x1]
            moved = cv2.countNonZero(cv2.bitwise_and(region, lane_mask, dst=self._scratch[i]))
            if moved >= self.min_fraction * self._areas[i]:
                active.append(i)
                self._idle[i] = 0
                self.depth[i] = self._depth(self._scratch[i])
            else:
                self._idle[i] += 1
                self.depth[i] = 0.0
        cv2.accumulateWeighted(self._small, self._background, self.learn_rate)
        self._frame_no += 1
        if self._frame_no % self.empty_every == 0:
            for i, ((x0, y0, x1, y1), lane_mask) in enumerate(zip(self._boxes, self._masks, strict=True)):
                if self._idle[i] >= self.idle_frames and i not in busy:
                    cv2.accumulateWeighted(
                        self._small[y0:y1, x0:x1], self._empty[y0:y1, x0:x1], self.empty_rate, mask=lane_mask
                    )
        return active

    def _depth(self, moving: np.ndarray) -> float:
        """How far from the aisle edge the deepest row/column with motion lies (0-1) in a lane's
        moving-pixel mask."""
        across = 1 if self.aisle_side in ("bottom", "top") else 0
        hits = np.flatnonzero(np.count_nonzero(moving, axis=across) >= DEPTH_MIN_PIXELS)
        if hits.size == 0:
            return 0.0
        extent = int(moving.shape[0] if across == 1 else moving.shape[1])
        if self.aisle_side in ("bottom", "right"):
            return float(extent - int(hits[0])) / extent
        return float(int(hits[-1]) + 1) / extent

    def lane_changed(self, i: int) -> bool:
        """Whether lane ``i`` of the last frame differs from its picture without a hand."""
        x0, y0, x1, y1 = self._boxes[i]
        empty = cv2.convertScaleAbs(self._empty[y0:y1, x0:x1])
        diff = cv2.absdiff(self._small[y0:y1, x0:x1], empty)
        _, mask = cv2.threshold(diff, self.threshold, 255, cv2.THRESH_BINARY)
        moved = cv2.countNonZero(cv2.bitwise_and(mask, self._masks[i]))
        return moved >= self.changed_fraction * self._areas[i]
