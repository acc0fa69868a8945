"""Motion gating per lane: only lanes where something moved go to the model.

Works on a half-resolution grey copy of the frame against a running background (all buffers
preallocated). A lane is active when at least ``min_fraction`` of its polygon changed. A change over
most of the frame is a lighting change, not a hand: the background is reset and no lane fires.

Each lane also has a picture of itself without a hand, learned on site: a slow average of the lane
taken only while it has been still for ``idle_frames`` and no visit is open in it (every
``empty_every`` frames, so it costs little). :meth:`MotionGate.lane_changed` says whether the lane
now differs from that picture: after a hand left, "something changed in the lane" (an item gone or
put back) is a signal that does not depend on the lane model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.vision.lanes import LaneLayout


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
    lighting_resets: int = 0
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
            else:
                self._idle[i] += 1
        cv2.accumulateWeighted(self._small, self._background, self.learn_rate)
        self._frame_no += 1
        if self._frame_no % self.empty_every == 0:
            for i, ((x0, y0, x1, y1), lane_mask) in enumerate(zip(self._boxes, self._masks, strict=True)):
                if self._idle[i] >= self.idle_frames and i not in busy:
                    cv2.accumulateWeighted(
                        self._small[y0:y1, x0:x1], self._empty[y0:y1, x0:x1], self.empty_rate, mask=lane_mask
                    )
        return active

    def lane_changed(self, i: int) -> bool:
        """Whether lane ``i`` of the last frame differs from its picture without a hand."""
        x0, y0, x1, y1 = self._boxes[i]
        empty = cv2.convertScaleAbs(self._empty[y0:y1, x0:x1])
        diff = cv2.absdiff(self._small[y0:y1, x0:x1], empty)
        _, mask = cv2.threshold(diff, self.threshold, 255, cv2.THRESH_BINARY)
        moved = cv2.countNonZero(cv2.bitwise_and(mask, self._masks[i]))
        return moved >= self.changed_fraction * self._areas[i]
