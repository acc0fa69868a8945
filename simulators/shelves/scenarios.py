"""Sensing scenarios with ground truth: a planogram, a physics timeline, the samples it produces.

Every scenario is deterministic for its seed. The samples go through the same path as in a store:
``render`` gives grams, the firmware's ADC model quantises them to 0.241 g counts, and (for the
faulty-serial scenario) they are framed with the shelf protocol, damaged on the line, decoded by
the bridge's decoder and calibrated, with an unplug that loses a few seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge.events import SampleBatch, ShelfId
from edge.sensing.planogram import Placement, Planogram, Product
from shelf_firmware_bridge import protocol as P
from simulators.shelves.physics import Interaction, ShelfPhysics

T0 = 1_750_000_000.0
G_PER_COUNT = 0.241
SHELF = ShelfId(1, 1)
PLATES = 12
RATE = 60.0


@dataclass(frozen=True, slots=True)
class Item:
    product_id: str
    grams: float
    plates: tuple[int, ...]


@dataclass(slots=True)
class Scenario:
    name: str
    description: str
    seed: int
    duration_s: float
    items: list[Item]
    physics: ShelfPhysics
    truth: list[Interaction] = field(default_factory=list)
    faulty: bool = False

    @property
    def planogram(self) -> Planogram:
        placements: list[Placement] = []
        for item in self.items:
            product = Product(item.product_id, item.product_id, item.grams, 1.0)
            placements.extend(Placement(product, SHELF, plate) for plate in item.plates)
        return Planogram(placements)

    @property
    def events(self) -> list[Interaction]:
        return [i for i in self.truth if i.kind != "lean"]

    def add(self, kind: str, at: float, item: Item, hold_s: float, quantity: int = 1) -> None:
        assert kind in ("pick", "return", "lean")
        it = self.physics.schedule(
            kind,  # type: ignore[arg-type]
            at,
            item.plates,
            item.grams * quantity,
            hold_s,
            item.product_id if kind != "lean" else None,
            quantity,
        )
        self.truth.append(it)

    def batches(self, batch: int = 6) -> Iterator[SampleBatch]:
        """The shelf's sample batches as the daemon receives them."""
        plates = tuple(range(1, PLATES + 1))
        for t, grams in self._stream(batch):
            yield SampleBatch(SHELF, plates, tuple(t.tolist()), tuple(map(tuple, grams.tolist())))

    def _stream(self, batch: int) -> Iterator[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
        rng = np.random.default_rng(self.seed + 7)
        zero = rng.integers(-40_000, 40_000, PLATES)
        n = int(self.duration_s * RATE)
        decoder = P.FrameDecoder()
        unplug = (T0 + self.duration_s * 0.5, T0 + self.duration_s * 0.5 + 3.0)
        seq = 0
        for k in range(0, n, batch):
            t = T0 + np.arange(k, min(n, k + batch), dtype=np.float64) / RATE
            raw = (zero + np.round(self.physics.render(t) / G_PER_COUNT)).astype(np.int32)
            if not self.faulty:
                yield t, ((raw - zero) * G_PER_COUNT).astype(np.float64)
                continue
            if unplug[0] <= t[0] < unplug[1]:
                continue
            for i in range(len(t)):  # one sample per frame: short frames survive a noisy line
                us = round((float(t[i]) - T0) * 1e6)
                wire = bytearray(P.encode_frame(P.Samples(us, round(1e6 / RATE), 1, raw[i : i + 1]), seq))
                seq = (seq + 1) & 0xFFFF
                for frame in decoder.feed(_damage(wire, rng, rate=0.01)):
                    msg = frame.message
                    if isinstance(msg, P.Samples):
                        ts = T0 + (msg.t0_us + np.arange(msg.n_samples) * msg.period_us) / 1e6
                        yield ts.astype(np.float64), ((msg.raw - zero) * G_PER_COUNT).astype(np.float64)


def _damage(wire: bytearray, rng: np.random.Generator, rate: float) -> bytes:
    """Damage ``rate`` of the bytes: half get a flipped bit, half are lost on the line."""
    hits = np.nonzero(rng.random(len(wire)) < rate)[0]
    keep = np.ones(len(wire), dtype=bool)
    for i in hits:
        if rng.random() < 0.5:
            wire[i] ^= 1 << int(rng.integers(0, 8))
        else:
            keep[i] = False
    return bytes(np.frombuffer(bytes(wire), dtype=np.uint8)[keep])


# ---------------------------------------------------------------------------------------- catalogue
def _items(rng: np.random.Generator, similar: bool = False) -> list[Item]:
    """Twelve plates of products: single-plate items and two that lie across two plates."""
    items: list[Item] = []
    layout: list[tuple[int, ...]] = [(1,), (2,), (3, 4), (5,), (6,), (7,), (8, 9), (10,), (11,), (12,)]
    # log-spaced weights 60-900 g, neighbours in weight at least 25 % apart, then shuffled over plates
    gaps = np.log(1.25) + rng.dirichlet(np.ones(len(layout))) * (
        np.log(900 / 60) - (len(layout) - 1) * np.log(1.25)
    )
    spread = 60.0 * np.exp(np.concatenate([[0.0], np.cumsum(gaps[: len(layout) - 1])]))
    order = rng.permutation(len(layout))
    weights: list[float] = []
    for i, plates in enumerate(layout):
        if similar and i % 2 == 1:
            w = weights[-1] * float(rng.uniform(1.08, 1.15))  # a neighbour only 8-15 % heavier
        else:
            w = float(spread[order[i]])
        weights.append(round(w, 1))
        items.append(Item(f"P{i + 1:02d}", round(w, 1), plates))
    return items


def build(name: str, seed: int = 1, duration_s: float | None = None) -> Scenario:
    """Build a named scenario (see :data:`SCENARIOS`)."""
    if name not in SCENARIOS:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    rng = np.random.default_rng(seed)
    description, default_duration, spec = SCENARIOS[name]
    duration = duration_s or default_duration
    scenario = Scenario(
        name,
        description,
        seed,
        duration,
        _items(rng, similar=name == "similar"),
        ShelfPhysics(PLATES, seed, noise_scale=1.6 if name == "hard" else 1.0),
    )
    scenario.faulty = name == "faulty-serial"
    _fill(scenario, rng, **spec)  # type: ignore[arg-type]
    return scenario


def _fill(
    s: Scenario,
    rng: np.random.Generator,
    gap: tuple[float, float],
    hold: tuple[float, float] = (0.5, 3.0),
    returns: float = 0.3,
    two_hands: float = 0.0,
    leans: float = 0.0,
    multi: float = 0.1,
) -> None:
    stock = {item.product_id: 0 for item in s.items}
    t = T0 + 5.0
    end = T0 + s.duration_s - 10.0
    while t < end:
        if leans and rng.random() < leans:
            plates = tuple(sorted({int(p) for p in rng.integers(1, PLATES + 1, 2)}))
            s.add("lean", t, Item("", float(rng.uniform(200, 1500)), plates), float(rng.uniform(2, 6)))
            t += float(rng.uniform(*gap)) + 6.0
            continue
        first = s.items[int(rng.integers(len(s.items)))]
        hold_s = float(rng.uniform(*hold))
        _one(s, rng, t, first, hold_s, returns, multi, stock)
        if two_hands and rng.random() < two_hands:
            far = [i for i in s.items if min(abs(a - b) for a in i.plates for b in first.plates) >= 2]
            second = far[int(rng.integers(len(far)))]
            _one(
                s,
                rng,
                t + float(rng.uniform(0.3, 1.2)),
                second,
                float(rng.uniform(*hold)),
                returns,
                multi,
                stock,
            )
        t += hold_s + float(rng.uniform(*gap))


def _one(
    s: Scenario,
    rng: np.random.Generator,
    t: float,
    item: Item,
    hold_s: float,
    returns: float,
    multi: float,
    stock: dict[str, int],
) -> None:
    quantity = int(rng.integers(2, 4)) if rng.random() < multi else 1
    kind = "return" if stock[item.product_id] >= quantity and rng.random() < returns else "pick"
    stock[item.product_id] += quantity if kind == "pick" else -quantity
    s.add(kind, t, item, hold_s, quantity)


#: name -> (description, default duration s, generator settings)
SCENARIOS: dict[str, tuple[str, float, dict[str, object]]] = {
    "quiet": (
        "a quiet shelf: one interaction a minute, noise and drift in between",
        900.0,
        {"gap": (40.0, 80.0)},
    ),
    "busy": (
        "a busy shelf: an interaction every 2-6 s, a tenth of them several units, shoppers leaning",
        600.0,
        {"gap": (2.0, 6.0), "leans": 0.05},
    ),
    "long-holds": ("hands that stay on the shelf 5-20 s", 600.0, {"gap": (3.0, 8.0), "hold": (5.0, 20.0)}),
    "two-hands": (
        "two shoppers: a second hand starts 0.3-1.2 s after the first, two plates or more away",
        600.0,
        {"gap": (3.0, 7.0), "two_hands": 0.6},
    ),
    "similar": ("neighbouring products only 8-15 % apart in weight", 600.0, {"gap": (2.0, 6.0)}),
    "returns": ("mostly returns of what was taken", 600.0, {"gap": (2.0, 6.0), "returns": 0.5}),
    "hard": (
        "everything at once on noisier plates (1.6x): leaning, second hands, long holds, several units",
        600.0,
        {"gap": (1.0, 5.0), "hold": (0.5, 8.0), "leans": 0.1, "two_hands": 0.3, "multi": 0.2},
    ),
    "faulty-serial": (
        "busy shelf over a serial line with 1 % damaged bytes (flips and drops) and a 3 s unplug",
        600.0,
        {"gap": (2.0, 6.0)},
    ),
}
