"""``shelf-sim score-vision``: interaction F1 and product accuracy of weight alone, camera alone, fused.

For each scenario: the simulator camera's frames are written to an MJPG video and read back through
the real OpenCV capture adapter into the real camera stage (motion gating + ONNX model + trackers);
the shelf's load cells are simulated (simulators/camera/loadcells.py) and run through the sensing
core's ``ShelfDetector``; fusion is ``edge.fusion.vision.VisionJoin``, fed in the order the events
would reach the daemon (each at its end time).

Scoring: ground truth is every pick and return of the scenario (touches change nothing).
Weight and fused events are attributed to a shopper by the fusion core (edge.fusion.core) from the
scenario's presence (who stands at the shelf, with a score); camera-only events go to the
best-scoring shopper present, the same rule. The camera itself never tells people apart. A reported
event matches an unmatched truth of the same kind whose time window overlaps it within 1 s and whose
plate it covers. F1 is over events; product accuracy is the share of truth events matched by an
event naming the right product (a miss counts as wrong).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from edge.config_camera import CameraSection, LaneSection
from edge.events import LaneInteraction, WeightEvent
from edge.fusion.core import BasketFusion
from edge.fusion.vision import VisionJoin, candidates_near
from edge.sensing.detector import ShelfDetector
from edge.vision.capture import OpenCvCapture
from edge.vision.model import load_lane_model
from edge.vision.stage import DEFAULT_MODEL, CameraStage
from simulators.camera.loadcells import SHELF, planogram_of, plate_samples
from simulators.camera.mjpeg import write_video
from simulators.camera.scenario import SCENARIOS, CameraScenario, Reach, build_scenario


@dataclass(frozen=True, slots=True)
class Reported:
    t_start: float
    t_end: float
    plates: tuple[int, ...]
    kind: str
    product_id: str | None
    shopper: str | None = None


@dataclass(frozen=True, slots=True)
class Score:
    scenario: str
    system: str
    truth: int
    reported: int
    f1: float
    product_accuracy: float
    #: Share of matched events credited to the shopper who made them (presence attribution).
    attribution_accuracy: float
    #: Camera only: the longest visit (s), and interactions of any kind (touches too) that overlap
    #: no reach of the scenario in their lane, per minute.
    longest_visit_s: float = 0.0
    false_per_min: float = 0.0
    #: Camera only: share of the scenario's reaches (touches too) with an interaction in their lane.
    reach_recall: float = 0.0
    #: Counts behind the figures (pooled over seeds by :func:`pooled`).
    matched: int = 0
    correct: int = 0
    credited: int = 0
    false: int = 0
    reaches: int = 0
    reaches_found: int = 0
    minutes: float = 0.0


def pooled(rows: list[Score]) -> Score:
    """One row of the same scenario and system over several seeds (figures from summed counts)."""
    truth = sum(r.truth for r in rows)
    reported = sum(r.reported for r in rows)
    matched = sum(r.matched for r in rows)
    correct = sum(r.correct for r in rows)
    credited = sum(r.credited for r in rows)
    false = sum(r.false for r in rows)
    reaches = sum(r.reaches for r in rows)
    found = sum(r.reaches_found for r in rows)
    minutes = sum(r.minutes for r in rows)
    return Score(
        rows[0].scenario,
        rows[0].system,
        truth,
        reported,
        round(2 * matched / max(1, truth + reported), 3),
        round(correct / max(1, truth), 3),
        round(credited / max(1, matched), 3),
        longest_visit_s=max(r.longest_visit_s for r in rows),
        false_per_min=round(false / minutes, 2) if minutes else 0.0,
        reach_recall=round(found / max(1, reaches), 3),
        matched=matched,
        correct=correct,
        credited=credited,
        false=false,
        reaches=reaches,
        reaches_found=found,
        minutes=round(minutes, 3),
    )


def camera_section(scenario: CameraScenario, source: str, camera_id: str = "cam-1") -> CameraSection:
    g = scenario.geometry
    lanes = [
        LaneSection(gondola=SHELF.gondola, shelf=SHELF.shelf, plate=plate, polygon=g.lane_polygon(lane))
        for lane, plate in enumerate(scenario.plates)
    ]
    return CameraSection(
        camera_id=camera_id, source=source, width=g.width, height=g.height, fps=scenario.fps, lanes=lanes
    )


def run_camera(scenario: CameraScenario, model: Path, workdir: Path) -> list[LaneInteraction]:
    video = write_video(scenario, workdir / f"{scenario.name}-{scenario.seed}.avi")
    section = camera_section(scenario, str(video))
    source = OpenCvCapture("cam-1", str(video), section.width, section.height, section.fps, time_origin=0.0)
    stage = CameraStage(section, model, source=source)
    found: list[LaneInteraction] = []
    while (item := stage.source.read()) is not None:
        found += stage.process(*item)
    found += stage.flush()
    stage.source.close()
    return found


def run_weight(scenario: CameraScenario) -> list[WeightEvent]:
    detector = ShelfDetector(SHELF, planogram_of(scenario))
    events: list[WeightEvent] = []
    for batch in plate_samples(scenario):
        events += detector.feed(batch)
    return events


def attribute(scenario: CameraScenario, event: WeightEvent, also: tuple[str, ...] = ()) -> Reported:
    """The basket event the lead's fusion core makes, with the presence the scenario's visits give."""
    shoppers = [(v.shopper, v.score) for v in scenario.visits if v.t_arrive <= event.t_end <= v.t_leave]
    basket = BasketFusion().on_weight(event, shoppers, also=also)
    return Reported(event.t_start, event.t_end, event.plates, event.kind, basket.product_id, basket.shopper)


def best_present(scenario: CameraScenario, t: float) -> str | None:
    """The best-scoring shopper at the shelf at ``t`` (the fusion core's rule, for camera-only events)."""
    here = [v for v in scenario.visits if v.t_arrive <= t <= v.t_leave]
    return max(here, key=lambda v: v.score).shopper if here else None


def fuse(scenario: CameraScenario, weights: list[WeightEvent], seen: list[LaneInteraction]) -> list[Reported]:
    """Feed both streams in arrival order (each event when it ends) through VisionJoin."""
    join = VisionJoin()
    planogram = planogram_of(scenario)
    arrivals: list[tuple[float, int, WeightEvent | LaneInteraction]] = [(w.t_end, 1, w) for w in weights]
    arrivals += [(i.t_end, 0, i) for i in seen]
    out: list[Reported] = []
    for _, _, item in sorted(arrivals, key=lambda a: (a[0], a[1])):
        if isinstance(item, LaneInteraction):
            join.add(item)
            continue
        decided, used = join.refine(item, candidates_near(planogram, SHELF, item.plates))
        out.append(attribute(scenario, decided, ("vision",) if used else ()))
    for i in join.expired(float("inf")):
        if i.confidence >= 0.5:  # the camera alone saw a pick the load cells missed
            out.append(
                Reported(
                    i.t_start, i.t_end, (i.plate,), i.kind, i.product_id, best_present(scenario, i.t_end)
                )
            )
    return out


def score(scenario: CameraScenario, system: str, reported: list[Reported], slack: float = 1.0) -> Score:
    truth = [r for r in scenario.reaches if r.kind != "touch"]
    used: set[int] = set()
    tp = correct = credited = 0
    for rep in sorted(reported, key=lambda r: r.t_start):
        for k, r in enumerate(truth):
            if k in used or r.kind != rep.kind:
                continue
            if rep.t_end < r.t0 - slack or rep.t_start > r.t_end + slack + 2.5:
                continue
            if scenario.plates[r.lane] not in rep.plates:
                continue
            used.add(k)
            tp += 1
            correct += rep.product_id == r.product_id
            credited += rep.shopper == r.shopper
            break
    precision = tp / len(reported) if reported else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Score(
        scenario.name,
        system,
        len(truth),
        len(reported),
        round(f1, 3),
        round(correct / max(1, len(truth)), 3),
        round(credited / max(1, tp), 3),
        matched=tp,
        correct=correct,
        credited=credited,
        minutes=round(scenario.duration_s / 60.0, 3),
    )


def overlaps(
    scenario: CameraScenario, reach: Reach, interaction: LaneInteraction, slack: float = 1.0
) -> bool:
    """Whether a camera interaction is in the reach's lane (plate) and overlaps it in time."""
    return (
        scenario.plates[reach.lane] == interaction.plate
        and interaction.t_end >= reach.t0 - slack
        and interaction.t_start <= reach.t_end + slack
    )


def score_scenario(scenario: CameraScenario, model: Path, workdir: Path) -> list[Score]:
    seen = run_camera(scenario, model, workdir)
    weights = run_weight(scenario)
    camera = [
        Reported(i.t_start, i.t_end, (i.plate,), i.kind, i.product_id, best_present(scenario, i.t_end))
        for i in seen
        if i.kind != "touch"
    ]
    weight = [attribute(scenario, w) for w in weights]
    longest = max((i.t_end - i.t_start for i in seen), default=0.0)
    false = [i for i in seen if not any(overlaps(scenario, r, i) for r in scenario.reaches)]
    found = sum(1 for r in scenario.reaches if any(overlaps(scenario, r, i) for i in seen))
    cam = replace(
        score(scenario, "camera", camera),
        longest_visit_s=round(longest, 2),
        false_per_min=round(len(false) / (scenario.duration_s / 60.0), 2),
        reach_recall=round(found / max(1, len(scenario.reaches)), 3),
        false=len(false),
        reaches=len(scenario.reaches),
        reaches_found=found,
    )
    return [score(scenario, "weight", weight), cam, score(scenario, "fused", fuse(scenario, weights, seen))]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all", help="Scenario to score.")
    parser.add_argument(
        "--seed",
        type=int,
        nargs="+",
        default=[1],
        help="Scenario seed(s); with several, each figure is pooled over the seeds' scenarios.",
    )
    parser.add_argument("--reaches", type=int, default=24, help="Reaches per scenario.")
    parser.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL, help="Lane model (picks or YOLO contract)."
    )
    parser.add_argument(
        "--json", action="store_true", help="Print one JSON object per line instead of a table."
    )


def run(args: argparse.Namespace) -> int:
    model = load_lane_model(args.model)
    catalogue = list(model.products)
    names = SCENARIOS if args.scenario == "all" else (args.scenario,)
    rows: list[Score] = []
    with tempfile.TemporaryDirectory(prefix="score-vision-") as tmp:
        for name in names:
            per_seed = [
                score_scenario(build_scenario(name, catalogue, seed, args.reaches), args.model, Path(tmp))
                for seed in args.seed
            ]
            rows += [pooled([seeded[k] for seeded in per_seed]) for k in range(len(per_seed[0]))]
    if args.json:
        for s in rows:
            print(json.dumps(asdict(s)))
        return 0
    print(
        f"{'scenario':<16}{'system':<8}{'truth':>6}{'reported':>9}{'F1':>7}{'product acc':>12}{'shopper acc':>12}"
        f"{'longest':>9}{'false/min':>10}{'reach recall':>13}{'minutes':>9}"
    )
    for s in rows:
        extra = (
            f"{s.longest_visit_s:>8.1f}s{s.false_per_min:>10.2f}{s.reach_recall:>13.3f}{s.minutes:>9.1f}"
            if s.system == "camera"
            else ""
        )
        print(
            f"{s.scenario:<16}{s.system:<8}{s.truth:>6}{s.reported:>9}{s.f1:>7.3f}{s.product_accuracy:>12.3f}"
            f"{s.attribution_accuracy:>12.3f}{extra}"
        )
    return 0
