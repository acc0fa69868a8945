"""Lane geometry: polygons in the camera frame, their crops for the model, their motion masks.

A lane is the region of a camera frame in front of one plate of one shelf. The model sees each lane
as a fixed-size crop of the lane polygon's bounding box (``CROP_SIZE`` square, stretched), so that a
lane of any shape costs the same. Crops are written into preallocated arrays: no per-frame
allocation of images.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.events import ShelfId

CROP_SIZE = 64


@dataclass(frozen=True, slots=True)
class Lane:
    """One lane: its polygon (frame pixels) and the plate it looks at."""

    name: str
    shelf: ShelfId
    plate: int
    polygon: tuple[tuple[int, int], ...]

    def bbox(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the polygon, clipped to the frame; x1/y1 exclusive."""
        xs = [p[0] for p in self.polygon]
        ys = [p[1] for p in self.polygon]
        x0, y0 = max(0, min(xs)), max(0, min(ys))
        x1, y1 = min(width, max(xs) + 1), min(height, max(ys) + 1)
        if x1 - x0 < 4 or y1 - y0 < 4:
            raise ValueError(f"lane {self.name}: polygon {self.polygon} is outside a {width}x{height} frame")
        return x0, y0, x1, y1


@dataclass(slots=True)
class LaneLayout:
    """The lanes of one camera at one resolution, with their precomputed boxes and masks."""

    lanes: tuple[Lane, ...]
    width: int
    height: int
    boxes: tuple[tuple[int, int, int, int], ...] = ()
    masks: tuple[np.ndarray, ...] = ()

    def __post_init__(self) -> None:
        if not self.lanes:
            raise ValueError("a camera needs at least one lane")
        self.boxes = tuple(lane.bbox(self.width, self.height) for lane in self.lanes)
        masks = []
        for lane, (x0, y0, x1, y1) in zip(self.lanes, self.boxes, strict=True):
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            pts = np.array([(x - x0, y - y0) for x, y in lane.polygon], np.int32)
            cv2.fillPoly(mask, [pts], 255)
            masks.append(mask)
        self.masks = tuple(masks)

    def crop(self, frame: np.ndarray, index: int, out: np.ndarray) -> np.ndarray:
        """Resize lane ``index`` of a BGR ``frame`` into ``out`` (CROP_SIZE x CROP_SIZE x 3 uint8)."""
        x0, y0, x1, y1 = self.boxes[index]
        cv2.resize(frame[y0:y1, x0:x1], (out.shape[1], out.shape[0]), dst=out, interpolation=cv2.INTER_AREA)
        return out


def to_tensor(crops: np.ndarray, out: np.ndarray) -> np.ndarray:
    """BGR uint8 crops [N, H, W, 3] -> RGB float32 [N, 3, H, W] in [0, 1], written into ``out``."""
    n = crops.shape[0]
    view = out[:n]
    # channel 2 (R in BGR) goes first: RGB order as the contract says.
    np.multiply(crops[..., ::-1].transpose(0, 3, 1, 2), np.float32(1.0 / 255.0), out=view, casting="unsafe")
    return view


def grid_lanes(
    shelf: ShelfId,
    width: int,
    height: int,
    count: int,
    top: int,
    bottom: int,
    margin_x: int = 10,
    first_plate: int = 1,
) -> list[Lane]:
    """``count`` equal side-by-side rectangular lanes (the simulator camera's layout)."""
    lane_w = (width - 2 * margin_x) / count
    lanes = []
    for i in range(count):
        x0 = round(margin_x + i * lane_w)
        x1 = round(margin_x + (i + 1) * lane_w)
        poly = ((x0, top), (x1, top), (x1, bottom), (x0, bottom))
        lanes.append(Lane(f"{shelf}/p{first_plate + i}", shelf, first_plate + i, poly))
    return lanes
