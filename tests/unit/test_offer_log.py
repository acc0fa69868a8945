"""Offer decisions stored as events (with outbox rows), queried through the view, restored after restart."""

from __future__ import annotations

from pathlib import Path

from edge.events import BasketEvent, ShelfId
from edge.offers.candidates import Candidate
from edge.offers.catalogue import Catalogue, Product
from edge.offers.decision import DecisionContext, OfferEngine
from edge.offers.rules import parse_rules
from edge.store.db import open_database
from edge.store.events_repo import EventStore
from edge.store.offer_decisions import decisions_since, record_decision

SHELF = ShelfId(0, 1)


def engine() -> OfferEngine:
    cat = Catalogue(
        {"A": Product("A", "Apple Tin", 2.0, 0.5, "tin"), "B": Product("B", "Bag", 3.0, 0.3, "bag")}
    )
    cat.set_stock("A", SHELF, 3)
    cat.set_stock("B", SHELF, 3)
    rules = parse_rules({"rules": {"max_offers_per_shopper": 1}, "experiment": {"holdout_share": 0.0}})
    return OfferEngine(rules, cat)


def test_decisions_are_events_and_restore_caps(tmp_path: Path) -> None:
    db = open_database(tmp_path / "edge.db")
    store = EventStore(db)
    first = engine()
    event = BasketEvent(
        t=100.0,
        shelf=SHELF,
        kind="pick",
        product_id="B",
        quantity=1,
        confidence=1.0,
        shopper="s-9",
        event_id="be-1",
    )
    decision = first.decide(event, ["B"], [Candidate("A", 0.4)], DecisionContext(display="d", shelf=SHELF))
    assert decision.offer is not None
    assert record_decision(store, decision.record)
    assert not record_decision(store, decision.record)  # the same decision replayed is stored once
    assert store.pending_outbox() == 1
    row = db.execute("SELECT shopper, outcome, chosen, propensity FROM offer_decisions").fetchone()
    assert tuple(row) == ("s-9", "offered", "A", decision.record.propensity)

    restored = engine()
    records = decisions_since(db, 0.0)
    assert records == [decision.record]
    assert restored.restore(records) == 1
    later = BasketEvent(
        t=160.0,
        shelf=SHELF,
        kind="pick",
        product_id="B",
        quantity=1,
        confidence=1.0,
        shopper="s-9",
        event_id="be-2",
    )
    again = restored.decide(later, ["B"], [Candidate("A", 0.4)], DecisionContext(display="d", shelf=SHELF))
    assert again.offer is None and again.record.outcome == "capped-shopper"
