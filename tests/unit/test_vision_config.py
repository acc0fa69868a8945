"""The [[cameras]] configuration section: lanes as polygons mapped to gondola/shelf/plate."""

from __future__ import annotations

import pytest

from edge.config import parse_config
from edge.errors import ConfigError
from edge.vision.stage import layout_of
from tests.support.configs import IDENTITY

LANE = {"gondola": 1, "shelf": 2, "plate": 3, "polygon": [[10, 28], [60, 28], [60, 174], [10, 174]]}


def camera(**over: object) -> dict[str, object]:
    return {"camera_id": "cam-1", "source": "http://10.0.0.5/stream.mjpg", "lanes": [LANE], **over}


def test_a_camera_with_lanes_is_valid_and_builds_its_layout() -> None:
    config = parse_config({"gateway": IDENTITY, "cameras": [camera()]})
    section = config.cameras[0]
    assert (section.width, section.height, section.fps, section.debug_snapshots) == (320, 240, 15.0, False)
    layout = layout_of(section)
    assert layout.boxes == ((10, 28, 61, 175),)
    assert layout.lanes[0].plate == 3 and str(layout.lanes[0].shelf) == "g1/s2"


def test_polygon_outside_the_frame_names_the_lane() -> None:
    bad = {**LANE, "polygon": [[10, 28], [400, 28], [60, 174]]}
    with pytest.raises(ConfigError, match=r"lanes\[0\] point \(400, 28\) is outside the 320x240 frame"):
        parse_config({"gateway": IDENTITY, "cameras": [camera(lanes=[bad])]})


@pytest.mark.parametrize(
    ("over", "where"),
    [
        ({"lanes": []}, "cameras.0.lanes"),
        ({"lanes": [{**LANE, "polygon": [[1, 1], [2, 2]]}]}, "cameras.0.lanes.0.polygon"),
        ({"camera_id": "cam 1"}, "cameras.0.camera_id"),
        ({"fps": 0}, "cameras.0.fps"),
        ({"zoom": 2}, "cameras.0.zoom"),
    ],
)
def test_bad_camera_settings_are_reported_by_path(over: dict[str, object], where: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"gateway": IDENTITY, "cameras": [camera(**over)]})
    assert any(issue.path == where for issue in err.value.issues)


def test_lanes_from_a_calibrated_camera_and_the_plates_3d_corners() -> None:
    """A camera 1.2 m in front of the shelf front, looking straight at it: each plate's region is a
    0.2 m x 0.3 m rectangle at z = 0 and projects to the rectangle the pinhole model says."""
    from pydantic import ValidationError

    from edge.config_camera import CameraSection

    f = 200.0
    calibration = {
        "camera_matrix": [[f, 0, 160], [0, f, 120], [0, 0, 1]],
        "dist_coeffs": [0, 0, 0, 0, 0],
        "rvec": [0, 0, 0],
        "tvec": [0, 0, 1.2],
    }
    lanes = [
        {
            "gondola": 1,
            "shelf": 1,
            "plate": p,
            "corners_3d": [[x0, -0.15, 0], [x0 + 0.2, -0.15, 0], [x0 + 0.2, 0.15, 0], [x0, 0.15, 0]],
        }
        for p, x0 in ((1, -0.4), (2, -0.2), (3, 0.0))
    ]
    cam = CameraSection(camera_id="cam-1", source="0", lanes=lanes, calibration=calibration)
    xs = [sorted({x for x, _ in lane.polygon}) for lane in cam.lanes]
    ys = sorted({y for _, y in cam.lanes[0].polygon})
    assert xs == [[93, 127], [127, 160], [160, 193]]  # 160 + 200 * x / 1.2
    assert ys == [95, 145]  # 120 -/+ 200 * 0.15 / 1.2
    bad = dict(lanes[0], corners_3d=[[0, 0, -2], [0.2, 0, -2], [0.2, 0.3, -2]])
    with pytest.raises(ValidationError, match=r"lanes\[0\] corners_3d: 3 corner\(s\) are behind the camera"):
        CameraSection(camera_id="cam-1", source="0", lanes=[bad], calibration=calibration)
    with pytest.raises(
        ValidationError, match=r"lanes\[0\] gives corners_3d but the camera has no calibration"
    ):
        CameraSection(camera_id="cam-1", source="0", lanes=lanes[:1])
    with pytest.raises(
        ValidationError, match=r"lanes\[0\] needs a polygon of 3 or more points, or corners_3d"
    ):
        CameraSection(camera_id="cam-1", source="0", lanes=[{"gondola": 1, "shelf": 1, "plate": 1}])
