"""Replaying the real offer engine with other rules on logged decision contexts (pure).

For each logged decision (in time order, one engine per store, so caps and budgets evolve as
they would have, with the shopper's logged customer segments, so campaigns that target segments
reach whom they would have), the new rules' :class:`~edge.offers.decision.OfferEngine` decides again; the
new policy's probability of every product follows from its record (ranked candidates) and its
variant's mixture (:func:`action_probabilities`, the same mixture :mod:`edge.offers.policy`
draws from). Off-policy estimates of the new rules then come from :mod:`models.experiments.ope`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from edge.events import BasketEvent, ShelfId
from edge.offers.candidates import Candidate
from edge.offers.catalogue import Catalogue
from edge.offers.decision import DecisionContext, DecisionRecord, OfferEngine
from edge.offers.policy import arm_mixture, with_floor
from edge.offers.propensity import propensity_of
from edge.offers.rules import OfferRules, Variant

SHOWN = ("offered", "held-out")
NONE = ""  # the action "no offer"


def action_probabilities(
    ranked: Sequence[str], new: Sequence[bool], variant: Variant, explore_floor: float
) -> dict[str, float]:
    """P(product) under ``variant``'s mixture over a ranking (best first; ``new`` flags new
    products), from the engine's own mixture and propensity (:mod:`edge.offers.policy`): greedy
    takes the first, explore one of the first ``explore_top`` uniformly, novelty the best new
    product. Assumes the ranking holds every survivor of the filters (a record keeps 20), no new
    product outside the candidates was eligible, and no up-sell (the replay has no picked product)."""
    if not ranked:
        return {}
    variant = with_floor(variant, explore_floor)  # as the engine does (rules.explore_floor)
    top = tuple(ranked[: variant.explore_top])
    novel = next((pid for pid, is_new in zip(ranked, new, strict=True) if is_new), None)
    probs, _ = arm_mixture(
        variant.novelty_share, variant.explore_share, variant.upsell_share, True, novel is not None, False
    )
    out = {pid: propensity_of(pid, probs, top, novel, None) for pid in dict.fromkeys((*top, novel)) if pid}
    return {pid: p for pid, p in out.items() if p > 0}


def campaign_discounts(rules: OfferRules) -> Callable[[str, str, float], float | None]:
    """(product, category, t) -> the discount share of the campaign the engine would apply (the
    heaviest running one covering it; budgets not counted), or None."""

    def lookup(product_id: str, category: str, t: float) -> float | None:
        best = None
        for c in rules.campaigns:
            if c.covers(product_id, category) and c.running(t) and (best is None or c.weight > best.weight):
                best = c
        return None if best is None else best.discount_pct / 100.0

    return lookup


@dataclass(frozen=True, slots=True)
class LoggedDecision:
    """What a replay needs of one logged decision (see README: decision log fields)."""

    store: str
    event_id: str
    t: float
    shopper: str
    gondola: int
    shelf: int
    product_id: str
    basket: tuple[str, ...]
    candidate_ids: tuple[str, ...]
    candidate_scores: tuple[float, ...]
    display: str
    outcome: str
    chosen: str | None
    propensity: float
    decision_id: str
    segments: tuple[str, ...] = ()  # the shopper's customer segments the decision used (empty: unknown)


@dataclass(frozen=True, slots=True)
class Replayed:
    logged: LoggedDecision
    record: DecisionRecord
    probabilities: dict[str, float]  # the new policy's P(product); {} when it would show nothing


def replay(
    decisions: Iterable[LoggedDecision], rules: OfferRules, catalogues: dict[str, Catalogue]
) -> list[Replayed]:
    """Decide every logged context again under ``rules`` (decisions must be in time order)."""
    engines: dict[str, OfferEngine] = {}
    out = []
    for d in decisions:
        engine = engines.get(d.store)
        if engine is None:
            engine = engines[d.store] = OfferEngine(rules, catalogues[d.store])
        shelf = ShelfId(d.gondola, d.shelf)
        event = BasketEvent(d.t, shelf, "pick", d.product_id, 1, 1.0, d.shopper, ("weight",), d.event_id)
        cands = [
            Candidate(pid, score) for pid, score in zip(d.candidate_ids, d.candidate_scores, strict=True)
        ]
        context = DecisionContext(d.display, shelf, segments=frozenset(d.segments))
        rec = engine.decide(event, list(d.basket), cands, context).record
        probs: dict[str, float] = {}
        if rec.outcome in SHOWN and rec.chosen is not None:
            variant = _variant(rules, rec.variant)
            catalogue = catalogues[d.store].products
            probs = action_probabilities(
                rec.candidates, [catalogue[c].new for c in rec.candidates], variant, rules.rules.explore_floor
            )
        out.append(Replayed(d, rec, probs))
    return out


def _variant(rules: OfferRules, name: str) -> Variant:
    return next((v for v in rules.experiment.variants if v.name == name), rules.experiment.variants[0])
