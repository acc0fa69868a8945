"""``shelf-sim score-presence``: run store scenarios through the real presence code and score it.

The simulated receivers' sightings go through the same boundary code the gateway uses (encoded as
``SightingsMessage`` JSON, decoded with ``edge.mqtt.payloads.decode``), then the resolver (keys of
enrolled customers only) and the presence tracker, stepping simulated time. Figures per scenario:

- shelf accuracy: at each ground-truth pick, the picking shopper's zone is the pick's shelf;
- pick attribution: the best shopper ``shoppers_at(shelf, t)`` returns is the picker (picks where
  another shopper truly stands at the same shelf are counted apart as ambiguous);
- departure delay: for each visit, time from leaving the shelf to the ``departure`` event;
- privacy: no stranger (non-enrolled phone) in the resolver table, the tracker, any presence event
  or published payload, or any log record (ids, tokens, addresses).
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, dataclass

import numpy as np

from edge.events import PresenceEvent
from edge.mqtt.payloads import PresenceEventMessage, SightingsMessage, decode, encode
from edge.presence.core import PresenceParams, PresenceTracker
from edge.presence.resolver import TokenResolver
from edge.presence.tokens import AppTokenGenerator, interval_of
from simulators.phones import PhoneWorld, RadioModel, days_covering, enrolled_keys, random_address
from simulators.phones_mqtt import sightings_messages
from simulators.phones_scenarios import SCENARIOS, Scenario

STEP_S = 0.5
GOAL_ACCURACY = 0.95
GOAL_DEPARTURE_S = 20.0


@dataclass(frozen=True, slots=True)
class Score:
    scenario: str
    picks: int
    shelf_accuracy: float
    attribution_accuracy: float
    ambiguous_picks: int
    visits: int
    departures_detected: int
    departure_delay_max_s: float
    departure_delay_mean_s: float
    privacy_ok: bool
    privacy_findings: list[str]
    sightings: int
    dropped: int


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def score(
    scenario: Scenario, params: PresenceParams | None = None, seed: int = 1, radio: RadioModel | None = None
) -> Score:
    world = PhoneWorld(scenario.layout, scenario.scripts, store=scenario.store, seed=seed, radio=radio)
    t0, t1 = world.start_t(), world.end_t() + 40.0
    resolver = TokenResolver()
    resolver.set_keys(enrolled_keys(scenario.enrolled, scenario.store, days_covering(t0, t1)))
    tracker = PresenceTracker(scenario.layout.zones, params or PresenceParams())
    capture = _Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    events: list[PresenceEvent] = []
    published: list[bytes] = []
    zone_at: dict[tuple[str, float], object] = {}
    picks = sorted(scenario.picks, key=lambda p: p.t)
    pick_i = 0
    best_at: list[str | None] = []
    zone_ok: list[bool] = []
    stranger_ids = {c.shopper for c in scenario.strangers}
    findings: list[str] = []
    sightings = 0
    try:
        t = t0
        while t < t1:
            t += STEP_S
            resolver.advance(t)
            for message in sightings_messages(world.sightings_until(t)):
                topic = f"smartshelf/{scenario.store}/ble/{message.receiver}/sightings"
                decoded = decode(SightingsMessage, topic, encode(message))
                for item in decoded.sightings:
                    sightings += 1
                    resolved = resolver.resolve(item.to_event(decoded.receiver))
                    if resolved is not None:
                        events.extend(tracker.observe(resolved))
            events.extend(tracker.tick(t))
            if stranger_ids & set(tracker.shoppers()):
                findings.append(f"stranger in tracker at {t:.1f}")
            while pick_i < len(picks) and picks[pick_i].t <= t:
                p = picks[pick_i]
                ranked = tracker.shoppers_at(p.shelf, t)
                best_at.append(ranked[0][0] if ranked else None)
                zone_ok.append(tracker.zone_of(p.shopper) == p.shelf)
                zone_at[(p.shopper, p.t)] = tracker.zone_of(p.shopper)
                pick_i += 1
        for e in events:
            published.append(encode(PresenceEventMessage.from_event(e)))
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)

    # --- privacy
    table_ids = resolver.enrolled_shoppers()
    if table_ids & stranger_ids:
        findings.append("stranger key in resolver table")
    if any(e.shopper in stranger_ids for e in events):
        findings.append("stranger in presence events")
    secrets_hex = []
    for c in scenario.strangers:
        app = AppTokenGenerator(c.secret, scenario.store)
        for k in range(interval_of(t0) - 1, interval_of(t1) + 2):
            secrets_hex.append(app.token(k * 600.0 + 1).hex())
            secrets_hex.append(random_address(c, k))
        secrets_hex.append(c.shopper)
    blob = "\n".join(capture.lines) + "\n" + b"\n".join(published).decode()
    leaked = [s for s in secrets_hex if s in blob or s.lower() in blob.lower()]
    if leaked:
        findings.append(f"{len(leaked)} stranger identifiers in logs/messages")

    # --- attribution
    truth_at = _truth(scenario)
    ambiguous = 0
    correct = 0
    counted = 0
    for p, best in zip(picks, best_at, strict=True):
        if truth_at(p.shelf, p.t) - {p.shopper}:
            ambiguous += 1
            continue
        counted += 1
        correct += best == p.shopper

    # --- departures
    delays: list[float] = []
    visits = 0
    for script in scenario.scripts:
        if not script.customer.enrolled:
            continue
        for shelf, _arrive, leave in script.visits:
            visits += 1
            deps = [
                e.t
                for e in events
                if e.kind == "departure"
                and e.shopper == script.customer.shopper
                and e.shelf == shelf
                and e.t >= leave - 5
            ]
            if deps:
                delays.append(max(0.0, min(deps) - leave))
    return Score(
        scenario=scenario.name,
        picks=len(picks),
        shelf_accuracy=round(sum(zone_ok) / len(zone_ok), 4) if zone_ok else 1.0,
        attribution_accuracy=round(correct / counted, 4) if counted else 1.0,
        ambiguous_picks=ambiguous,
        visits=visits,
        departures_detected=len(delays),
        departure_delay_max_s=round(max(delays), 1) if delays else float("nan"),
        departure_delay_mean_s=round(float(np.mean(delays)), 1) if delays else float("nan"),
        privacy_ok=not findings,
        privacy_findings=findings,
        sightings=sightings,
        dropped=resolver.dropped,
    )


def _truth(scenario: Scenario):  # type: ignore[no-untyped-def]
    def at(shelf, t):  # type: ignore[no-untyped-def]
        return {
            s.customer.shopper
            for s in scenario.scripts
            if s.customer.enrolled and any(v[0] == shelf and v[1] <= t <= v[2] for v in s.visits)
        }

    return at


def passed(s: Score) -> bool:
    return (
        s.shelf_accuracy >= GOAL_ACCURACY
        and s.departures_detected == s.visits
        and s.departure_delay_max_s <= GOAL_DEPARTURE_S
        and s.privacy_ok
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="Scenario(s) to score (default: all)."
    )
    parser.add_argument("--seed", type=int, default=1, help="Radio noise seed.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object per scenario.")
    parser.add_argument("--noise-db", type=float, default=3.0, help="Multipath noise (std dev), dB.")
    parser.add_argument(
        "--drop", type=float, default=0.2, help="Fraction of adverts lost before sensitivity."
    )
    parser.add_argument("--body-db", type=float, default=8.0, help="Body shadowing, dB.")


def run(args: argparse.Namespace) -> int:
    names = args.scenario or sorted(SCENARIOS)
    ok = True
    for name in names:
        radio = RadioModel(noise_db=args.noise_db, drop_p=args.drop, body_db=args.body_db)
        result = score(SCENARIOS[name](), seed=args.seed, radio=radio)
        ok &= passed(result)
        if args.json:
            print(json.dumps(asdict(result)))
            continue
        print(
            f"{name:11s} picks={result.picks:3d} shelf_accuracy={result.shelf_accuracy:.3f} "
            f"attribution={result.attribution_accuracy:.3f} (ambiguous {result.ambiguous_picks}) "
            f"departures={result.departures_detected}/{result.visits} "
            f"delay max={result.departure_delay_max_s:.1f}s mean={result.departure_delay_mean_s:.1f}s "
            f"privacy={'ok' if result.privacy_ok else 'FAIL ' + '; '.join(result.privacy_findings)} "
            f"sightings={result.sightings} dropped={result.dropped} -> {'PASS' if passed(result) else 'FAIL'}"
        )
    print(
        f"goals: shelf accuracy >= {GOAL_ACCURACY}, every departure detected within {GOAL_DEPARTURE_S:.0f} s, "
        "no stranger anywhere"
    )
    return 0 if ok else 1
