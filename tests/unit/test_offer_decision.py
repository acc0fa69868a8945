"""The pure offer decision: filters, expected value, caps, budgets, experiments and the log record."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from edge.events import BasketEvent, ShelfId
from edge.offers.candidates import Candidate
from edge.offers.catalogue import Catalogue, Product
from edge.offers.decision import DecisionContext, DecisionRecord, OfferEngine
from edge.offers.experiments import assign
from edge.offers.rules import Experiment, RulesError, Variant, parse_rules

SHELF = ShelfId(1, 0)
CTX = DecisionContext(display="d-1", shelf=SHELF)


def catalogue() -> Catalogue:
    products = {
        "A": Product("A", "Apple Tin", 2.0, 0.5, "tin"),
        "B": Product("B", "Big Cakestand", 10.0, 0.4, "cakestand"),
        "C": Product("C", "Candle", 1.0, 0.3, "candle"),
        "W": Product("W", "Wine Glass", 5.0, 0.5, "alcohol"),
        "N": Product("N", "New Lantern", 4.0, 0.5, "lantern", new=True),
        "X": Product("X", "Far Away Mug", 3.0, 0.5, "mug"),
    }
    cat = Catalogue(products)
    for pid in ("A", "B", "C", "W", "N"):
        cat.set_stock(pid, SHELF, 5)
    cat.set_stock("X", ShelfId(9, 0), 5)
    return cat


def rules(**over: Any) -> Any:
    doc: dict[str, Any] = {
        "version": "t1",
        "rules": {
            "excluded_categories": ["alcohol"],
            "min_gap_s": 0,
            "max_offers_per_shopper": 100,
            "explore_floor": 0.0,
        },
        "experiment": {
            "holdout_share": 0.0,
            "variants": [{"name": "ev", "share": 1.0, "novelty_share": 0.0, "explore_share": 0.0}],
        },
    }
    for key, value in over.items():
        doc[key] = {**doc.get(key, {}), **value} if isinstance(value, dict) else value
    return parse_rules(doc)


def event(t: float = 1000.0, shopper: str | None = "s-1", pid: str = "C", eid: str = "e1") -> BasketEvent:
    return BasketEvent(
        t=t,
        shelf=SHELF,
        kind="pick",
        product_id=pid,
        quantity=1,
        confidence=0.9,
        shopper=shopper,
        event_id=eid,
    )


CANDS = [
    Candidate("W", 0.9),
    Candidate("A", 0.3, 0.4),
    Candidate("X", 0.8),
    Candidate("B", 0.2),
    Candidate("C", 0.9),
]


def test_filters_and_expected_value() -> None:
    engine = OfferEngine(rules(), catalogue())
    d = engine.decide(event(), ["C"], CANDS, CTX)
    # W excluded (alcohol), X not in stock nearby, C held; EV: A 0.3*1.0=0.3, B 0.2*4.0=0.8
    assert d.offer is not None and d.offer.product_id == "B"
    assert d.offer.display == "d-1" and d.offer.shelf == SHELF and d.offer.t == 1000.0
    assert d.offer.expires_at == 1030.0 and d.offer.variant == "ev" and d.offer.propensity == 1.0
    rec = d.record
    assert rec.outcome == "offered" and rec.chosen == "B" and rec.candidates == ("B", "A")
    assert dict(rec.filtered) == {"excluded": 1, "out-of-stock": 1, "held": 1}
    assert DecisionRecord.from_dict(rec.to_dict()) == rec


def test_relevance_variant_and_social_proof() -> None:
    r = rules(
        experiment={
            "variants": [
                {
                    "name": "rel",
                    "share": 1.0,
                    "ranking": "relevance",
                    "novelty_share": 0.0,
                    "explore_share": 0.0,
                }
            ]
        }
    )
    d = OfferEngine(r, catalogue()).decide(event(), ["C"], CANDS, CTX)
    assert d.offer is not None and d.offer.product_id == "A"
    assert d.offer.social_proof == "In 40 % of past baskets with an item you picked"
    assert d.offer.reason == "Often bought with items in your basket"


def test_same_product_gap_and_shopper_cap() -> None:
    engine = OfferEngine(rules(rules={"max_offers_per_shopper": 2, "min_gap_s": 10}), catalogue())
    first = engine.decide(event(1000.0, eid="e1"), ["C"], CANDS, CTX)
    assert first.offer is not None and first.offer.product_id == "B"
    assert engine.decide(event(1005.0, eid="e2"), ["C"], CANDS, CTX).record.outcome == "capped-gap"
    second = engine.decide(event(1020.0, eid="e3"), ["C"], CANDS, CTX)
    assert second.offer is not None and second.offer.product_id == "A"  # B was offered already
    assert engine.decide(event(1040.0, eid="e4"), ["C"], CANDS, CTX).record.outcome == "capped-shopper"
    assert engine.decide(event(1040.0, "s-2", eid="e5"), ["C"], CANDS, CTX).offer is not None


def test_campaign_weight_discount_and_budget() -> None:
    r = rules(
        campaigns=[
            {
                "campaign_id": "tins",
                "name": "Tin week",
                "categories": ["tin"],
                "weight": 10.0,
                "discount_pct": 20,
                "budget_offers": 1,
            }
        ]
    )
    engine = OfferEngine(r, catalogue())
    d = engine.decide(event(eid="e1"), ["C"], CANDS, CTX)
    assert d.offer is not None and d.offer.product_id == "A" and d.offer.campaign_id == "tins"
    assert d.offer.price == 1.6 and d.offer.reason == "Tin week"
    d2 = engine.decide(event(1000.0, "s-2", eid="e2"), ["C"], CANDS, CTX)
    assert d2.offer is not None and d2.offer.product_id == "B" and d2.offer.campaign_id is None


def test_campaign_only_mode_reports_budget() -> None:
    r = rules(
        rules={"organic_offers": False},
        campaigns=[{"campaign_id": "b", "name": "Stands", "products": ["B"], "budget_offers": 0}],
    )
    d = OfferEngine(r, catalogue()).decide(event(), ["C"], CANDS, CTX)
    assert d.offer is None and d.record.outcome == "no-candidate"
    assert (
        dict(d.record.filtered)["budget"] == 1 and dict(d.record.filtered)["no-campaign"] == 1
    )  # A only: without a novelty share the new N is not considered


def test_no_consent_and_no_shopper() -> None:
    engine = OfferEngine(rules(), catalogue())
    no = DecisionContext(display="d-1", shelf=SHELF, consent=False)
    assert engine.decide(event(), ["C"], CANDS, no).record.outcome == "no-consent"
    assert engine.decide(event(shopper=None), ["C"], CANDS, CTX).record.outcome == "no-shopper"


def test_holdout_decides_but_shows_nothing() -> None:
    r = rules(experiment={"holdout_share": 0.5})
    engine = OfferEngine(r, catalogue())
    outcomes = Counter()
    for i in range(400):
        d = engine.decide(event(shopper=f"shopper-{i}", eid=f"e{i}"), ["C"], CANDS, CTX)
        outcomes[d.record.outcome] += 1
        if d.record.outcome == "held-out":
            assert d.offer is None and d.record.chosen == "B" and d.record.variant == "holdout"
    assert 150 < outcomes["held-out"] < 250 and outcomes["held-out"] + outcomes["offered"] == 400


def test_assignment_is_deterministic_and_follows_shares() -> None:
    exp = Experiment(
        experiment_id="x",
        salt="s",
        holdout_share=0.1,
        variants=(Variant(name="a", share=0.3), Variant(name="b", share=0.7)),
    )
    groups = Counter(assign(exp, f"p{i}").group for i in range(20000))
    assert abs(groups["holdout"] / 20000 - 0.1) < 0.01
    assert abs(groups["a"] / 20000 - 0.27) < 0.015
    assert assign(exp, "p7") == assign(exp, "p7")


def test_novelty_and_exploration_propensities() -> None:
    r = rules(
        experiment={
            "variants": [
                {"name": "mix", "share": 1.0, "novelty_share": 0.2, "explore_share": 0.2, "explore_top": 2}
            ]
        }
    )
    arms: Counter[str] = Counter()
    for i in range(600):
        d = OfferEngine(r, catalogue()).decide(event(eid=f"e{i}"), ["C"], CANDS, CTX)
        rec = d.record
        arms[rec.arm or ""] += 1
        expected = {"B": 0.6 + 0.1, "A": 0.1, "N": 0.2}[rec.chosen or ""]
        assert rec.propensity == pytest.approx(expected)
    assert arms["novelty"] > 80 and arms["explore"] > 80 and arms["greedy"] > 300


def test_restore_rebuilds_caps() -> None:
    engine = OfferEngine(rules(rules={"max_offers_per_shopper": 1}), catalogue())
    rec = engine.decide(event(), ["C"], CANDS, CTX).record
    fresh = OfferEngine(rules(rules={"max_offers_per_shopper": 1}), catalogue())
    assert fresh.restore([DecisionRecord.from_dict(rec.to_dict())]) == 1
    assert fresh.decide(event(1100.0, eid="e2"), ["C"], CANDS, CTX).record.outcome == "capped-shopper"


def test_plain_string_candidates_are_accepted() -> None:
    d = OfferEngine(rules(), catalogue()).decide(event(), [], ["A", "B"], CTX)
    assert d.offer is not None and d.offer.product_id in {"A", "B"}


@pytest.mark.parametrize(
    "doc",
    [
        {"rules": {"min_stock": 0}},
        {"rules": {"unknown": 1}},
        {"campaigns": [{"campaign_id": "c", "name": "n"}]},
        {"campaigns": [{"campaign_id": "c", "name": "n", "products": ["A"], "start": 10, "end": 5}]},
        {"experiment": {"variants": [{"name": "a", "share": 0.5}]}},
        {"experiment": {"variants": [{"name": "holdout", "share": 1.0}]}},
    ],
)
def test_bad_rules_are_refused(doc: dict[str, Any]) -> None:
    with pytest.raises(RulesError) as err:
        parse_rules(doc, "backend")
    assert err.value.problems and "backend" in str(err.value)


def test_example_rules_file_is_valid() -> None:
    from pathlib import Path

    from edge.offers.sources import load_rules

    rules = load_rules(Path(__file__).resolve().parents[2] / "edge" / "offers" / "example_rules.json")
    assert rules.campaigns[0].campaign_id == "light-up-winter"
    assert rules.experiment.holdout_share == 0.1


def test_duplicate_candidates_count_once() -> None:
    d = OfferEngine(rules(), catalogue()).decide(event(), ["C"], [*CANDS, Candidate("B", 0.2), "A"], CTX)
    assert d.record.candidates == ("B", "A")
