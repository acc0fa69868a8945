"""Store scenarios for presence scoring: shoppers with visits, picks (ground truth) and strangers.

Each scenario starts two minutes before a token interval boundary, so every shopper's phone
rotates its token (and BLE address) during the trip.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.events import ShelfId
from edge.presence.tokens import INTERVAL_S
from simulators.phones import Customer, ShopperScript, StoreLayout, aisle_store, make_customers

#: Reference start: 2 minutes before an interval boundary, far from midnight.
T_REF = (1_795_435_200 // INTERVAL_S + 1) * INTERVAL_S - 120.0


@dataclass(frozen=True, slots=True)
class Pick:
    """Ground truth: ``shopper`` takes something from ``shelf`` at ``t``."""

    t: float
    shopper: str
    shelf: ShelfId


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    layout: StoreLayout
    scripts: tuple[ShopperScript, ...]
    picks: tuple[Pick, ...]
    store: str = "store-001"

    @property
    def enrolled(self) -> list[Customer]:
        return [s.customer for s in self.scripts if s.customer.enrolled]

    @property
    def strangers(self) -> list[Customer]:
        return [s.customer for s in self.scripts if not s.customer.enrolled]


def _picks_for(script: ShopperScript, rng: np.random.Generator) -> list[Pick]:
    """Picks at arrival + 3 s and, for longer visits, at random moments up to 3 s before leaving."""
    out = []
    for shelf, arrive, leave in script.visits:
        if leave - arrive < 6:
            continue
        out.append(Pick(arrive + 3.0, script.customer.shopper, shelf))
        for _ in range(int(rng.integers(0, 3))):
            out.append(Pick(float(rng.uniform(arrive + 3.0, leave - 3.0)), script.customer.shopper, shelf))
    return out


def _strangers(n: int, rng: np.random.Generator) -> list[Customer]:
    """Phones of people who never enrolled (their secrets come from a stream separate from customers')."""
    rng = np.random.default_rng([int(rng.integers(0, 2**31)), 0x57A4])
    kinds = ("android", "ios", "other")
    return [
        Customer(f"stranger-{i}", rng.bytes(16), kinds[i % 3], enrolled=False)  # type: ignore[arg-type]
        for i in range(n)
    ]


def _random_trips(
    layout: StoreLayout,
    customers: list[Customer],
    rng: np.random.Generator,
    t0: float,
    visits: tuple[int, int] = (2, 4),
    dwell: tuple[float, float] = (12.0, 45.0),
    spread_s: float = 90.0,
) -> list[ShopperScript]:
    shelves = sorted(layout.shelves)
    out = []
    for c in customers:
        t = t0 + float(rng.uniform(0, spread_s))
        chosen = rng.choice(len(shelves), size=int(rng.integers(visits[0], visits[1] + 1)), replace=False)
        trip = []
        prev = layout.entrance
        for k in chosen:
            shelf = shelves[int(k)]
            stand = layout.stand_point(shelf)
            t += float(np.hypot(stand[0] - prev[0], stand[1] - prev[1])) + 1.0
            stay = float(rng.uniform(*dwell))
            trip.append((shelf, t, t + stay))
            t += stay
            prev = stand
        out.append(ShopperScript(c, trip))
    return out


def neighbours(seed: int = 1) -> Scenario:
    """One aisle, 2 x 4 shelves; shoppers at neighbouring and facing shelves at the same time."""
    layout = aisle_store(2, 4)
    rng = np.random.default_rng(seed)
    c = make_customers(6, seed=seed)
    g = ShelfId
    t = T_REF
    scripts = [
        ShopperScript(c[0], [(g(1, 1), t + 10, t + 60), (g(1, 3), t + 70, t + 130)]),
        ShopperScript(c[1], [(g(1, 2), t + 12, t + 70), (g(2, 2), t + 80, t + 140)]),
        ShopperScript(c[2], [(g(2, 1), t + 15, t + 90)]),
        ShopperScript(c[3], [(g(2, 3), t + 20, t + 75), (g(1, 4), t + 85, t + 150)]),
        ShopperScript(c[4], [(g(1, 3), t + 25, t + 60), (g(2, 4), t + 70, t + 100)]),
        ShopperScript(c[5], [(g(2, 2), t + 30, t + 70), (g(1, 1), t + 80, t + 160)]),
    ]
    scripts += [
        ShopperScript(s, [(g(1 + i % 2, 1 + i % 4), t + 5 + 3 * i, t + 150)])
        for i, s in enumerate(_strangers(4, rng))
    ]
    picks = [p for s in scripts if s.customer.enrolled for p in _picks_for(s, rng)]
    return Scenario("neighbours", layout, tuple(scripts), tuple(sorted(picks, key=lambda p: p.t)))


def busy(seed: int = 2) -> Scenario:
    """Two aisles, 4 x 5 shelves, 16 shoppers on random trips, 6 strangers."""
    layout = aisle_store(4, 5)
    rng = np.random.default_rng(seed)
    customers = make_customers(16, seed=seed) + _strangers(6, rng)
    scripts = _random_trips(layout, customers, rng, T_REF)
    picks = [p for s in scripts if s.customer.enrolled for p in _picks_for(s, rng)]
    return Scenario("busy", layout, tuple(scripts), tuple(sorted(picks, key=lambda p: p.t)))


def long_dwell(seed: int = 3) -> Scenario:
    """Shoppers staying across two token rotations (rotation must not split a shopper)."""
    layout = aisle_store(2, 3)
    rng = np.random.default_rng(seed)
    c = make_customers(3, seed=seed)
    t = T_REF
    scripts = [
        ShopperScript(c[0], [(ShelfId(1, 1), t + 10, t + 800)]),
        ShopperScript(c[1], [(ShelfId(1, 2), t + 20, t + 400), (ShelfId(2, 3), t + 410, t + 760)]),
        ShopperScript(c[2], [(ShelfId(2, 1), t + 30, t + 700)]),
        ShopperScript(_strangers(1, rng)[0], [(ShelfId(2, 2), t + 5, t + 800)]),
    ]
    picks = [p for s in scripts if s.customer.enrolled for p in _picks_for(s, rng)]
    return Scenario("long-dwell", layout, tuple(scripts), tuple(sorted(picks, key=lambda p: p.t)))


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "neighbours": neighbours,
    "busy": busy,
    "long-dwell": long_dwell,
}


def starting_at(scenario: Scenario, start: float) -> Scenario:
    """The same scenario with every time shifted so that its first visit begins at ``start``."""
    first = min(v[1] for s in scenario.scripts for v in s.visits)
    dt = start - first
    scripts = tuple(
        ShopperScript(s.customer, [(shelf, a + dt, b + dt) for shelf, a, b in s.visits], s.advert_interval_s)
        for s in scenario.scripts
    )
    picks = tuple(Pick(p.t + dt, p.shopper, p.shelf) for p in scenario.picks)
    return Scenario(scenario.name, scenario.layout, scripts, picks, scenario.store)
