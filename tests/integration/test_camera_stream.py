"""The simulator camera's real HTTP MJPEG stream read by the real OpenCV adapter, dropped and recovered."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterator

import pytest

from edge.events import LaneInteraction
from edge.vision.capture import OpenCvCapture
from edge.vision.model import load_lane_model
from edge.vision.stage import DEFAULT_MODEL, CameraStage
from simulators.camera.mjpeg import MjpegCamera
from simulators.camera.scenario import build_scenario
from simulators.camera.score import camera_section
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def catalogue() -> list[str]:
    return list(load_lane_model(DEFAULT_MODEL).products)


@pytest.fixture
def camera(catalogue: list[str]) -> Iterator[MjpegCamera]:
    scenario = build_scenario("basic", catalogue, seed=4, reaches=3)
    with MjpegCamera(scenario) as cam:
        yield cam


def test_adapter_recovers_when_the_stream_drops(camera: MjpegCamera) -> None:
    capture = OpenCvCapture("cam-1", camera.url, reconnect_min_s=0.1, reconnect_max_s=0.5)
    times: list[float] = []
    shapes: set[tuple[int, ...]] = set()

    def reader() -> None:
        while (item := capture.read()) is not None:
            times.append(item[0])
            shapes.add(item[1].shape)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(times) >= 15, timeout=15, what="first frames")
        camera.stop()  # the camera goes away mid-stream
        wait_until(lambda: capture.stats.failures >= 1, timeout=15, what="the adapter noticing the drop")
        assert not capture.stats.connected
        before = len(times)
        camera.start()  # and comes back on the same port
        wait_until(lambda: len(times) >= before + 15, timeout=20, what="frames after the reconnect")
        assert capture.stats.reconnects >= 1 and capture.stats.connected
        assert capture.stats.dropped >= 1  # the outage shows as dropped frames
        assert shapes == {(240, 320, 3)}
        assert all(b > a for a, b in itertools.pairwise(times))
        wait_until(lambda: capture.stats.fps > 0, timeout=5, what="a frame rate")
        assert 8.0 <= capture.stats.fps <= 20.0  # 15 fps nominal, on a busy machine
    finally:
        capture.close()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_camera_stage_reports_interactions_from_the_live_stream(camera: MjpegCamera) -> None:
    section = camera_section(camera.scenario, camera.url)
    stage = CameraStage(section)
    found: list[LaneInteraction] = []

    async def main() -> None:
        task = asyncio.create_task(stage.run(found.append))
        for _ in range(400):
            if any(i.kind in ("pick", "return") for i in found):
                break
            await asyncio.sleep(0.05)
        stage.stop()
        await asyncio.wait_for(task, timeout=10)

    asyncio.run(main())
    events = [i for i in found if i.kind in ("pick", "return")]
    assert events, f"no pick or return seen; got {found}"
    first = events[0]
    truth = camera.scenario.reaches[0]
    assert first.plate == camera.scenario.plates[truth.lane]
    assert first.product_id == truth.product_id
    assert stage.stats.lanes_inferred < stage.stats.lanes_seen  # gating kept idle lanes from the model


def test_a_live_scripted_reach_is_seen_as_a_pick_of_that_lane(catalogue: list[str]) -> None:
    scenario = build_scenario("basic", catalogue, seed=6, reaches=0)
    with MjpegCamera(scenario, loop=False) as cam:
        stage = CameraStage(camera_section(scenario, cam.url))
        found: list[LaneInteraction] = []

        async def main() -> None:
            task = asyncio.create_task(stage.run(found.append))
            await asyncio.sleep(0.5)
            reach = cam.add_reach(4, "pick")
            assert reach.t0 > 0 and reach.product_id == scenario.products[4]
            for _ in range(200):
                if found:
                    break
                await asyncio.sleep(0.05)
            stage.stop()
            await asyncio.wait_for(task, timeout=10)

        asyncio.run(main())
    assert [(i.kind, i.plate, i.product_id) for i in found] == [("pick", 5, scenario.products[4])]
