"""``shelf-edge camera-check`` on a recorded file: the recorded rate, every interaction counted, --t0."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from edge.cli import main as shelf_edge
from edge.ops.tomlwrite import dumps
from edge.vision.model import load_lane_model
from edge.vision.stage import DEFAULT_MODEL
from simulators.camera.mjpeg import write_video
from simulators.camera.scenario import build_scenario
from simulators.camera.score import camera_section

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float]:
    base = tmp_path_factory.mktemp("camera-check")
    scenario = build_scenario("basic", list(load_lane_model(DEFAULT_MODEL).products), seed=1, reaches=2)
    video = write_video(scenario, base / "shelf.avi")
    config = base / "edge.toml"
    identity = {"store_id": "s1", "gateway_id": "gw-1", "data_dir": str(base / "data")}
    section = camera_section(scenario, "rtsp://camera.invalid/live").model_dump(
        mode="json", exclude_none=True
    )
    config.write_text(dumps({"gateway": identity, "cameras": [section]}))
    return config, video, scenario.duration_s


def check(config: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict], str]:
    code = shelf_edge(["camera-check", str(config), *extra])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_a_recording_reports_its_rate_and_counts_what_it_printed(
    recording: tuple[Path, Path, float], capsys: pytest.CaptureFixture[str]
) -> None:
    config, video, duration = recording
    code, found, err = check(config, "--source", str(video), capsys=capsys)
    assert code == 0 and len(found) == 2  # the scenario's two reaches
    assert err.strip().endswith("2 interactions"), err  # those ended by the file's end counted too
    assert " 15.0 fps," in err and " 0.0 fps" not in err  # the recording's own rate
    assert all(0 <= i["t_start"] <= i["t_end"] <= duration + 0.1 for i in found)  # seconds from the start

    start = dt.datetime(2026, 11, 30, 10, 15, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    code, joined, _ = check(config, "--source", str(video), "--t0", start.isoformat(), capsys=capsys)
    assert code == 0
    assert [round(i["t_start"] - start.timestamp(), 3) for i in joined] == [
        round(i["t_start"], 3) for i in found
    ]


def test_t0_is_refused_clearly_without_a_recording(
    recording: tuple[Path, Path, float], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _, _ = recording
    code, found, err = check(config, "--t0", "1764497700", capsys=capsys)
    assert (code, found) == (2, [])
    assert err == "--t0 is the start of a recording: give the file with --source FILE\n"
    with pytest.raises(SystemExit) as stop:
        shelf_edge(["camera-check", str(config), "--source", "x.avi", "--t0", "yesterday"])
    assert stop.value.code == 2
    assert "'yesterday' is neither unix seconds nor an ISO time" in capsys.readouterr().err
