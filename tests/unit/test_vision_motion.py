"""Motion gating per lane, lane crops, and the blurred debug snapshots."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.events import LaneInteraction, ShelfId
from edge.vision.lanes import CROP_SIZE, to_tensor
from edge.vision.motion import MotionGate
from edge.vision.privacy import SnapshotWriter, blur_outside_lanes
from simulators.camera.crops import scenario_layout
from simulators.camera.render import Arm, Occluder, ShelfRenderer
from simulators.camera.scenario import build_scenario

CATALOGUE = ["85123A", "22423", "47566", "20725", "21212", "22469", "85099B", "22197"]


@pytest.fixture
def setup():
    scenario = build_scenario("basic", CATALOGUE, seed=2)
    renderer = ShelfRenderer(list(scenario.products), scenario.geometry, noise_sigma=3.0, seed=1)
    return renderer, scenario_layout(scenario)


def test_only_the_lane_with_a_hand_is_active(setup) -> None:
    renderer, layout = setup
    gate = MotionGate(layout)
    for _ in range(5):
        assert gate.update(renderer.render([])) == []  # noise alone moves nothing
    x = sum(renderer.geometry.lane_x(3)) / 2
    active = gate.update(renderer.render([Arm(x, 90, x, 2, (200, 40, 40))]))
    assert 3 in active and len(active) <= 2  # the arm may brush a neighbour on its way in


def test_a_lighting_change_is_not_motion(setup) -> None:
    renderer, layout = setup
    gate = MotionGate(layout)
    gate.update(renderer.render([]))
    gate.update(renderer.render([]))
    assert gate.update(renderer.render([], gain=0.6)) == []
    assert gate.lighting_resets == 1
    assert gate.update(renderer.render([], gain=0.6)) == []


def test_a_shopper_passing_in_the_aisle_stays_out_of_the_lanes(setup) -> None:
    renderer, layout = setup
    gate = MotionGate(layout)
    gate.update(renderer.render([]))
    assert gate.update(renderer.render([], [Occluder(160, 230, 70, 30, (40, 40, 40))])) == []


def test_motion_depth_tells_a_reach_from_a_shopper_grazing_the_aisle_edge(setup) -> None:
    renderer, layout = setup
    gate = MotionGate(layout)
    gate.update(renderer.render([]))
    x = sum(renderer.geometry.lane_x(2)) / 2
    assert 2 in gate.update(renderer.render([Arm(x, 80, x, 2, (200, 40, 40))]))
    reach = gate.depth[2]
    assert reach > 0.5  # the hand is two thirds of the way up the lane
    gate = MotionGate(layout)
    gate.update(renderer.render([]))
    moving = gate.update(renderer.render([], [Occluder(120, 210, 60, 70, (40, 40, 40))]))
    assert moving and max(gate.depth[i] for i in moving) < 0.3  # a back in the aisle, up to the rail


def test_depth_follows_the_aisle_side(setup) -> None:
    renderer, layout = setup
    frame = renderer.render([]).copy()
    x = sum(renderer.geometry.lane_x(2)) / 2
    reach = renderer.render([Arm(x, 80, x, 2, (200, 40, 40))]).copy()
    depths = {}
    for side in ("bottom", "top"):
        gate = MotionGate(layout, aisle_side=side)
        gate.update(frame)
        gate.update(reach)
        depths[side] = gate.depth[2]
    assert depths["bottom"] > 0.5 and depths["top"] == pytest.approx(1.0, abs=0.05)


def test_crops_and_tensor_follow_the_contract(setup) -> None:
    renderer, layout = setup
    frame = renderer.render([], noise=False)
    crops = np.zeros((2, CROP_SIZE, CROP_SIZE, 3), np.uint8)
    layout.crop(frame, 0, crops[0])
    layout.crop(frame, 1, crops[1])
    out = np.zeros((6, 3, CROP_SIZE, CROP_SIZE), np.float32)
    tensor = to_tensor(crops, out)
    assert (tensor.shape == (2, 3, CROP_SIZE, CROP_SIZE) and tensor.base is out) or tensor is out[:2]
    # RGB order, [0, 1]: channel 0 is the crop's red (BGR index 2).
    assert tensor[1, 0, 10, 10] == pytest.approx(crops[1, 10, 10, 2] / 255.0)
    assert tensor.min() >= 0.0 and tensor.max() <= 1.0


def test_debug_snapshots_blur_outside_lanes_and_say_so(setup, tmp_path: Path, caplog) -> None:
    renderer, layout = setup
    frame = renderer.render([], [Occluder(160, 215, 60, 20, (0, 0, 255))], noise=False).copy()
    blurred = blur_outside_lanes(frame, layout)
    aisle = (slice(200, 230), slice(100, 220))
    assert blurred[aisle].std() < frame[aisle].std()  # the aisle lost its detail
    x0, y0, x1, y1 = layout.boxes[2]
    inside = (slice(y0 + 16, y1 - 5), slice(x0 + 5, x1 - 5))  # below the lane label
    np.testing.assert_array_equal(blurred[inside], frame[inside])
    with caplog.at_level(logging.INFO):
        writer = SnapshotWriter("cam-1", tmp_path / "snaps", layout, keep=2)
        for k in range(3):
            interaction = LaneInteraction(k, k + 1.0, "cam-1", ShelfId(1, 1), 3, "pick", "A", 0.9)
            writer.write(frame, interaction)
    assert "DEBUG SNAPSHOTS ARE ON" in caplog.text and "blurred" in caplog.text
    files = sorted((tmp_path / "snaps").iterdir())
    assert len(files) == 2  # the oldest was deleted
    assert cv2.imread(str(files[0])).shape == frame.shape
