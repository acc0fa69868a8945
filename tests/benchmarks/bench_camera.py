"""camera.fps_per_core: end-to-end frames per second on one core for 320x240 cameras with 6 lanes.

End to end = JPEG decode (as from an MJPEG/RTSP camera) + motion gating per lane + the ONNX picks
model on the lanes that moved or hold an open visit + the lane trackers, i.e. ``CameraStage.process``
on frames decoded with OpenCV. Frames are the simulator's "busy" scenario (arms, shoppers passing,
lighting changes, noise), JPEG-encoded once beforehand at quality 80.

Baseline, same run, same core: the bare onnxruntime inference rate of the same model on all six
lane crops of a frame (one batched run per frame, no decode, no gating).
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import onnxruntime as ort

from edge.vision.capture import CaptureStats
from edge.vision.lanes import CROP_SIZE
from edge.vision.model import load_lane_model
from edge.vision.stage import DEFAULT_MODEL, CameraStage
from simulators.camera.mjpeg import frames_of
from simulators.camera.scenario import build_scenario
from simulators.camera.score import camera_section


class _NoSource:
    """The benchmark feeds frames itself; the stage's own capture is never opened."""

    name = "bench"
    stats = CaptureStats()

    def read(self) -> None:
        return None

    def close(self) -> None:
        return None


def _end_to_end(jpegs: list[bytes], section_fps: float) -> tuple[float, float]:
    model = load_lane_model(DEFAULT_MODEL)
    scenario = build_scenario("busy", list(model.products), seed=5, reaches=16)
    stage = CameraStage(camera_section(scenario, "unused"), model, source=_NoSource())
    buf = np.frombuffer(jpegs[0], np.uint8)
    t0 = time.perf_counter()
    for k, jpg in enumerate(jpegs):
        buf = np.frombuffer(jpg, np.uint8)
        frame = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        stage.process(k / section_fps, frame)
    elapsed = time.perf_counter() - t0
    share = stage.stats.lanes_inferred / max(1, stage.stats.lanes_seen)
    return len(jpegs) / elapsed, share


def _bare_inference(seconds: float = 3.0) -> float:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(DEFAULT_MODEL), options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((6, 3, CROP_SIZE, CROP_SIZE), dtype=np.float32)
    for _ in range(20):
        session.run(None, {"crops": x})
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        session.run(None, {"crops": x})
        n += 1
    return n / (time.perf_counter() - t0)


def main() -> list[dict[str, object]]:
    model = load_lane_model(DEFAULT_MODEL)
    scenario = build_scenario("busy", list(model.products), seed=5, reaches=16)
    jpegs = [
        cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes() for f in frames_of(scenario)
    ]
    fps, share = _end_to_end(jpegs, scenario.fps)
    bare = _bare_inference()
    return [
        {
            "bench": "camera.fps_per_core",
            "value": round(fps, 1),
            "unit": "frames/s (320x240, 6 lanes)",
            "baseline": round(bare, 1),
        },
        {
            "bench": "camera.lanes_inferred_share",
            "value": round(share, 3),
            "unit": "share of lanes sent to the model",
            "baseline": 1.0,
        },
    ]


if __name__ == "__main__":
    for row in main():
        print(row)
