"""Debug snapshots, off by default: blurred, kept on the gateway, few, and announced in the logs.

With ``debug_snapshots = true`` the camera stage writes one JPEG per interaction so a technician can
check lane polygons. Everything outside the lane polygons (the aisle, where people stand) is
pixelated and blurred beyond recognition; inside the lanes only shelves and hands are visible. At
most ``keep`` files are kept (oldest deleted). Frames are never sent anywhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.events import LaneInteraction
from edge.vision.lanes import LaneLayout

log = logging.getLogger(__name__)


def blur_outside_lanes(frame: np.ndarray, layout: LaneLayout) -> np.ndarray:
    """A copy of ``frame`` with everything outside the lane polygons pixelated and blurred."""
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (max(1, w // 16), max(1, h // 16)), interpolation=cv2.INTER_AREA)
    hidden = cv2.GaussianBlur(cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST), (31, 31), 0)
    mask = np.zeros((h, w), np.uint8)
    for lane in layout.lanes:
        cv2.fillPoly(mask, [np.array(lane.polygon, np.int32)], 255)
    out = np.where(mask[..., None] > 0, frame, hidden)
    for lane in layout.lanes:
        cv2.polylines(out, [np.array(lane.polygon, np.int32)], True, (0, 255, 255), 1)
        x, y = lane.polygon[0]
        cv2.putText(out, f"p{lane.plate}", (x + 2, y + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 255, 255), 1)
    cv2.putText(out, "BLURRED DEBUG SNAPSHOT", (4, h - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 255), 1)
    return out


@dataclass(slots=True)
class SnapshotWriter:
    camera: str
    directory: Path
    layout: LaneLayout
    keep: int = 50
    written: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        log.warning(
            "camera %s: DEBUG SNAPSHOTS ARE ON: blurred frames of interactions are written to %s "
            "(outside the lanes blurred; at most %d kept; never sent). Turn debug_snapshots off after use.",
            self.camera,
            self.directory,
            self.keep,
        )

    def write(self, frame: np.ndarray, interaction: LaneInteraction) -> Path:
        name = f"{self.camera}-{interaction.t_end:.3f}-p{interaction.plate}-{interaction.kind}.jpg"
        path = self.directory / name
        cv2.imwrite(str(path), blur_outside_lanes(frame, self.layout), [cv2.IMWRITE_JPEG_QUALITY, 85])
        self.written.append(path)
        while len(self.written) > self.keep:
            self.written.pop(0).unlink(missing_ok=True)
        log.info("camera %s: blurred debug snapshot %s", self.camera, path)
        return path
