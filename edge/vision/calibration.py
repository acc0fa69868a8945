"""Lanes from a camera's calibration and the plates' 3-D positions, instead of drawn polygons.

A technician who has calibrated a camera (intrinsics: ``camera_matrix`` and ``dist_coeffs`` from
OpenCV's calibrateCamera; extrinsics: ``rvec`` and ``tvec`` taking the store's shelf coordinates into
the camera's, e.g. from solvePnP on four marked points) can give each lane as the 3-D corners of the
region in front of its plate (the facings and the price rail, in metres, in the same shelf
coordinates). :func:`project_lane` projects them into the picture with ``cv2.projectPoints`` and
takes their convex hull as the lane polygon.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


class LaneProjectionError(ValueError):
    """A lane's 3-D corners do not make a lane in the picture (behind the camera, outside, too small)."""


def project_lane(
    corners: Sequence[tuple[float, float, float]],
    camera_matrix: Sequence[Sequence[float]],
    dist_coeffs: Sequence[float],
    rvec: Sequence[float],
    tvec: Sequence[float],
    width: int,
    height: int,
) -> list[tuple[int, int]]:
    """The lane polygon (pixels, clipped to the ``width`` x ``height`` picture) of 3-D ``corners``."""
    points = np.asarray(corners, np.float64).reshape(-1, 3)
    k = np.asarray(camera_matrix, np.float64).reshape(3, 3)
    r = np.asarray(rvec, np.float64).reshape(3, 1)
    t = np.asarray(tvec, np.float64).reshape(3, 1)
    rotation, _ = cv2.Rodrigues(r)
    depth = (points @ rotation.T + t.T)[:, 2]
    if (depth <= 0).any():
        raise LaneProjectionError(f"{int((depth <= 0).sum())} corner(s) are behind the camera")
    pixels, _ = cv2.projectPoints(points, r, t, k, np.asarray(dist_coeffs, np.float64))
    hull = cv2.convexHull(pixels.reshape(-1, 2).astype(np.float32)).reshape(-1, 2)
    clipped = np.clip(np.round(hull), [0, 0], [width, height]).astype(np.int64)
    polygon = [(int(x), int(y)) for x, y in clipped]
    area = cv2.contourArea(clipped.astype(np.float32))
    if len(polygon) < 3 or area < 16:
        raise LaneProjectionError(
            f"the corners project to {polygon}, not a lane inside the {width}x{height} picture"
        )
    return polygon
