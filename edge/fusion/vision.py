"""Weight events + camera lane interactions -> a better product and quantity decision. Pure core.

Join: a LaneInteraction matches a WeightEvent on the same shelf when their time windows overlap
(give or take ``join_slack_s``), the kinds agree (pick/return) or the camera saw a touch, and the
lane's plate is within ``plate_reach`` of a plate that changed. A touch says only where the hand
went (which plate), not what it took: a camera that cannot tell a pick from a touch (textures it
was not trained on) still settles a tie between neighbour plates whose products weigh nearly the
same (issue 17: a 105.5 g item taken from plates 4-5 next to a 103.9 g one on plate 3, in an event
whose plates were 3, 4 and 5).

Decide: every (product, quantity) the planogram offers near the changed plates is scored by
  weight likelihood   Gaussian of |delta| against quantity x unit weight (sigma: 2 g + 2 %)
  x camera likelihood  the camera's confidence when it names this product, the rest shared evenly
  x lane prior        1 when the product lies on a plate a joined hand reached (any kind),
                      ``off_lane_prior`` otherwise
  x quantity prior    ``extra_unit_prior`` per unit beyond the first.
The weight fixes the quantity, the camera separates products of similar weight, the lane separates
neighbours. The posterior of the best hypothesis is the decision's confidence.

Camera-only interactions (no weight event joined before ``expire_s``) are reported by
``VisionJoin.expired`` so the caller may count them (e.g. when a shelf's load cells are down).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from edge.events import LaneInteraction, ShelfId, WeightEvent
from edge.sensing.planogram import Planogram


@dataclass(frozen=True, slots=True)
class Candidate:
    """A product the planogram places on a plate of the shelf."""

    product_id: str
    plate: int
    unit_weight_g: float


@dataclass(frozen=True, slots=True)
class VisionFusionParams:
    join_slack_s: float = 1.5
    plate_reach: int = 1
    rel_sigma: float = 0.02
    abs_sigma_g: float = 2.0
    off_lane_prior: float = 0.3
    extra_unit_prior: float = 0.35
    max_quantity: int = 12
    #: Floor of the camera's belief in any product it did not name (a camera can be wrong).
    camera_floor: float = 0.05
    #: Interactions older than this (seconds before the newest event time seen) are expired.
    expire_s: float = 10.0


def candidates_near(
    planogram: Planogram, shelf: ShelfId, plates: Sequence[int], reach: int = 1
) -> list[Candidate]:
    """Every (product, plate) the planogram places on ``plates`` of ``shelf`` or within ``reach`` of them."""
    near: set[int] = set()
    for plate in plates:
        near.update(range(plate - reach, plate + reach + 1))
    return [
        Candidate(product.product_id, plate, product.unit_weight_g)
        for plate in sorted(near)
        for product in planogram.at(shelf, plate)
    ]


def joins(weight: WeightEvent, interaction: LaneInteraction, params: VisionFusionParams) -> bool:
    """True when ``interaction`` describes the same physical event as ``weight``."""
    if interaction.shelf != weight.shelf or interaction.kind not in (weight.kind, "touch"):
        return False
    if interaction.t_end < weight.t_start - params.join_slack_s:
        return False
    if interaction.t_start > weight.t_end + params.join_slack_s:
        return False
    return any(abs(interaction.plate - p) <= params.plate_reach for p in weight.plates)


def _gauss(measured: float, expected: float, p: VisionFusionParams) -> float:
    sigma = math.sqrt(p.abs_sigma_g**2 + (p.rel_sigma * expected) ** 2)
    z = (measured - expected) / sigma
    return math.exp(-0.5 * z * z) / sigma


def decide(
    weight: WeightEvent,
    interactions: Sequence[LaneInteraction],
    candidates: Sequence[Candidate],
    params: VisionFusionParams = VisionFusionParams(),
) -> WeightEvent:
    """``weight`` with product, quantity and confidence decided from weight and the joined interactions.

    With no candidate the event is returned unchanged; with no interaction the decision is weight
    and planogram alone (the same model as the weight core's, so the two agree).
    """
    if not candidates:
        return weight
    grams = abs(weight.delta_g)
    seen = [i for i in interactions if i.product_id is not None and i.kind == weight.kind]
    best_seen = max(seen, key=lambda i: i.confidence, default=None)
    plates = {i.plate for i in interactions} or set(weight.plates)
    others = max(1, len({c.product_id for c in candidates}) - 1)
    scores: list[tuple[float, str, int]] = []
    for c in candidates:
        lane = 1.0 if c.plate in plates else params.off_lane_prior
        camera = 1.0
        if best_seen is not None:
            conf = min(1.0, max(params.camera_floor, best_seen.confidence))
            camera = (
                conf
                if best_seen.product_id == c.product_id
                else max(params.camera_floor, (1 - conf) / others)
            )
        q_best = max(1, round(grams / c.unit_weight_g))
        for q in range(max(1, q_best - 1), min(params.max_quantity, q_best + 1) + 1):
            likelihood = _gauss(grams, q * c.unit_weight_g, params) * params.extra_unit_prior ** (q - 1)
            scores.append((likelihood * camera * lane, c.product_id, q))
    total = sum(s for s, _, _ in scores)
    if total <= 0.0:
        return weight
    score, product, quantity = max(scores, key=lambda s: s[0])
    return replace(weight, product_id=product, quantity=quantity, confidence=round(score / total, 4))


@dataclass(slots=True)
class VisionJoin:
    """Keeps recent camera interactions per shelf and joins them to weight events as they come."""

    params: VisionFusionParams = field(default_factory=VisionFusionParams)
    _pending: dict[ShelfId, list[LaneInteraction]] = field(default_factory=dict)

    def add(self, interaction: LaneInteraction) -> None:
        """Remember a camera interaction (a touch only as where a hand went)."""
        self._pending.setdefault(interaction.shelf, []).append(interaction)

    def refine(
        self, weight: WeightEvent, candidates: Sequence[Candidate]
    ) -> tuple[WeightEvent, tuple[LaneInteraction, ...]]:
        """The decided event and the interactions used (removed from the pending ones)."""
        pending = self._pending.get(weight.shelf, [])
        matched = tuple(i for i in pending if joins(weight, i, self.params))
        if matched:
            self._pending[weight.shelf] = [i for i in pending if i not in matched]
        return decide(weight, matched, candidates, self.params), matched

    def expired(self, now: float) -> list[LaneInteraction]:
        """Picks and returns no weight event claimed within ``expire_s`` (``now`` from the data);
        unclaimed touches are dropped (they changed nothing)."""
        out: list[LaneInteraction] = []
        for shelf, pending in self._pending.items():
            keep = [i for i in pending if i.t_end >= now - self.params.expire_s]
            out += [i for i in pending if i.t_end < now - self.params.expire_s and i.kind != "touch"]
            self._pending[shelf] = keep
        return out
