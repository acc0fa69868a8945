"""The ``[[cameras]]`` sections of the gateway's config: lanes, calibration and each camera's settings.

Part of :mod:`edge.config` (which re-exports these classes); kept apart so each module stays short.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge.settings_base import Section


class LaneSection(Section):
    gondola: int = Field(ge=0, description="Gondola of the plate this lane looks at.")
    shelf: int = Field(ge=0, description="Shelf of the plate this lane looks at.")
    plate: int = Field(ge=0, description="Plate (load cell) this lane looks at.")
    polygon: list[tuple[int, int]] = Field(
        default_factory=list,
        description="Lane region in frame pixels at the camera's resolution, as [[x, y], ...] (3+ points); "
        "or give corners_3d and the camera's calibration.",
    )
    corners_3d: list[tuple[float, float, float]] | None = Field(
        None,
        min_length=3,
        description="Instead of polygon: 3-D corners (metres, shelf coordinates) of the region in front "
        "of the plate; projected with the camera's calibration (edge/vision/calibration.py).",
    )

    @field_validator("polygon")
    @classmethod
    def _three_points(cls, value: list[tuple[int, int]]) -> list[tuple[int, int]]:
        if 0 < len(value) < 3:
            raise ValueError(f"a polygon needs 3 or more points, has {len(value)}")
        return value


class CalibrationSection(Section):
    camera_matrix: tuple[
        tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]
    ] = Field(description="Intrinsics: the 3x3 camera matrix (OpenCV calibrateCamera) at width x height.")
    dist_coeffs: list[float] = Field(
        default_factory=list, max_length=14, description="Lens distortion coefficients (OpenCV order)."
    )
    rvec: tuple[float, float, float] = Field(
        description="Extrinsics: rotation (Rodrigues vector) from shelf coordinates to the camera's."
    )
    tvec: tuple[float, float, float] = Field(
        description="Extrinsics: translation (metres) from shelf coordinates to the camera's."
    )


class CameraSection(Section):
    camera_id: str = Field(
        pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Camera identifier used in events and logs."
    )
    source: str = Field(
        description="Device index ('0'), video file path, or stream URL (rtsp://..., http://.../stream.mjpg)."
    )
    width: int = Field(
        320, ge=32, le=3840, description="Frame width the lanes are drawn for; frames are resized to it."
    )
    height: int = Field(240, ge=32, le=2160, description="Frame height the lanes are drawn for.")
    fps: float = Field(15.0, gt=0, le=120, description="Nominal frame rate (drops are counted against it).")
    lanes: list[LaneSection] = Field(
        min_length=1, description="Lanes: polygons mapped to gondola/shelf/plate."
    )
    model: Path | None = Field(
        None,
        description="ONNX lane model (picks or YOLO contract); the bundled models/picks/picks.onnx when absent.",
    )
    motion_threshold: int = Field(18, ge=1, le=255, description="Grey-level change that counts as motion.")
    motion_min_fraction: float = Field(
        0.02, gt=0, le=1, description="Share of a lane's pixels that must change to send it to the model."
    )
    aisle_side: Literal["bottom", "top", "left", "right"] = Field(
        "bottom",
        description="Side of the picture where shoppers stand (hands reach into the lanes from there).",
    )
    reach_depth: float = Field(
        0.35,
        ge=0,
        le=1,
        description="How far into a lane, from its aisle edge, motion must reach for an interaction to "
        "count (share of the lane's depth; a shopper passing in the aisle does not reach it).",
    )
    field_labels_dir: Path | None = Field(
        None,
        description="Keep lane crops labelled by weight events here for fine-tuning the lane model "
        "(crops only, never frames, never sent; off when absent). See edge/vision/README.md.",
    )
    field_labels_max_mb: float = Field(
        200.0, gt=0, description="Most megabytes of field-label files kept; the oldest go first."
    )
    field_labels_days: float = Field(30.0, gt=0, description="Field-label files older than this are deleted.")
    debug_snapshots: bool = Field(
        False,
        description="Write blurred snapshots of interactions to snapshot_dir (off: no frame is ever stored).",
    )
    snapshot_dir: Path | None = Field(
        None, description="Where debug snapshots go (default: <data_dir>/snapshots)."
    )

    calibration: CalibrationSection | None = Field(
        None, description="Intrinsics and extrinsics, for lanes given by corners_3d instead of polygon."
    )

    @model_validator(mode="after")
    def _inside_frame(self) -> CameraSection:
        lanes = []
        for i, lane in enumerate(self.lanes):
            if lane.corners_3d is not None:  # the projection wins over a polygon given too
                lane = lane.model_copy(update={"polygon": self._project(i, lane.corners_3d)})
            elif len(lane.polygon) < 3:
                raise ValueError(f"lanes[{i}] needs a polygon of 3 or more points, or corners_3d")
            lanes.append(lane)
        object.__setattr__(self, "lanes", lanes)  # projected polygons in place (a frozen section)
        for i, lane in enumerate(self.lanes):
            for x, y in lane.polygon:
                if not (0 <= x <= self.width and 0 <= y <= self.height):
                    raise ValueError(
                        f"lanes[{i}] point ({x}, {y}) is outside the {self.width}x{self.height} frame"
                    )
        return self

    def _project(self, i: int, corners: list[tuple[float, float, float]]) -> list[tuple[int, int]]:
        from edge.vision.calibration import LaneProjectionError, project_lane

        c = self.calibration
        if c is None:
            raise ValueError(f"lanes[{i}] gives corners_3d but the camera has no calibration")
        try:
            return project_lane(
                corners, c.camera_matrix, c.dist_coeffs, c.rvec, c.tvec, self.width, self.height
            )
        except LaneProjectionError as exc:
            raise ValueError(f"lanes[{i}] corners_3d: {exc}") from None
