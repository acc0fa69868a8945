"""``shelf-sim render-crops``: training crops for the picks model from frames the simulator's camera
renders, written as a crops file (edge/vision/crops_file.py) that ``shelf-models train-picks`` reads.

Each sample is one lane crop (the same crop the gateway makes, edge.vision.lanes) with two labels:
the hand state (0 no hand, 1 empty hand, 2 hand holding an item) and, when holding, which product.
Frames go through a JPEG round trip at a random quality, as they do on an MJPEG or RTSP camera.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import cv2
import numpy as np

from edge.events import ShelfId
from edge.vision.crops_file import CropSet, save_crops
from edge.vision.lanes import CROP_SIZE, LaneLayout, grid_lanes
from simulators.camera.scenario import SCENARIOS, CameraScenario, ScenarioPlayer, build_scenario
from simulators.store_layout import find_online_retail, top_products


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
    catalogue: list[str],
    scenarios: int,
    seed: int,
    per_reach: int = 6,
    keep_empty: float = 0.35,
    kinds: tuple[str, ...] = ("basic", "busy", "two-shoppers", "busy"),
) -> CropSet:
    """Crops from ``scenarios`` random shelves of the catalogue, of the ``kinds`` of scenario in
    turn (by default all mixed: busy, two shoppers; never ``unseen``, kept for judging)."""
    shelves = [
        build_scenario(kinds[k % len(kinds)], catalogue, seed=seed * 1000 + k, reaches=16)
        for k in range(scenarios)
    ]
    return scenario_crops(shelves, catalogue, random.Random(seed), per_reach, keep_empty)


def scenario_crops(
    scenarios: list[CameraScenario],
    catalogue: list[str],
    rng: random.Random,
    per_reach: int = 6,
    keep_empty: float = 0.35,
    t_from: float = 0.0,
) -> CropSet:
    """Lane crops with their true labels from frames of ``scenarios`` at random times from ``t_from``
    (JPEG round trip at a random quality, as from a camera)."""
    index = {p: i for i, p in enumerate(catalogue)}
    crops: list[np.ndarray] = []
    hands: list[int] = []
    products: list[int] = []
    buf = np.zeros((CROP_SIZE, CROP_SIZE, 3), np.uint8)
    for sc in scenarios:
        player = ScenarioPlayer(sc)
        layout = scenario_layout(sc)
        for t in sample_times(sc, rng, per_reach, background=20):
            if t < t_from:
                continue
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


def catalogue_from(args: argparse.Namespace) -> list[str]:
    if args.catalogue is not None:
        codes = json.loads(args.catalogue.read_text())
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise SystemExit(f"{args.catalogue}: expected a JSON list of product codes")
        return codes
    return [code for code, _, _ in top_products(find_online_retail(args.retail_csv), args.products)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="Directory for train.npz and val.npz.")
    parser.add_argument("--seed", type=int, default=7, help="Seed of rendering (validation: seed + 10000).")
    parser.add_argument("--products", type=int, default=48, help="Catalogue size: the most-bought products.")
    parser.add_argument("--scenarios", type=int, default=80, help="Training scenarios (16 reaches each).")
    parser.add_argument(
        "--scenario",
        choices=SCENARIOS,
        default=None,
        help="Only this kind of scenario (e.g. unseen: crops with true labels to judge a model on).",
    )
    parser.add_argument(
        "--retail-csv", type=Path, default=None, help="online_retail.csv.gz (default: ../shared/data)."
    )
    parser.add_argument(
        "--catalogue", type=Path, default=None, help="JSON list of product codes instead of Online Retail."
    )


def render_files(
    catalogue: list[str], out: Path, seed: int, scenarios: int, kinds: tuple[str, ...] | None = None
) -> tuple[Path, Path]:
    """Render training and validation crops (validation from other scenarios) into ``out``."""
    train, val = out / "train.npz", out / "val.npz"
    mix = kinds or ("basic", "busy", "two-shoppers", "busy")
    save_crops(train, render_crops(catalogue, scenarios, seed, kinds=mix), catalogue)
    save_crops(val, render_crops(catalogue, max(4, scenarios // 6), seed + 10_000, kinds=mix), catalogue)
    return train, val


def run(args: argparse.Namespace) -> int:
    kinds = (args.scenario,) if args.scenario else None
    train, val = render_files(catalogue_from(args), args.out, args.seed, args.scenarios, kinds)
    print(f"wrote {train} and {val}; train with: shelf-models train-picks {train} {val}")
    return 0
