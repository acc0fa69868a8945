"""``shelf-sim score-sensing``: score weight-event detection against simulator ground truth.

For each scenario (simulators/shelves/scenarios.py) the same sample batches go through our
:class:`edge.sensing.detector.ShelfDetector` and the AIM3S baseline re-implementation
(:mod:`edge.sensing.aim3s`). A detected event matches a ground-truth interaction of the same kind
when its plates touch the interaction's plates (one plate of slack) and its time span overlaps
[touch, settled + 1 s]. Printed per detector: precision, recall, F1, product accuracy (right product
and quantity, over matched events), and the detection delay: the event's ``t_end`` minus the time
the shelf settled in the ground truth (release + 2 s, when it is within 1 g std; REFERENCE.md).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from edge.events import SampleBatch, ShelfId, WeightEvent
from edge.sensing.aim3s import Aim3sDetector
from edge.sensing.detector import ShelfDetector
from edge.sensing.planogram import Planogram
from simulators.shelves.physics import Interaction
from simulators.shelves.scenarios import SCENARIOS, build


@dataclass(frozen=True, slots=True)
class Score:
    scenario: str
    detector: str
    truth: int
    detected: int
    tp: int
    precision: float
    recall: float
    f1: float
    product_accuracy: float
    delay_median_s: float
    delay_p90_s: float
    seconds: float


def match(
    truth: Sequence[Interaction], events: Sequence[WeightEvent]
) -> list[tuple[Interaction, WeightEvent]]:
    """Greedy one-to-one matching, ground truth in time order, nearest end first."""
    free = list(events)
    pairs = []
    for gt in sorted(truth, key=lambda i: i.touch):
        near = {p + d for p in gt.plates for d in (-1, 0, 1)}
        candidates = [
            e
            for e in free
            if e.kind == gt.kind
            and near & set(e.plates)
            and e.t_start <= gt.settled + 1.0
            and e.t_end >= gt.touch
        ]
        if not candidates:
            continue
        # parts of one event (two products taken at once) share their times: prefer the right product
        best = min(candidates, key=lambda e: (e.product_id != gt.product_id, abs(e.t_end - gt.settled)))
        free.remove(best)
        pairs.append((gt, best))
    return pairs


def score(
    name: str, detector: str, truth: Sequence[Interaction], events: Sequence[WeightEvent], seconds: float
) -> Score:
    pairs = match(truth, events)
    tp = len(pairs)
    precision = tp / len(events) if events else 1.0
    recall = tp / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    right = sum(1 for gt, e in pairs if e.product_id == gt.product_id and e.quantity == gt.quantity)
    delays = np.array([e.t_end - gt.settled for gt, e in pairs]) if pairs else np.zeros(1)
    return Score(
        scenario=name,
        detector=detector,
        truth=len(truth),
        detected=len(events),
        tp=tp,
        precision=round(precision, 4),
        recall=round(recall, 4),
        f1=round(f1, 4),
        product_accuracy=round(right / tp, 4) if tp else 0.0,
        delay_median_s=round(float(np.median(delays)), 3),
        delay_p90_s=round(float(np.percentile(delays, 90)), 3),
        seconds=round(seconds, 2),
    )


Factory = Callable[[ShelfId, Planogram], ShelfDetector | Aim3sDetector]
DETECTORS: dict[str, Factory] = {"ours": ShelfDetector, "aim3s": Aim3sDetector}


def run_scenario(name: str, seed: int = 1, duration_s: float | None = None) -> list[Score]:
    scenario = build(name, seed, duration_s)
    batches: list[SampleBatch] = list(scenario.batches())
    planogram = scenario.planogram
    results = []
    for label, factory in DETECTORS.items():
        det = factory(batches[0].shelf, planogram)
        started = time.perf_counter()
        events = [e for b in batches for e in det.feed(b)]
        results.append(score(name, label, scenario.events, events, time.perf_counter() - started))
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario",
        action="append",
        choices=sorted(SCENARIOS),
        help="Scenario to score (repeatable; default all).",
    )
    parser.add_argument("--seed", type=int, default=1, help="Random seed of the scenarios.")
    parser.add_argument("--duration", type=float, default=None, help="Seconds of shelf time per scenario.")
    parser.add_argument(
        "--json", action="store_true", help="Print one JSON object per line instead of a table."
    )


def run(args: argparse.Namespace) -> int:
    names = args.scenario or list(SCENARIOS)
    header = f"{'scenario':<14} {'detector':<7} {'truth':>5} {'found':>5} {'P':>6} {'R':>6} {'F1':>6} {'product':>7} {'delay50':>7} {'delay90':>7}"
    if not args.json:
        print(header)
    for name in names:
        for s in run_scenario(name, args.seed, args.duration):
            if args.json:
                print(json.dumps(asdict(s)))
            else:
                print(
                    f"{s.scenario:<14} {s.detector:<7} {s.truth:>5} {s.detected:>5} {s.precision:>6.3f} {s.recall:>6.3f} "
                    f"{s.f1:>6.3f} {s.product_accuracy:>7.3f} {s.delay_median_s:>6.2f}s {s.delay_p90_s:>6.2f}s",
                    flush=True,
                )
    return 0
