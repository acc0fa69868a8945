"""Training data for the picks model: lane crops of frames rendered by the simulator's camera.

Each sample is one lane crop (the same crop the gateway makes, edge.vision.lanes) with two labels:
the hand state (0 no hand, 1 empty hand, 2 hand holding an item) and, when holding, which product.
Frames go through a JPEG round trip at a random quality, as they do on an MJPEG or RTSP camera.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import cv2
import numpy as np

from edge.events import ShelfId
from edge.vision.lanes import CROP_SIZE, LaneLayout, grid_lanes
from simulators.camera.scenario import CameraScenario, ScenarioPlayer, build_scenario


@dataclass(frozen=True, slots=True)
class CropSet:
    crops: np.ndarray  # [N, CROP_SIZE, CROP_SIZE, 3] uint8 BGR
    hand: np.ndarray  # [N] int64: 0 none, 1 empty, 2 holding
    product: np.ndarray  # [N] int64: product index, -1 when not holding


def scenario_layout(scenario: CameraScenario) -> LaneLayout:
    """The lanes of the simulator camera as a technician would configure them."""
    g = scenario.geometry
    lanes = grid_lanes(ShelfId(1, 1), g.width, g.height, g.lanes, g.shelf_top, g.rail_bottom + 12, g.margin_x)
    return LaneLayout(tuple(lanes), g.width, g.height)


def sample_times(
    scenario: CameraScenario, rng: random.Random, per_reach: int, background: int
) -> list[float]:
    times = []
    for r in scenario.reaches:
        times += [rng.uniform(r.t0, r.t_end) for _ in range(per_reach)]
    times += [rng.uniform(0, scenario.duration_s) for _ in range(background)]
    return times


def render_crops(
    catalogue: list[str], scenarios: int, seed: int, per_reach: int = 6, keep_empty: float = 0.35
) -> CropSet:
    """Crops from ``scenarios`` random shelves of the catalogue, all kinds mixed (busy, two shoppers)."""
    rng = random.Random(seed)
    index = {p: i for i, p in enumerate(catalogue)}
    crops: list[np.ndarray] = []
    hands: list[int] = []
    products: list[int] = []
    buf = np.zeros((CROP_SIZE, CROP_SIZE, 3), np.uint8)
    kinds = ("basic", "busy", "two-shoppers", "busy")
    for k in range(scenarios):
        sc = build_scenario(kinds[k % len(kinds)], catalogue, seed=seed * 1000 + k, reaches=16)
        player = ScenarioPlayer(sc)
        layout = scenario_layout(sc)
        for t in sample_times(sc, rng, per_reach, background=20):
            frame = player.frame_at(t)
            quality = rng.randrange(45, 95)
            ok, jpg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                raise RuntimeError("JPEG encoding failed")
            decoded = cv2.imdecode(jpg, cv2.IMREAD_COLOR)
            if decoded is None:
                raise RuntimeError("JPEG decoding failed")
            for lane, (state, product) in enumerate(player.lane_labels_at(t)):
                if state == 0 and rng.random() > keep_empty:
                    continue
                crops.append(layout.crop(decoded, lane, buf).copy())
                hands.append(state)
                products.append(index.get(product, -1) if product is not None else -1)
    return CropSet(np.stack(crops), np.array(hands, np.int64), np.array(products, np.int64))
