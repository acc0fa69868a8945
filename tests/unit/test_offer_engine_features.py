"""Up-sell, money budgets, live stock, the universal holdout, exploration floor, sensitive
categories and what an offer says about why (the pure offer core)."""

from __future__ import annotations

from typing import Any

from edge.events import BasketEvent, ShelfId, WeightEvent
from edge.offers.candidates import Candidate
from edge.offers.catalogue import Catalogue, Product
from edge.offers.decision import DecisionContext, DecisionRecord, OfferEngine
from edge.offers.experiments import UNIVERSAL_HOLDOUT, assign
from edge.offers.rules import OPT_OUT_HINT, Experiment, UniversalHoldout, parse_rules
from edge.offers.stock import StockKeeper
from edge.sensing.planogram import Planogram

SHELF = ShelfId(1, 0)
CTX = DecisionContext(display="d-1", shelf=SHELF)


def catalogue() -> Catalogue:
    cat = Catalogue(
        {
            "T1": Product("T1", "Tea 20 bags", 2.0, 0.3, "tea"),
            "T2": Product("T2", "Tea 80 bags", 5.0, 0.4, "tea"),  # the up-sell of T1
            "T3": Product("T3", "Tea gift tin", 20.0, 0.5, "tea"),  # over 3 x the price: not an up-sell
            "T4": Product("T4", "Tea 40 bags", 3.0, 0.1, "tea"),  # less money margin than T1
            "C": Product("C", "Cup", 3.0, 0.5, "mug"),
            "B": Product("B", "Baby wipes", 3.0, 0.5, "baby"),
        }
    )
    for pid in cat.products:
        cat.set_stock(pid, SHELF, 5)
    return cat


def rules(variant: dict[str, Any] | None = None, **over: Any) -> Any:
    doc: dict[str, Any] = {
        "version": "t2",
        "rules": {"min_gap_s": 0, "max_offers_per_shopper": 100, "explore_floor": 0.0},
        "experiment": {
            "holdout_share": 0.0,
            "variants": [
                {"name": "v", "share": 1.0, "novelty_share": 0.0, "explore_share": 0.0, **(variant or {})}
            ],
        },
    }
    for key, value in over.items():
        doc[key] = {**doc.get(key, {}), **value} if isinstance(value, dict) else value
    return parse_rules(doc)


def pick(t: float, shopper: str = "s-1", pid: str = "T1", eid: str = "e1") -> BasketEvent:
    return BasketEvent(t, SHELF, "pick", pid, 1, 0.9, shopper, event_id=eid)


def test_upsell_offered_and_logged_with_its_propensity() -> None:
    engine = OfferEngine(rules({"upsell_share": 1.0}), catalogue())
    d = engine.decide(pick(1000.0), ["T1"], [Candidate("C", 0.5)], CTX)
    assert d.offer is not None and d.offer.product_id == "T2"
    assert d.offer.reason == "Premium alternative to Tea 20 bags"
    rec = d.record
    assert rec.arm == "upsell" and rec.upsell == "T2" and rec.picked == "T1" and rec.propensity == 1.0
    assert DecisionRecord.from_dict(rec.to_dict()) == rec
    # as one arm of a mixture: its own propensity, and the candidates' propensities logged
    engine = OfferEngine(rules({"upsell_share": 0.5}, rules={"explore_floor": 0.1}), catalogue())
    arms = set()
    for i in range(60):
        d = engine.decide(pick(1000.0 + i, f"s-{i}", eid=f"e{i}"), ["T1"], [Candidate("C", 0.5)], CTX)
        rec = d.record
        arms.add(rec.arm)
        assert rec.mixture == (0.4, 0.1, 0.0, 0.5) and rec.upsell == "T2"
        assert rec.propensity == 0.5  # up-sell T2: 0.5; C: greedy 0.4 + explore 0.1
        assert rec.to_dict()["candidate_propensities"] == [0.5]
    assert arms == {"upsell", "greedy", "explore"}


def test_no_upsell_for_sensitive_or_unknown_picks() -> None:
    engine = OfferEngine(rules({"upsell_share": 1.0}, rules={"offer_sensitive": True}), catalogue())
    d = engine.decide(pick(1000.0, pid="B"), ["B"], [Candidate("C", 0.5)], CTX)
    assert d.record.upsell is None and d.offer is not None and d.offer.product_id == "C"


def test_campaign_stopped_by_its_money_budget() -> None:
    doc = {
        "campaign_id": "tea",
        "name": "Tea week",
        "products": ["C"],
        "discount_pct": 25,
        "budget_money": 2.0,
    }
    engine = OfferEngine(rules(campaigns=[doc]), catalogue())
    records = []
    for i in range(4):  # 0.75 off a 3.00 cup each: 0.75, 1.50, 2.25 >= 2.00, then no campaign
        d = engine.decide(pick(1000.0 + i, f"s-{i}", eid=f"e{i}"), ["T1"], [Candidate("C", 0.5)], CTX)
        records.append(d.record)
        assert d.offer is not None and d.offer.product_id == "C"
    assert [r.campaign_id for r in records] == ["tea", "tea", "tea", None]
    assert [r.discount for r in records] == [0.75, 0.75, 0.75, 0.0]
    assert engine._state.campaign_money == {"tea": 2.25}
    restored = OfferEngine(rules(campaigns=[doc]), catalogue())  # after a restart, from the log
    restored.restore(records[:3])
    d = restored.decide(pick(2000.0, "s-9", eid="e9"), ["T1"], [Candidate("C", 0.5)], CTX)
    assert d.record.campaign_id is None


def test_campaign_stopped_by_its_redeemed_budget() -> None:
    doc = {
        "campaign_id": "tea",
        "name": "Tea week",
        "products": ["C"],
        "discount_pct": 50,
        "budget_redeemed": 1.5,
    }
    engine = OfferEngine(rules(campaigns=[doc]), catalogue(), conversion_window_s=300.0)
    one = engine.decide(pick(1000.0, "s-1", eid="e1"), [], [Candidate("C", 0.5)], CTX)
    two = engine.decide(pick(1001.0, "s-2", eid="e2"), [], [Candidate("C", 0.5)], CTX)
    first, second = one.offer, two.offer
    assert first is not None and second is not None and first.campaign_id == second.campaign_id == "tea"
    assert engine.redeem(second.offer_id, 1001.0 + 301.0) == 0.0  # converted after the window
    assert engine.redeem(first.offer_id, 1100.0) == 1.5
    assert engine.redeem(first.offer_id, 1100.0) == 0.0  # once
    d = engine.decide(pick(1200.0, "s-3", eid="e3"), [], [Candidate("C", 0.5)], CTX)
    assert d.record.campaign_id is None  # granted 3.00, redeemed 1.50: stopped
    restored = OfferEngine(rules(campaigns=[doc]), catalogue())  # after a restart: decisions, conversions
    restored.restore([one.record, two.record], [(first.offer_id, 1100.0)])
    assert (
        restored.decide(pick(1200.0, "s-3", eid="e3"), [], [Candidate("C", 0.5)], CTX).record.campaign_id
        is None
    )


def weight(kind: str, pid: str | None, units: int, delta_g: float = 0.0) -> WeightEvent:
    return WeightEvent(100.0, 101.0, SHELF, (2,), delta_g, kind, pid, units, 0.95)  # type: ignore[arg-type]


def test_sold_out_shelf_gets_no_offer_and_a_restock_is_recognised() -> None:
    cat = catalogue()
    cat.set_stock("C", SHELF, 2)
    engine = OfferEngine(rules(rules={"nearby_gondolas": 0}), cat)
    keeper = StockKeeper(cat)
    assert keeper.on_weight(weight("pick", "C", 1)) is not None
    change = keeper.on_weight(weight("pick", "C", 1))
    assert change is not None and (change.kind, change.units, change.level) == ("pick", -1, 0)
    assert "C" not in engine.offerable(SHELF)
    d = engine.decide(pick(1000.0), ["T1"], [Candidate("C", 0.9), Candidate("T4", 0.1)], CTX)
    assert d.offer is not None and d.offer.product_id == "T4" and dict(d.record.filtered)["out-of-stock"] == 1
    back = keeper.on_weight(weight("return", "C", 1))  # a shopper puts one back: a return
    assert back is not None and back.kind == "return" and back.level == 1
    restock = keeper.on_weight(weight("return", "C", 6))  # staff fill the shelf
    assert restock is not None and (restock.kind, restock.units, restock.level) == ("restock", 6, 7)
    d = engine.decide(pick(1100.0, "s-2", eid="e2"), ["T1"], [Candidate("C", 0.9)], CTX)
    assert d.offer is not None and d.offer.product_id == "C"
    # a rise the detector could not name: counted in units of the only product on the plate
    planogram = Planogram.parse_csv(
        "product_id,name,gondola,shelf,plate,unit_weight_g,price\nC,Cup,1,0,2,250,3.0\n"
    )
    unnamed = StockKeeper(cat, planogram).on_weight(weight("return", None, 0, delta_g=4020.0))
    assert unnamed is not None and (unnamed.kind, unnamed.product_id, unnamed.units) == ("restock", "C", 16)
    assert StockKeeper(cat, planogram).on_weight(weight("return", None, 0, delta_g=260.0)) is None


def test_a_pick_of_a_well_stocked_product_keeps_the_engine_caches() -> None:
    cat = catalogue()
    engine = OfferEngine(rules(), cat)
    before = cat.version
    StockKeeper(cat).on_weight(weight("pick", "C", 1))  # 5 -> 4: offerable either way
    assert cat.version == before and cat.stock["C"][SHELF] == 4 and "C" in engine.offerable(SHELF)


def test_universal_holdout_is_stable_across_experiments_and_logged_as_its_own_group() -> None:
    universal = UniversalHoldout(share=0.1, salt="chain", epoch="2026")
    shoppers = [f"s-{i}" for i in range(3000)]
    one = {
        s for s in shoppers if assign(Experiment(experiment_id="a"), s, universal).group == UNIVERSAL_HOLDOUT
    }
    two = {
        s
        for s in shoppers
        if assign(Experiment(experiment_id="b", salt="x"), s, universal).group == UNIVERSAL_HOLDOUT
    }
    assert one == two and 0.08 < len(one) / len(shoppers) < 0.12
    later = UniversalHoldout(share=0.1, salt="chain", epoch="2027")
    assert {s for s in shoppers if assign(Experiment(), s, later).group == UNIVERSAL_HOLDOUT} != one
    shopper = sorted(one)[0]
    engine = OfferEngine(rules(universal_holdout=universal.model_dump()), catalogue())
    d = engine.decide(pick(1000.0, shopper), ["T1"], [Candidate("C", 0.5)], CTX)
    assert d.offer is None and d.record.outcome == "held-out" and d.record.variant == UNIVERSAL_HOLDOUT
    assert d.exposure is not None and d.exposure.variant == UNIVERSAL_HOLDOUT and d.exposure.product_id == "C"


def test_exploration_floor_gives_every_top_option_a_propensity() -> None:
    engine = OfferEngine(rules({"explore_top": 3}, rules={"explore_floor": 0.06}), catalogue())
    d = engine.decide(
        pick(1000.0), ["T1"], [Candidate("C", 0.9), Candidate("T2", 0.5), Candidate("T4", 0.4)], CTX
    )
    assert d.record.mixture == (0.94, 0.06, 0.0, 0.0)
    assert d.record.candidate_propensities() == [0.96, 0.02, 0.02]
    assert d.record.scores == (0.9, 0.5, 0.4)


def test_sensitive_categories_and_what_an_offer_says() -> None:
    cands = [Candidate("B", 0.9, 0.5), Candidate("C", 0.5, 0.4)]
    d = OfferEngine(rules(), catalogue()).decide(pick(1000.0), ["T1"], cands, CTX)
    assert d.offer is not None and d.offer.product_id == "C" and dict(d.record.filtered) == {"sensitive": 1}
    assert d.offer.social_proof == "In 40 % of past baskets with an item you picked"
    assert d.offer.reason == "Often bought with items in your basket" and d.offer.opt_out == OPT_OUT_HINT
    allowed = OfferEngine(rules(rules={"offer_sensitive": True}), catalogue())
    d = allowed.decide(pick(1000.0), ["T1"], cands, CTX)
    assert d.offer is not None and d.offer.product_id == "B"
    assert d.offer.social_proof is None and d.offer.reason == "Picked for you"
    changed = OfferEngine(rules(rules={"sensitive_categories": [], "opt_out_hint": None}), catalogue())
    d = changed.decide(pick(1000.0), ["T1"], cands, CTX)
    assert d.offer is not None and d.offer.product_id == "B" and d.offer.social_proof is not None
    assert d.offer.opt_out is None
    few = OfferEngine(rules(), catalogue(), proof_support=10)  # a model built on too few baskets
    d = few.decide(pick(1000.0), ["T1"], cands, CTX)
    assert d.offer is not None and d.offer.social_proof is None and d.offer.reason == "Picked for you"
