"""Which product(s), and how many, explain the settled weight changes of some plates of a shelf.

Pure. The input is the change of each plate (per-plate deltas), not only their sum: real shelves
(issue 17) have items resting on two plates at once, hands that lean on and nudge the next plate,
and look-alike products side by side (105.5 g on plates 4-5 next to 103.9 g on plate 3), so the sum
over "the plates that moved" names the wrong neighbour. A hypothesis says which product, how many
units, and *which plates carry its change* (a run of neighbouring plates that meets the product's
facing, the plates the planogram lists it on). Its score combines:

- a Gaussian likelihood of the change on those plates against the catalogue weight, with
  sigma = sqrt(abs_sigma^2 + (rel_sigma * expected)^2): REFERENCE.md reports measured changes about
  4 % off the catalogue weight (101.5 g for 105.5 g), i.e. 2 sigma at rel_sigma = 2 %, and an absolute
  part for the noise left in the settled means;
- where the change is: each plate of the run beyond the facing (an item overhanging onto the next
  plate) costs ``overhang_prior``; each other plate that changed is a disturbance (a hand leaning on
  it, load nudged across a boundary), heavy-tailed: 1 / (1 + (delta / disturbance_g)^2);
- an arrangement prior: a product whose facing is not among the changed plates can only have been
  misplaced there (the CMU "MPS" AutoCheckout winner's arrangement prior);
- a complexity prior: several units, or two products at once, are rarer than one unit.

Two products at once are scored on separate runs of plates when their facings allow (two hands on
neighbouring facings become two events, each with its own plates and change), else on their sum.
An "unknown" hypothesis with the likelihood of a 3.5-sigma miss competes, so a change that no product
explains is reported with ``product`` None. The confidence is the best hypothesis' posterior
probability; for an unknown change it is the (low) probability that a planogram product explains it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from edge.events import EventKind, ShelfId, WeightEvent
from edge.sensing.planogram import Planogram, Product


@dataclass(frozen=True, slots=True)
class IdentifyParams:
    rel_sigma: float = 0.02
    abs_sigma_g: float = 2.0
    max_quantity: int = 12
    neighbour_prior_pick: float = 0.02  # taken from a plate it is not listed on: it was misplaced there
    neighbour_prior_return: float = 0.1  # put back on the wrong plate: common
    extra_unit_prior: float = 0.35  # each unit beyond the first
    pair_prior: float = 0.15  # two different products at once
    overhang_prior: float = 0.3  # each plate of the change beyond the product's facing
    disturbance_g: float = 10.0  # scale of a lasting change on a plate no product explains
    facing_share_sigma: float = 0.3  # of the summed change, the part off the facing(s), in sigmas
    mixed_pair_prior: float = 0.5  # a pick and a return at once (times pair_prior)
    unknown_z: float = 3.5


@dataclass(frozen=True, slots=True)
class Assignment:
    """Part of a weight change explained by ``quantity`` units of ``product`` (None: unknown)."""

    product: Product | None
    quantity: int
    grams: float  # expected catalogue grams of this part (measured grams when unknown)
    confidence: float
    plates: tuple[int, ...] = ()  # plates whose change this part explains
    delta_g: float = 0.0  # their measured signed change


def _gauss(measured: float, expected: float, p: IdentifyParams, weight: float | None = None) -> float:
    """Likelihood of ``measured`` grams for ``expected``; the relative error scales with the weight
    that moved (``weight``, by default ``expected``: for a pick and a return at once, both)."""
    sigma = math.sqrt(p.abs_sigma_g**2 + (p.rel_sigma * (expected if weight is None else weight)) ** 2)
    z = (measured - expected) / sigma
    return math.exp(-0.5 * z * z) / sigma


# a hypothesis: score, and parts (product, quantity, plates, signed change on them)
_Part = tuple[Product, int, tuple[int, ...], float]


def _runs(
    plates: list[int], facing: tuple[int, ...], p: IdentifyParams
) -> Iterator[tuple[tuple[int, ...], float]]:
    """Runs of neighbouring changed plates that can carry one product, and their prior: each run
    meets the facing and reaches at most one plate beyond it on either side."""
    if not facing:
        return
    lo_f, hi_f = min(facing) - 1, max(facing) + 1
    on = set(facing)
    for i, a in enumerate(plates):
        if a < lo_f:
            continue
        for j in range(i, len(plates)):
            b = plates[j]
            if b > hi_f or (j > i and b - plates[j - 1] > 1):
                break
            run = tuple(plates[i : j + 1])
            extra = sum(1 for c in run if c not in on)
            if extra < len(run):
                yield run, p.overhang_prior**extra


def _pair_sums(
    a: Product,
    b: Product,
    total: float,
    mixed: bool,
    plates: tuple[int, ...],
    p: IdentifyParams,
) -> Iterator[tuple[float, tuple[_Part, ...]]]:
    """Two products whose changes are only seen summed: both taken (or both put back), or, when
    some plates rose and others fell, one taken while the other is put back."""
    signs = [(1.0, 1.0)] + ([(1.0, -1.0), (-1.0, 1.0)] if mixed else [])
    sign = 1.0 if total >= 0 else -1.0
    for sa, sb in signs:
        prior = p.pair_prior * (p.mixed_pair_prior if sa != sb else 1.0)
        for qa in range(1, 4):
            left = sign * total - sa * qa * a.unit_weight_g  # what b must explain, signed
            qb = max(1, round(abs(left) / b.unit_weight_g))
            if qa + qb > p.max_quantity or (left > 0) != (sb > 0):
                continue
            expected = sa * qa * a.unit_weight_g + sb * qb * b.unit_weight_g
            if expected <= 0:
                continue
            moved = qa * a.unit_weight_g + qb * b.unit_weight_g
            score = prior * p.extra_unit_prior ** (qa + qb - 2) * _gauss(sign * total, expected, p, moved)
            part_a = sign * sa * qa * a.unit_weight_g
            yield score, ((a, qa, plates, part_a), (b, qb, plates, sign * sb * qb * b.unit_weight_g))


def identify(
    deltas: Mapping[int, float],
    shelf: ShelfId,
    planogram: Planogram,
    params: IdentifyParams = IdentifyParams(),
) -> list[Assignment]:
    """Best explanation of the per-plate changes ``deltas`` (plate -> signed grams): one assignment,
    or two for a pair of products."""
    p = params
    plates = sorted(deltas)
    total = sum(deltas.values())
    mixed = min(deltas.values()) < -p.disturbance_g and max(deltas.values()) > p.disturbance_g
    disturb = {c: 1.0 / (1.0 + (deltas[c] / p.disturbance_g) ** 2) for c in plates}
    candidates = planogram.near(shelf, plates, reach=1)
    facings = {a.product_id: planogram.plates_of(shelf, a.product_id) for a in candidates}

    def against(run: tuple[int, ...] | list[int], change: float) -> float:
        """One item's change is one-signed: plates of its run that moved the other way disturb it."""
        f = 1.0
        for c in run:
            if deltas[c] * change < 0:
                f *= disturb[c]
        return f

    def facing_share(run: tuple[int, ...] | list[int], *parts: tuple[Product, float]) -> float:
        """Likelihood of the part of the change on ``run`` that lies off the facings of these
        (product, sign) parts: a plate counts for a part when it moved the part's way."""
        mass = sum(abs(deltas[c]) for c in run)
        if not mass:
            return 0.0
        on = 0.0
        for c in run:
            if any(deltas[c] * sign > 0 and c in facings[a.product_id] for a, sign in parts):
                on += abs(deltas[c])
        f = on / mass
        return math.exp(-0.5 * ((1.0 - f) / p.facing_share_sigma) ** 2)

    def carried(part: _Part) -> float:
        """Likelihood of the part of this product's change missing from its facing's plates."""
        product, _, _, change = part
        on = sum(deltas[c] for c in facings[product.product_id] if c in deltas and deltas[c] * change > 0)
        f = min(1.0, abs(on) / abs(change)) if change else 0.0
        return math.exp(-0.5 * ((1.0 - f) / p.facing_share_sigma) ** 2)

    def rest(used: set[int]) -> float:
        f = 1.0
        for c in plates:
            if c not in used:
                f *= disturb[c]
        return f

    # every product's possible runs: (run, prior, signed change on it, disturbance of the rest)
    options: dict[str, list[tuple[tuple[int, ...], float, float]]] = {}
    for product in candidates:
        facing = facings[product.product_id]
        runs = [
            (run, prior * facing_share(run, (product, sum(deltas[c] for c in run))))
            for run, prior in _runs(plates, facing, p)
        ]
        if not runs:  # misplaced: the whole change, at the arrangement prior
            runs = [(tuple(plates), p.neighbour_prior_pick if total < 0 else p.neighbour_prior_return)]
        options[product.product_id] = []
        for run, prior in runs:
            change = sum(deltas[c] for c in run)
            options[product.product_id].append((run, prior * against(run, change), change))

    # one product: the same explanation reached two ways (its run is all the plates) counts once
    one: dict[tuple[str, int, tuple[int, ...]], tuple[float, tuple[_Part, ...]]] = {}

    def keep(score: float, part: _Part) -> None:
        key = (part[0].product_id, part[1], part[2])
        if key not in one or one[key][0] < score:
            one[key] = (score, (part,))

    hypotheses: list[tuple[float, tuple[_Part, ...]]] = []
    singles: dict[str, list[tuple[float, _Part]]] = {}
    for product in candidates:
        w = product.unit_weight_g
        best: list[tuple[float, _Part]] = []
        for run, prior, change in options[product.product_id]:
            grams = abs(change)
            q_best = max(1, round(grams / w))
            others = rest(set(run))
            for q in range(max(1, q_best - 1), min(p.max_quantity, q_best + 1) + 1):
                like = prior * p.extra_unit_prior ** (q - 1) * _gauss(grams, q * w, p)
                part: _Part = (product, q, run, change)
                best.append((like, part))
                keep(like * others, part)
        best.sort(key=lambda h: -h[0])
        singles[product.product_id] = best[:4]
        # the summed change (load nudged across a boundary cancels out), where it lies
        share, grams = facing_share(plates, (product, total)) * against(plates, total), abs(total)
        if share > 1e-6:
            # reported on the plates that carry it: its facing, and others that moved as much
            facing = facings[product.product_id]
            carrying = tuple(
                c
                for c in plates
                if deltas[c] * total > 0 and (c in facing or abs(deltas[c]) > p.disturbance_g)
            )
            q_best = max(1, round(grams / w))
            for q in range(max(1, q_best - 1), min(p.max_quantity, q_best + 1) + 1):
                like = share * p.extra_unit_prior ** (q - 1) * _gauss(grams, q * w, p)
                keep(like, (product, q, carrying, total))
    # pairs that could not come near the best single explanation are not scored (their share of
    # the confidence would be under 1e-4 of it)
    floor = 1e-4 * max((h[0] for h in one.values()), default=0.0)
    if len(plates) > 1 and len(candidates) > 1:
        for i, a in enumerate(candidates):
            for b in candidates[i + 1 :]:
                # on separate plates: each product's change measured on its own run
                for la, pa in singles[a.product_id]:
                    for lb, pb in singles[b.product_id]:
                        if p.pair_prior * la * lb < floor or set(pa[2]) & set(pb[2]):
                            continue
                        score = p.pair_prior * la * lb * rest(set(pa[2]) | set(pb[2]))
                        hypotheses.append((score, (pa, pb) if pa[2] < pb[2] else (pb, pa)))
                # on the same plates (or facings too close to tell): their sum
                apart = not set(facings[a.product_id]) & set(facings[b.product_id])
                for score, parts in _pair_sums(a, b, total, mixed, tuple(plates), p):
                    if score < floor:
                        continue
                    share = facing_share(plates, *((x, change) for x, _, _, change in parts))
                    if apart:  # each facing must carry about its own product's change
                        share *= carried(parts[0]) * carried(parts[1])
                    if share > 1e-6:
                        hypotheses.append((score * share, parts))
    sigma_unknown = math.sqrt(p.abs_sigma_g**2 + (p.rel_sigma * abs(total)) ** 2)
    unknown = math.exp(-0.5 * p.unknown_z**2) / sigma_unknown
    hypotheses.extend(one.values())
    everything = unknown + sum(h[0] for h in hypotheses)
    if not hypotheses or max(h[0] for h in hypotheses) <= unknown:
        return [Assignment(None, 0, abs(total), round(1.0 - unknown / everything, 3), tuple(plates), total)]
    score, parts = max(hypotheses, key=lambda h: h[0])
    confidence = round(score / everything, 3)
    return [
        Assignment(product, q, q * product.unit_weight_g, confidence, run, change)
        for product, q, run, change in parts
    ]


def weight_events(
    parts: list[Assignment], shelf: ShelfId, t_start: float, t_end: float, penalty: float, min_event_g: float
) -> list[WeightEvent]:
    """Identified parts of a settled change -> pick/return events (parts under ``min_event_g``, a
    nudge or lean that no product explains, give none; ``penalty`` scales the confidence)."""
    events = []
    for part in parts:
        if abs(part.delta_g) < min_event_g:
            continue
        kind: EventKind = "pick" if part.delta_g < 0 else "return"
        events.append(
            WeightEvent(
                t_start=t_start,
                t_end=t_end,
                shelf=shelf,
                plates=part.plates,
                delta_g=round(part.delta_g, 2),
                kind=kind,
                product_id=part.product.product_id if part.product else None,
                quantity=part.quantity,
                confidence=round(part.confidence * penalty, 3),
            )
        )
    return events
