"""``shelf-edge camera-check``: open a configured camera, report its link, run the stage, or replay a file.

    shelf-edge camera-check edge.toml                       # every camera, 10 s each: fps, drops, lanes
    shelf-edge camera-check edge.toml --camera cam-1 --snapshot lanes.jpg   # one BLURRED frame + lane outlines
    shelf-edge camera-check edge.toml --camera cam-1 --source shelf.avi     # replay a recording
    shelf-edge camera-check edge.toml --camera cam-1 --source shelf.avi --t0 2026-11-30T10:15:00+01:00

Interactions are printed as JSON lines as they are found; a recording's times are seconds from its
start, or unix times from ``--t0`` (when the recording started) so they join a weight log. The rate
printed at the end is the frames' own: a recording's recorded rate, a live camera's delivered one. Nothing is stored unless --snapshot is
given, and the snapshot is blurred outside the lanes like the debug snapshots.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import cv2

from edge.config import load_config
from edge.errors import ConfigError
from edge.events import LaneInteraction
from edge.vision.capture import OpenCvCapture
from edge.vision.model import ModelContractError
from edge.vision.privacy import blur_outside_lanes
from edge.vision.stage import CameraStage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="Gateway TOML configuration.")
    parser.add_argument("--camera", default=None, help="Only this camera_id (default: every camera).")
    parser.add_argument("--seconds", type=float, default=10.0, help="How long to read a live camera.")
    parser.add_argument("--source", default=None, help="Read this file or URL instead (replay a recording).")
    parser.add_argument(
        "--snapshot", type=Path, default=None, help="Write one blurred frame with lane outlines."
    )
    parser.add_argument(
        "--t0",
        type=start_time,
        default=None,
        help="When the recording (--source FILE) started: unix seconds or an ISO time (UTC without an "
        "offset); interaction times are then unix times, as in a weight log.",
    )


def start_time(text: str) -> float:
    """``--t0``: unix seconds ('1764497700.5') or an ISO 8601 time ('2026-11-30T10:15:00+01:00')."""
    with contextlib.suppress(ValueError):
        return float(text)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither unix seconds nor an ISO time like 2026-11-30T10:15:00+01:00"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def _line(interaction: LaneInteraction) -> str:
    return json.dumps({**asdict(interaction), "shelf": str(interaction.shelf)})


def check(stage: CameraStage, seconds: float | None, snapshot: Path | None) -> int:
    deadline = time.monotonic() + seconds if seconds is not None else None
    written = False
    first_t: float | None = None
    last_t = 0.0
    found = 0
    while deadline is None or time.monotonic() < deadline:
        item = stage.source.read()
        if item is None:
            break
        t, frame = item
        first_t, last_t = (t if first_t is None else first_t), t
        if snapshot is not None and not written:
            cv2.imwrite(str(snapshot), blur_outside_lanes(frame, stage.layout))
            print(f"{stage.camera}: wrote blurred snapshot {snapshot}", file=sys.stderr)
            written = True
        for interaction in stage.process(t, frame):
            print(_line(interaction), flush=True)
            found += 1
    for interaction in stage.flush():  # visits still open at the end of the file or the window
        print(_line(interaction), flush=True)
        found += 1
    s, c = stage.stats, stage.source.stats
    share = s.lanes_inferred / max(1, s.lanes_seen)
    # The rate of the frames' own timestamps: for a file its recorded rate, live the delivered one.
    span = last_t - first_t if first_t is not None else 0.0
    fps = (c.frames - 1) / span if c.frames > 1 and span > 0 else 0.0
    print(
        f"{stage.camera}: {c.frames} frames, {fps:.1f} fps, {c.dropped} dropped, {c.reconnects} reconnects, "
        f"{c.failures} failures; {share:.0%} of lanes sent to the model; {found} interactions"
        + (f"; last error: {c.last_error}" if c.last_error not in ("", "end of file") else ""),
        file=sys.stderr,
    )
    stage.source.close()
    return 0 if c.frames > 0 else 1


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    cameras = [c for c in config.cameras if args.camera in (None, c.camera_id)]
    if not cameras:
        print(f"{args.config}: no camera {args.camera or ''} configured", file=sys.stderr)
        return 1
    if args.t0 is not None and (args.source is None or "://" in args.source):
        print("--t0 is the start of a recording: give the file with --source FILE", file=sys.stderr)
        return 2
    status = 0
    for section in cameras:
        source_uri = args.source or section.source
        replay = args.source is not None and "://" not in args.source
        source = OpenCvCapture(
            section.camera_id,
            source_uri,
            section.width,
            section.height,
            section.fps,
            time_origin=(args.t0 or 0.0) if replay else None,
        )
        try:
            stage = CameraStage(section, source=source)
        except ModelContractError as exc:
            print(exc, file=sys.stderr)
            return 1
        status |= check(stage, None if replay else args.seconds, args.snapshot)
    return status
