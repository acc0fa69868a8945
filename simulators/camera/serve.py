"""``shelf-sim camera``: a simulated shelf camera, as an HTTP MJPEG stream or a video file.

    shelf-sim camera --scenario busy --port 8554          # http://127.0.0.1:8554/stream.mjpg
    shelf-sim camera --scenario basic --video shelf.avi   # write the scenario once to a file

The ground truth (every reach: lane, times, kind, product) is printed as JSON lines when asked.
"""

from __future__ import annotations

import argparse
import json
import threading
from dataclasses import asdict
from pathlib import Path

from edge.vision.model import load_lane_model
from edge.vision.stage import DEFAULT_MODEL
from simulators.camera.mjpeg import MjpegCamera, write_video
from simulators.camera.scenario import SCENARIOS, build_scenario


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", choices=SCENARIOS, default="basic", help="What happens at the shelf.")
    parser.add_argument("--seed", type=int, default=1, help="Scenario seed.")
    parser.add_argument("--reaches", type=int, default=24, help="Reaches in the scenario.")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default: a free one, printed).")
    parser.add_argument("--video", type=Path, default=None, help="Write an MJPG .avi instead of serving.")
    parser.add_argument("--truth", action="store_true", help="Print the ground truth as JSON lines.")
    parser.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL, help="Products are drawn from this model's catalogue."
    )


def run(args: argparse.Namespace) -> int:
    catalogue = list(load_lane_model(args.model).products)
    scenario = build_scenario(args.scenario, catalogue, args.seed, args.reaches)
    if args.truth:
        for reach in scenario.reaches:
            print(json.dumps({**asdict(reach), "plate": scenario.plates[reach.lane]}))
    if args.video is not None:
        write_video(scenario, args.video)
        print(f"wrote {args.video} ({scenario.duration_s:.1f} s at {scenario.fps:g} fps)")
        return 0
    with MjpegCamera(scenario, args.port) as camera:
        print(
            f"serving {camera.url} (scenario {scenario.name}, loops every {scenario.duration_s:.1f} s); Ctrl-C stops"
        )
        threading.Event().wait()
    return 0
