"""Which product(s), and how many, explain a settled weight change on some plates of a shelf.

Pure. A hypothesis is a multiset of products (one product x q units, or two different products, for
a hand that takes two things at once). Its score combines:

- a Gaussian likelihood of the measured |delta| against the hypothesis' total catalogue weight, with
  sigma = sqrt(abs_sigma^2 + (rel_sigma * expected)^2): REFERENCE.md reports measured changes about
  4 % off the catalogue weight (101.5 g for 105.5 g), i.e. 2 sigma at rel_sigma = 2 %, and an absolute
  part for the noise left in the settled means;
- an arrangement prior: products lying on the plates that changed are likelier than products one
  plate away (an item put back on the wrong plate), as in the CMU "MPS" AutoCheckout winner;
- a complexity prior: several units, or two products at once, are rarer than one unit.

An "unknown" hypothesis with the likelihood of a 3.5-sigma miss competes with them, so a change that
no product explains is reported with ``product_id`` None. The confidence is the best hypothesis'
posterior probability; for an unknown change it is the (low) probability that some product of the
planogram explains it after all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edge.events import ShelfId
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
    unknown_z: float = 3.5


@dataclass(frozen=True, slots=True)
class Assignment:
    """Part of a weight change explained by ``quantity`` units of ``product`` (None: unknown)."""

    product: Product | None
    quantity: int
    grams: float  # expected catalogue grams of this part (measured grams when unknown)
    confidence: float


def _gauss(measured: float, expected: float, p: IdentifyParams) -> float:
    sigma = math.sqrt(p.abs_sigma_g**2 + (p.rel_sigma * expected) ** 2)
    z = (measured - expected) / sigma
    return math.exp(-0.5 * z * z) / sigma


def identify(
    delta_g: float,
    shelf: ShelfId,
    plates: tuple[int, ...],
    planogram: Planogram,
    params: IdentifyParams = IdentifyParams(),
) -> list[Assignment]:
    """Best explanation of ``|delta_g|`` on ``plates``: one assignment, or two for a pair of products."""
    grams = abs(delta_g)
    direct = {p.product_id: p for plate in plates for p in planogram.at(shelf, plate)}
    near = {p.product_id: p for p in planogram.near(shelf, plates, reach=1)}
    neighbour = params.neighbour_prior_pick if delta_g < 0 else params.neighbour_prior_return
    prior = {pid: (1.0 if pid in direct else neighbour) for pid in near}
    candidates = list(near.values())
    hypotheses: list[tuple[float, tuple[tuple[Product, int], ...]]] = []
    for product in candidates:
        w = product.unit_weight_g
        q_best = max(1, round(grams / w))
        for q in range(max(1, q_best - 1), min(params.max_quantity, q_best + 1) + 1):
            score = (
                prior[product.product_id] * params.extra_unit_prior ** (q - 1) * _gauss(grams, q * w, params)
            )
            hypotheses.append((score, ((product, q),)))
    if len(plates) > 1 and len(candidates) > 1:
        direct_list = [p for p in candidates if p.product_id in direct]
        for i, a in enumerate(direct_list):
            for b in direct_list[i + 1 :]:
                for qa in range(1, 4):
                    rest = grams - qa * a.unit_weight_g
                    if rest <= 0:
                        break
                    qb = max(1, round(rest / b.unit_weight_g))
                    if qa + qb > params.max_quantity:
                        continue
                    expected = qa * a.unit_weight_g + qb * b.unit_weight_g
                    score = (
                        params.pair_prior
                        * params.extra_unit_prior ** (qa + qb - 2)
                        * _gauss(grams, expected, params)
                    )
                    hypotheses.append((score, ((a, qa), (b, qb))))
    sigma_unknown = math.sqrt(params.abs_sigma_g**2 + (params.rel_sigma * grams) ** 2)
    unknown = math.exp(-0.5 * params.unknown_z**2) / sigma_unknown
    total = unknown + sum(h[0] for h in hypotheses)
    if not hypotheses or max(h[0] for h in hypotheses) <= unknown:
        return [Assignment(None, 0, grams, round(1.0 - unknown / total, 3))]
    score, parts = max(hypotheses, key=lambda h: h[0])
    confidence = round(score / total, 3)
    return [Assignment(product, q, q * product.unit_weight_g, confidence) for product, q in parts]
