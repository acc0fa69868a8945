"""The decision's fast path (:mod:`edge.offers.indexed`) decides exactly as the general path.

Random stores, rules, campaigns, experiments and sequences of decisions are decided twice: once
with the model's indexed candidate lists (fast path where it applies) and once with the same
candidates as plain :class:`Candidate` lists (general path). Offers, exposures, records (with
their propensities), caps, budgets in offers and in money (granted and redeemed), up-sells,
sensitive categories, campaigns targeting or excluding customer segments, the universal holdout and held-out shoppers' shadow variants (decided under
that variant's mixture, for two or three variants of random shares) must be identical at every step.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import event as tally
from hypothesis import strategies as st

from edge.events import BasketEvent, ShelfId
from edge.offers.candidates import Candidate, CandidateList
from edge.offers.catalogue import Catalogue, Product
from edge.offers.decision import DecisionContext, OfferEngine
from edge.offers.experiments import HELD_OUT_GROUPS
from edge.offers.rules import parse_rules

SHELF = ShelfId(1, 0)
NAMES = (*(f"P{i:02d}" for i in range(24)), "PAD")  # the model's item table (+ padding)
CATEGORIES = ("tin", "mug", "candle", "baby")  # baby: sensitive by default
SEGMENTS = ("champions", "loyal", "lapsed")


def store(draw: Any) -> Catalogue:
    products = {}
    for i, pid in enumerate(NAMES[:-1]):
        if draw(st.booleans()) or i < 4:
            products[pid] = Product(
                pid,
                f"Product {pid}",
                draw(st.sampled_from([0.5, 1.0, 2.5, 4.0])),
                draw(st.sampled_from([0.0, 0.2, 0.35, 0.5])),
                draw(st.sampled_from(CATEGORIES)),
                new=draw(st.integers(0, 2)) == 0,
            )
    products["NEWONLY"] = Product("NEWONLY", "New, unknown to the model", 3.0, 0.4, "mug", new=True)
    products["BIGONLY"] = Product("BIGONLY", "Large pack, unknown to the model", 6.0, 0.5, "tin")
    catalogue = Catalogue(products)
    for pid in products:
        units = draw(st.sampled_from([0, 3, 3, 3]))
        catalogue.set_stock(pid, ShelfId(draw(st.sampled_from([1, 2, 5])), 0), units)
    return catalogue


def rules_doc(draw: Any) -> dict[str, Any]:
    campaigns = []
    for n in range(draw(st.integers(0, 3))):
        campaign: dict[str, Any] = {
            "campaign_id": f"c{n}",
            "name": f"Campaign {n}",
            "categories": draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=2, unique=True)),
            "products": draw(st.lists(st.sampled_from(NAMES[:-1]), max_size=3, unique=True)),
            "weight": draw(st.sampled_from([0.5, 1.0, 2.0])),
            "discount_pct": draw(st.sampled_from([0, 10, 60])),
        }
        if draw(st.booleans()):
            campaign["budget_offers"] = draw(st.integers(1, 4))
        if draw(st.booleans()):
            campaign["max_per_shopper"] = draw(st.integers(1, 2))
        if draw(st.integers(0, 2)) == 0:
            campaign["budget_money"] = draw(st.sampled_from([0.1, 0.5, 2.0]))
        if draw(st.integers(0, 3)) == 0:
            campaign["budget_redeemed"] = draw(st.sampled_from([0.1, 1.0]))
        if draw(st.booleans()):
            campaign["start"], campaign["end"] = 1000.0, draw(st.sampled_from([1030.0, 1100.0]))
        targeting = draw(st.integers(0, 3))  # 1: segments it is for, 2: segments it is not for
        if targeting == 1:
            campaign["segments"] = draw(
                st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=2, unique=True)
            )
        elif targeting == 2:
            campaign["exclude_segments"] = [draw(st.sampled_from(SEGMENTS))]
        campaigns.append(campaign)
    share = draw(st.sampled_from([0.5, 0.2, 0.8]))
    variants: list[dict[str, Any]] = [
        {
            "name": "ev",
            "share": share,
            "novelty_share": draw(st.sampled_from([0.0, 0.2, 0.4])),
            "explore_share": draw(st.sampled_from([0.0, 0.3])),
            "explore_top": draw(st.integers(1, 4)),
            "upsell_share": draw(st.sampled_from([0.0, 0.3])),
        },
        {
            "name": "rel",
            "share": 1.0 - share,
            "ranking": "relevance",
            "novelty_share": draw(st.sampled_from([0.0, 0.3, 0.6])),
            "explore_share": draw(st.sampled_from([0.0, 0.2])),
            "upsell_share": draw(st.sampled_from([0.0, 0.2])),
        },
    ]
    if draw(st.integers(0, 3)) == 0:  # a third variant: held-out shoppers' shadows spread over three
        variants[1]["share"] = round((1.0 - share) / 2, 6)
        variants.append({"name": "greedy", "share": round(1.0 - share - variants[1]["share"], 6)})
    return {
        "version": "fuzz",
        "rules": {
            "excluded_categories": draw(st.lists(st.sampled_from(CATEGORIES), max_size=1)),
            "max_offers_per_shopper": draw(st.integers(1, 6)),
            "min_gap_s": draw(st.sampled_from([0, 0, 5])),
            "same_offer_gap_s": draw(st.sampled_from([0, 30, 600])),
            "organic_offers": draw(st.integers(0, 7)) > 0,
            "organic_weight": draw(st.sampled_from([0.5, 1.0])),
            "min_acceptance": 0.15 if draw(st.integers(0, 7)) == 0 else 0.0,
            "max_per_product_window": 2 if draw(st.integers(0, 7)) == 0 else None,
            "candidates": draw(st.sampled_from([3, 8, 100])),
            "social_proof_min_share": draw(st.sampled_from([0.0, 0.2])),
            "novelty_acceptance": draw(st.sampled_from([0.05, 0.2])),
            "nearby_gondolas": draw(st.sampled_from([0, 1])),
            "offer_sensitive": draw(st.integers(0, 3)) == 0,
            "explore_floor": draw(st.sampled_from([0.0, 0.02, 0.3])),
            "upsell_max_price_ratio": draw(st.sampled_from([1.5, 3.0, 10.0])),
            "upsell_acceptance": draw(st.sampled_from([0.05, 0.5])),
        },
        "universal_holdout": {"share": draw(st.sampled_from([0.0, 0.0, 0.2])), "salt": "u", "epoch": "1"},
        "campaigns": campaigns,
        "experiment": {"holdout_share": draw(st.sampled_from([0.0, 0.2, 0.5])), "variants": variants},
    }


@st.composite
def scenarios(
    draw: Any,
) -> tuple[
    Catalogue,
    dict[str, Any],
    list[tuple[BasketEvent, list[str], CandidateList, frozenset[str], float | None, frozenset[str]]],
]:
    catalogue = store(draw)
    doc = rules_doc(draw)
    steps = []
    known = OfferEngine(parse_rules(doc), catalogue).offerable(SHELF) & set(NAMES)
    offerable = sorted(NAMES.index(p) for p in known)
    t = 1000.0
    for n in range(draw(st.integers(1, 12))):
        t += draw(st.sampled_from([0.0, 1.0, 10.0, 40.0]))
        shopper = draw(st.sampled_from(["s-1", "s-2", "s-3", "s-4", "s-5", "s-6", "s-7", "s-8"]))
        basket = draw(st.lists(st.sampled_from(NAMES[:-1]), max_size=4, unique=True))
        # like the model asked with within=engine.offerable(shelf): offerable products, but now
        # and then any product (a caller without ``within``, or stock that changed in between)
        pool = offerable if offerable and draw(st.integers(0, 4)) else list(range(len(NAMES) - 1))
        items = draw(st.lists(st.sampled_from(pool), max_size=12, unique=True))
        scores = sorted((draw(st.sampled_from([0.05, 0.1, 0.2, 0.2, 0.5, 0.9])) for _ in items), reverse=True)
        together = [draw(st.sampled_from([0.0, 0.1, 0.4])) for _ in items]
        source = draw(st.integers(0, 2))  # from the basket, an offerable product (up-sells), any
        if basket and source == 0:
            picked = draw(st.sampled_from(basket))
        elif offerable and source == 1:
            picked = NAMES[draw(st.sampled_from(offerable))]
        else:
            picked = draw(st.sampled_from(NAMES[:-1]))
        held = frozenset(draw(st.lists(st.sampled_from(NAMES[:-1]), max_size=2)))
        if draw(st.integers(0, 5)) == 0:
            picked = "NOTINCATALOGUE"
        event = BasketEvent(t, SHELF, "pick", picked, 1, 0.9, shopper, event_id=f"e{n}")
        if draw(st.booleans()):  # as the model does: the basket's products left out, and said so
            kept = [j for j, i in enumerate(items) if NAMES[i] not in basket]
            items, scores = [items[j] for j in kept], [scores[j] for j in kept]
            together = [together[j] for j in kept]
            indexed = CandidateList.indexed(items, NAMES, scores, together, tuple(basket))
        else:
            indexed = CandidateList.indexed(items, NAMES, scores, together)
        redeem_after = draw(st.sampled_from([None, 0.0, 100.0, 1000.0]))  # a conversion, seconds later
        segments = frozenset(draw(st.lists(st.sampled_from(SEGMENTS), max_size=2)))  # empty: unknown
        steps.append((event, basket, indexed, held, redeem_after, segments))
    return catalogue, doc, steps


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_fast_path_decides_as_the_general_path(scenario: Any) -> None:
    catalogue, doc, steps = scenario
    fast = OfferEngine(parse_rules(doc), catalogue)
    general = OfferEngine(parse_rules(doc), catalogue)
    targeted = {c["campaign_id"] for c in doc["campaigns"] if {"segments", "exclude_segments"} & c.keys()}
    for event, basket, indexed, held, redeem_after, segments in steps:
        plain = [Candidate(c.product_id, c.score, c.together) for c in indexed]
        context = DecisionContext(display="d-1", shelf=SHELF, held=held, segments=segments)
        a = fast.decide(event, basket, indexed, context)
        b = general.decide(event, basket, plain, context)
        assert a == b
        tally(f"arm {a.record.arm}, {a.record.outcome}, group {a.record.variant}")
        tally(f"shadow variant {a.record.shadow_variant}")
        assert (a.record.shadow_variant is not None) == (a.record.variant in HELD_OUT_GROUPS)
        if a.exposure is not None:
            assert a.exposure.shadow_variant == a.record.shadow_variant
        tally(f"up-sell available: {a.record.upsell is not None}")
        tally(f"a segment campaign chosen: {a.record.campaign_id in targeted}")
        if a.offer is not None and redeem_after is not None:
            t = event.t + redeem_after
            assert fast.redeem(a.offer.offer_id, t) == general.redeem(a.offer.offer_id, t)
    assert fast._state == general._state


def test_fast_path_is_taken_for_the_usual_rules() -> None:
    catalogue = Catalogue({pid: Product(pid, pid, 2.0, 0.5, "tin", new=pid == "P03") for pid in NAMES[:8]})
    for pid in catalogue.products:
        catalogue.set_stock(pid, SHELF, 4)
    engine = OfferEngine(parse_rules({"rules": {"min_gap_s": 0}}), catalogue)
    variant = engine.rules.experiment.variants[0]
    indexed = CandidateList.indexed([5, 1, 2], NAMES, [0.5, 0.4, 0.3], [0.0, 0.2, 0.0])
    got = engine._indexed("d-" + "0" * 20, "s-1", 1000.0, SHELF, ["P01"], set(), indexed, variant, "P01")
    assert got is not None
    choice, ids, keys, scores, filtered = got
    assert ids == ("P05", "P02") and keys == (0.5, 0.3) and filtered == (("held", 1),)
    assert scores == (0.5, 0.3)
    assert choice is not None and choice[1] == "greedy" and choice[0].product.product_id == "P05"
    # a candidate the shelf cannot offer sends the decision down the general path
    unknown = CandidateList.indexed([20], NAMES, [0.5], [0.0])
    assert engine._indexed("d-" + "0" * 20, "s-1", 1000.0, SHELF, [], set(), unknown, variant, None) is None
