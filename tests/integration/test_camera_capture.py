"""OpenCV capture of video files (replay timing, resizing, looping) and of sources that are not there."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from edge.vision.capture import OpenCvCapture
from simulators.camera.mjpeg import write_video
from simulators.camera.scenario import build_scenario
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
CATALOGUE = ["85123A", "22423", "47566", "20725", "21212", "22469", "85099B", "22197"]


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scenario = build_scenario("basic", CATALOGUE, seed=3, reaches=1)
    return write_video(scenario, tmp_path_factory.mktemp("video") / "shelf.avi")


def test_file_frames_carry_file_time_and_are_resized(video: Path) -> None:
    capture = OpenCvCapture("cam-1", str(video), width=160, height=120, fps=15.0, time_origin=1000.0)
    times = []
    while (item := capture.read()) is not None:
        t, frame = item
        assert frame.shape == (120, 160, 3)
        times.append(t)
    assert len(times) == capture.stats.frames > 30
    assert times[0] == pytest.approx(1000.0) and times[1] == pytest.approx(1000.0 + 1 / 15, abs=1e-3)
    assert capture.stats.dropped == 0 and capture.stats.last_error == "end of file"


def test_a_looping_file_keeps_time_increasing(video: Path) -> None:
    capture = OpenCvCapture("cam-1", str(video), loop=True, time_origin=0.0)
    first = capture.read()
    assert first is not None
    frames = [capture.read() for _ in range(150)]
    times = [f[0] for f in frames if f is not None]
    assert len(times) == 150 and all(b > a for a, b in itertools.pairwise(times))
    capture.close()
    assert capture.read() is None


def test_a_missing_file_ends_at_once_and_a_missing_stream_retries_until_closed() -> None:
    assert OpenCvCapture("cam-1", "/nonexistent/shelf.avi").read() is None
    capture = OpenCvCapture(
        "cam-2", "http://127.0.0.1:9/stream.mjpg", reconnect_min_s=0.05, reconnect_max_s=0.1
    )
    result: list[object] = []
    reader = threading.Thread(target=lambda: result.append(capture.read()))
    reader.start()
    wait_until(lambda: capture.stats.failures >= 2, timeout=15, what="retries")
    capture.close()
    reader.join(timeout=10)
    assert result == [None] and not capture.stats.connected
    assert "cannot open" in capture.stats.last_error
