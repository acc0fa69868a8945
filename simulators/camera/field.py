"""``shelf-sim field-labels DIR``: a simulated store's gateway collecting field labels.

For each seed, the scenario's camera frames go through the real camera stage with field labels on
(edge/vision/field_labels.py) and its load cells through the real shelf detector; each weight event
reaches ``VisionService.refine`` (the daemon's weight handler) ``delay_s`` after it ended, which
labels the lane crops around it into DIR. ``shelf-models train-picks --from-field DIR`` then
fine-tunes the lane model on them. ``--judge FILE`` also writes crops with their true labels from
the same shelves (same products, look and camera) in the minutes *after* the collection (the
scenario run on with as many reaches again): held-out crops of that store to judge the lane model
before and after (``train-picks --from-field DIR --val FILE``).
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import numpy as np

from edge.vision.capture import OpenCvCapture
from edge.vision.crops_file import CropSet, save_crops
from edge.vision.field_store import FieldLabelStore
from edge.vision.model import load_lane_model
from edge.vision.service import VisionService
from edge.vision.stage import DEFAULT_MODEL, CameraStage
from simulators.camera.crops import scenario_crops
from simulators.camera.loadcells import planogram_of
from simulators.camera.mjpeg import write_video
from simulators.camera.scenario import SCENARIOS, CameraScenario, build_scenario
from simulators.camera.score import camera_section, run_weight


def collect(scenario: CameraScenario, model: Path, out: Path, workdir: Path, delay_s: float = 0.5) -> int:
    """Run one scenario's gateway with field labels into ``out``; returns the crops labelled."""
    video = write_video(scenario, workdir / f"{scenario.name}-{scenario.seed}.avi")
    section = camera_section(scenario, str(video), camera_id=f"cam-{scenario.seed}")
    source = OpenCvCapture(
        section.camera_id, str(video), section.width, section.height, section.fps, time_origin=0.0
    )
    stage = CameraStage(section, model, source=source)
    store = FieldLabelStore(out, section.camera_id, list(stage.model.products))
    stage.enable_field_labels(store)
    vision = VisionService([], stages=[stage])
    planogram = planogram_of(scenario)
    weights = sorted(run_weight(scenario), key=lambda w: w.t_end)
    while (item := source.read()) is not None:
        t, frame = item
        for interaction in stage.process(t, frame):
            vision.join.add(interaction)
        while weights and weights[0].t_end + delay_s <= t:
            vision.refine(weights.pop(0), planogram)
    source.close()
    store.flush(wait=True)
    return store.labelled


def judge_crops(name: str, catalogue: list[str], seeds: list[int], reaches: int) -> CropSet:
    """True-labelled crops of the same shelves after the collection: each scenario run on with
    ``reaches`` more reaches (the first ones are the same), sampled after the collected minutes."""
    rng = random.Random(f"judge/{seeds}")
    parts = []
    for seed in seeds:
        collected = build_scenario(name, catalogue, seed, reaches).duration_s
        later = build_scenario(name, catalogue, seed, 2 * reaches)
        parts.append(scenario_crops([later], catalogue, rng, t_from=collected))
    return CropSet(
        np.concatenate([p.crops for p in parts]),
        np.concatenate([p.hand for p in parts]),
        np.concatenate([p.product for p in parts]),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="Directory the gateway keeps its field labels in.")
    parser.add_argument("--scenario", choices=SCENARIOS, default="unseen", help="The store's look.")
    parser.add_argument("--seed", type=int, nargs="+", default=[1, 2, 3], help="Scenario seeds (shelves).")
    parser.add_argument("--reaches", type=int, default=60, help="Reaches per scenario.")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="The lane model the gateway runs.")
    parser.add_argument(
        "--judge", type=Path, default=None, help="Also write true-labelled crops of the later minutes here."
    )


def run(args: argparse.Namespace) -> int:
    catalogue = list(load_lane_model(args.model).products)
    with tempfile.TemporaryDirectory(prefix="field-labels-") as tmp:
        for seed in args.seed:
            scenario = build_scenario(args.scenario, catalogue, seed, args.reaches)
            n = collect(scenario, args.model, args.out, Path(tmp))
            print(f"{args.scenario} seed {seed}: {n} lane crops labelled into {args.out}", flush=True)
    if args.judge is not None:
        judged = judge_crops(args.scenario, catalogue, args.seed, args.reaches)
        save_crops(args.judge, judged, catalogue)
        print(f"{len(judged.hand)} true-labelled crops of the later minutes in {args.judge}", flush=True)
    return 0
