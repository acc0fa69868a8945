"""Camera scenarios with ground truth: who reached into which lane, when, and what they left with.

A scenario is data (frozen dataclasses) generated from a seed; ``ScenarioPlayer`` turns it into the
frame at any time ``t`` (a pure function of ``t``: the same scenario gives the same frames), and into
per-lane labels for training. Products come from the catalogue (Online Retail stock codes); unit
weights are the demo store's (simulators.store_layout.unit_weight) unless a scenario overrides them,
as the similar-weight scenario does.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from simulators.camera.render import SKIN_TONES, Arm, Occluder, ShelfGeometry, ShelfRenderer
from simulators.store_layout import unit_weight

ReachKind = Literal["pick", "return", "touch"]
SCENARIOS = ("basic", "similar-weight", "two-shoppers", "busy", "unseen")


@dataclass(frozen=True, slots=True)
class Reach:
    """One arm reaching into one lane: ground truth of one interaction."""

    lane: int
    t0: float
    reach_s: float
    dwell_s: float
    withdraw_s: float
    kind: ReachKind
    product_id: str
    shopper: str
    quantity: int = 1
    base_dx: float = 0.0
    target_y: float = 90.0
    skin: int = 0
    sleeve: tuple[int, int, int] = (90, 60, 40)

    @property
    def t_end(self) -> float:
        return self.t0 + self.reach_s + self.dwell_s + self.withdraw_s

    @property
    def t_swap(self) -> float:
        """When the item leaves (pick) or joins (return) the facings."""
        return self.t0 + self.reach_s + self.dwell_s / 2


@dataclass(frozen=True, slots=True)
class Pass:
    """An occluder crossing the aisle in front of the shelf (a shopper's back, a trolley)."""

    t0: float
    duration_s: float
    y: float
    rx: float
    ry: float
    colour: tuple[int, int, int]
    left_to_right: bool = True


@dataclass(frozen=True, slots=True)
class Visit:
    """A shopper standing at the shelf (what the presence core would report)."""

    shopper: str
    t_arrive: float
    t_leave: float
    score: float


@dataclass(frozen=True, slots=True)
class CameraScenario:
    name: str
    seed: int
    products: tuple[str, ...]
    weights_g: tuple[float, ...]
    reaches: tuple[Reach, ...]
    passes: tuple[Pass, ...]
    visits: tuple[Visit, ...]
    duration_s: float
    fps: float = 15.0
    lighting: tuple[tuple[float, float], ...] = ()  # (t, gain) steps
    noise_sigma: float = 3.0
    geometry: ShelfGeometry = field(default_factory=ShelfGeometry)
    #: Plate (load cell) under each lane; two lanes may share one wide plate.
    plates: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    #: Units on each lane at the start (the camera shows up to 6 facings).
    facings: tuple[int, ...] = (6, 6, 6, 6, 6, 6)
    #: Colour channels of the rendered frame in this order (another palette than the training
    #: renders: the "unseen" scenario), and a left-right lighting gradient.
    palette: tuple[int, int, int] = (0, 1, 2)
    gradient: float = 0.0


def _interp(a: float, b: float, u: float) -> float:
    u = min(max(u, 0.0), 1.0)
    u = u * u * (3 - 2 * u)  # ease in/out
    return a + (b - a) * u


@dataclass(slots=True)
class ScenarioPlayer:
    """Frames and labels of a scenario at any time."""

    scenario: CameraScenario
    #: Reaches added while running (a live demo scripting the camera), on top of the scenario's.
    live: list[Reach] = field(default_factory=list)
    renderer: ShelfRenderer = field(init=False)

    def __post_init__(self) -> None:
        s = self.scenario
        self.renderer = ShelfRenderer(list(s.products), s.geometry, noise_sigma=s.noise_sigma, seed=s.seed)

    def arms_at(self, t: float) -> list[tuple[Arm, Reach]]:
        g = self.scenario.geometry
        out = []
        for r in (*self.scenario.reaches, *self.live):
            if not r.t0 <= t < r.t_end:
                continue
            x0, x1 = g.lane_x(r.lane)
            x = (x0 + x1) / 2 + 0.15 * r.base_dx
            start_y = g.height + 40.0
            if t < r.t0 + r.reach_s:
                y = _interp(start_y, r.target_y, (t - r.t0) / r.reach_s)
            elif t < r.t0 + r.reach_s + r.dwell_s:
                y = r.target_y + 3 * math.sin((t - r.t0) * 9.0)
            else:
                y = _interp(r.target_y, start_y, (t - r.t0 - r.reach_s - r.dwell_s) / r.withdraw_s)
            holding = None
            if (r.kind == "pick" and t >= r.t_swap) or (r.kind == "return" and t < r.t_swap):
                holding = r.product_id
            out.append((Arm(x, y, x + r.base_dx, r.skin, r.sleeve, holding), r))
        return out

    def facings_at(self, t: float) -> list[int]:
        s = self.scenario
        counts = list(s.facings)
        for r in (*s.reaches, *self.live):
            if r.t_swap <= t and r.kind != "touch":
                counts[r.lane] += -r.quantity if r.kind == "pick" else r.quantity
        return [min(6, max(0, c)) for c in counts]

    def occluders_at(self, t: float) -> list[Occluder]:
        g = self.scenario.geometry
        out = []
        for p in self.scenario.passes:
            if p.t0 <= t < p.t0 + p.duration_s:
                u = (t - p.t0) / p.duration_s
                span = g.width + 2 * p.rx
                x = -p.rx + u * span if p.left_to_right else g.width + p.rx - u * span
                out.append(Occluder(x, p.y, p.rx, p.ry, p.colour))
        return out

    def gain_at(self, t: float) -> float:
        gain = 1.0
        for t_step, g in self.scenario.lighting:
            if t >= t_step:
                gain = g
        return gain * (1.0 + 0.03 * math.sin(t * 0.7))

    def frame_at(self, t: float, noise: bool = True) -> np.ndarray:
        """The frame at ``t`` (BGR uint8; the buffer is reused by the next call)."""
        self.renderer.facings = self.facings_at(t)
        arms = [a for a, _ in self.arms_at(t)]
        frame = self.renderer.render(
            arms, self.occluders_at(t), gain=self.gain_at(t), gradient=self.scenario.gradient, noise=noise
        )
        if self.scenario.palette != (0, 1, 2):
            frame[:] = frame[:, :, list(self.scenario.palette)]
        return frame

    def lane_labels_at(self, t: float) -> list[tuple[int, str | None]]:
        """Per lane: 0 no hand, 1 empty hand, 2 hand holding an item (and which product)."""
        g = self.scenario.geometry
        labels: list[tuple[int, str | None]] = [(0, None)] * g.lanes
        lane_bottom = g.rail_bottom + 12
        for arm, _ in self.arms_at(t):
            if arm.y + 6 > lane_bottom:  # hand not (yet) inside the lane region
                continue
            for lane in range(g.lanes):
                x0, x1 = g.lane_x(lane)
                if x0 <= arm.x < x1:
                    labels[lane] = (2, arm.holding) if arm.holding else (1, None)
        return labels


def make_reach(
    rng: random.Random, lane: int, t0: float, kind: ReachKind, product: str, shopper: str
) -> Reach:
    """One reach with natural random timing, arm angle, depth, skin tone and sleeve."""
    return Reach(
        lane=lane,
        t0=round(t0, 3),
        reach_s=rng.uniform(0.45, 0.8),
        dwell_s=rng.uniform(0.4, 1.0),
        withdraw_s=rng.uniform(0.45, 0.8),
        kind=kind,
        product_id=product,
        shopper=shopper,
        base_dx=rng.uniform(-50, 50),
        target_y=rng.uniform(60, 120),
        skin=rng.randrange(len(SKIN_TONES)),
        sleeve=(rng.randrange(20, 230), rng.randrange(20, 230), rng.randrange(20, 230)),
    )


def build_scenario(name: str, catalogue: list[str], seed: int = 1, reaches: int = 24) -> CameraScenario:
    """A named scenario on one 6-lane shelf, products drawn from ``catalogue`` (>= 6 codes)."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown camera scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    if len(catalogue) < 6:
        raise ValueError("a camera scenario needs at least 6 catalogue products")
    rng = random.Random(f"{name}/{seed}")
    products = rng.sample(catalogue, 6)
    weights = [unit_weight(p) for p in products]
    facings = tuple(rng.randint(3, 6) for _ in products)
    plates = (1, 2, 3, 4, 5, 6)
    if name == "similar-weight":
        # Lanes 2 and 3 hold two different products 2 % apart in weight on one wide plate (plate 3):
        # weight alone cannot tell them apart.
        weights[3] = round(weights[2] * 1.02, 1)
        plates = (1, 2, 3, 3, 4, 5)
    shoppers = ["s-a", "s-b"] if name == "two-shoppers" else ["s-a"]
    t = 1.0
    made: list[Reach] = []
    in_hand: dict[str, list[tuple[int, str]]] = {s: [] for s in shoppers}
    lane_pool = [2, 3, 2, 3, 0, 1, 4, 5] if name == "similar-weight" else list(range(6))
    stock = list(facings)
    for i in range(reaches):
        shopper = shoppers[i % len(shoppers)]
        held = in_hand[shopper]
        roll = rng.random()
        if held and roll < 0.2:
            lane, product = held.pop(rng.randrange(len(held)))
            kind: ReachKind = "return"
        else:
            lane = rng.choice(lane_pool)
            product = products[lane]
            kind = "touch" if roll > 0.85 else "pick"
            if kind == "pick":
                held.append((lane, product))
        r = make_reach(rng, lane, t, kind, product, shopper)
        if name == "two-shoppers" and len(made) % 2 == 1:
            # Two shoppers side by side: the second arm starts while the first is in, in another lane.
            prev = made[-1]
            far = [ln for ln in range(6) if abs(ln - prev.lane) >= 2]
            if kind != "return":
                lane = rng.choice(far)
                product = products[lane]
                if kind == "pick":
                    held[-1] = (lane, product)
            r = make_reach(rng, lane, prev.t0 + rng.uniform(0.2, 0.8), kind, product, shopper)
            t = max(prev.t_end, r.t_end) + rng.uniform(0.8, 1.6)
        else:
            t = r.t_end + rng.uniform(0.8, 1.8)
        if r.kind == "pick" and stock[r.lane] <= 0:  # nothing left to take: the hand only touches
            held.remove((r.lane, r.product_id))
            r = replace(r, kind="touch")
        stock[r.lane] += {"pick": -1, "return": 1, "touch": 0}[r.kind]
        made.append(r)
    duration = max((r.t_end for r in made), default=0.0) + 1.5
    passes: list[Pass] = []
    lighting: list[tuple[float, float]] = []
    noise = 3.0
    if name in ("busy", "unseen"):
        for k in range(int(duration // 6)):
            passes.append(
                Pass(
                    t0=rng.uniform(0, duration - 3),
                    duration_s=rng.uniform(2.0, 4.0),
                    y=rng.uniform(200, 250),
                    rx=rng.uniform(50, 90),
                    ry=rng.uniform(40, 70),
                    colour=(rng.randrange(20, 200), rng.randrange(20, 200), rng.randrange(20, 200)),
                    left_to_right=k % 2 == 0,
                )
            )
        lighting = [(rng.uniform(2, duration - 2), rng.uniform(0.7, 1.25)) for _ in range(3)]
        lighting.sort()
        noise = 5.0
    palette, gradient = (0, 1, 2), 0.0
    if name == "unseen":  # what the lane model never saw: another palette, lighting, more noise
        palette, gradient, noise = (2, 0, 1), 0.25, 9.0
        lighting = [(rng.uniform(2, duration - 2), rng.uniform(0.6, 1.4)) for _ in range(4)]
        lighting.sort()
    visits = tuple(Visit(s, 0.0, duration, score=1.0 - 0.1 * k) for k, s in enumerate(shoppers))
    return CameraScenario(
        name=name,
        seed=seed,
        products=tuple(products),
        weights_g=tuple(weights),
        reaches=tuple(made),
        passes=tuple(passes),
        visits=visits,
        duration_s=round(duration, 3),
        lighting=tuple(lighting),
        noise_sigma=noise,
        palette=palette,
        gradient=gradient,
        plates=plates,
        facings=facings,
    )
