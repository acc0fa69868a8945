"""VisionService: live cameras feed the weight join the daemon calls before fusion."""

from __future__ import annotations

import asyncio

import pytest

from edge.events import LaneInteraction, WeightEvent
from edge.vision.model import load_lane_model
from edge.vision.service import VisionService
from edge.vision.stage import DEFAULT_MODEL, CameraStage
from simulators.camera.loadcells import SHELF, planogram_of
from simulators.camera.mjpeg import MjpegCamera
from simulators.camera.scenario import build_scenario
from simulators.camera.score import camera_section

pytestmark = pytest.mark.integration


def test_a_live_pick_refines_the_weight_event_of_its_shelf() -> None:
    catalogue = list(load_lane_model(DEFAULT_MODEL).products)
    # Lanes 2 and 3 stand on one plate (3) and weigh 2 % apart: only the camera can tell them apart.
    scenario = build_scenario("similar-weight", catalogue, seed=1, reaches=0)
    planogram = planogram_of(scenario)
    seen: list[LaneInteraction] = []
    with MjpegCamera(scenario, loop=False) as camera:
        service = VisionService([], stages=[CameraStage(camera_section(scenario, camera.url))])

        async def main() -> None:
            task = asyncio.create_task(service.run(seen.append))
            await asyncio.sleep(0.5)
            camera.add_reach(3, "pick")
            for _ in range(200):
                if seen:
                    break
                await asyncio.sleep(0.05)
            service.stop()
            await asyncio.wait_for(task, timeout=10)

        asyncio.run(main())
    assert len(seen) == 1 and seen[0].plate == 3 and service.interactions == 1
    interaction = seen[0]
    weight = WeightEvent(
        interaction.t_start,
        interaction.t_end + 1.0,
        SHELF,
        (3,),
        -scenario.weights_g[3],
        "pick" if interaction.kind == "pick" else "return",
        scenario.products[2],
        1,
        0.5,
    )
    decided, also = service.refine(weight, planogram)
    if interaction.kind == "touch":  # nothing to join: the weight decision stands
        assert also == () and decided.product_id in scenario.products[2:4]
        return
    assert also == ("vision",)
    assert decided.quantity == 1 and decided.product_id == interaction.product_id
    assert decided.product_id in scenario.products[2:4]


def test_without_cameras_refine_leaves_the_event_alone() -> None:
    catalogue = list(load_lane_model(DEFAULT_MODEL).products)
    scenario = build_scenario("basic", catalogue, seed=1, reaches=0)
    weight = WeightEvent(1.0, 2.0, SHELF, (1,), -scenario.weights_g[0], "pick", scenario.products[0], 1, 0.9)
    assert VisionService([]).refine(weight, planogram_of(scenario)) == (weight, ())
