"""Rebuilding a decision's basket from a gateway's streams (models/experiments/gateway_decisions.py):
bad or partial input is one clear error or a counted skip, never a basket that is silently wrong."""

from __future__ import annotations

from typing import Any

import pytest

from edge.events import BasketEvent, ShelfId
from edge.mqtt.payloads import BasketEventMessage
from edge.offers.candidates import Candidate
from edge.offers.catalogue import Catalogue, Product
from edge.offers.decision import DecisionContext, OfferEngine
from edge.offers.rules import parse_rules
from models.experiments.gateway_decisions import GatewayExportError, rebuild_decisions

SHELF = ShelfId(2, 3)
T = 1.79e9


def setup() -> tuple[Catalogue, list[dict[str, Any]], list[dict[str, Any]]]:
    """Shopper a picks A, B (returns A), C; a decision on each pick; their streams."""
    cat = Catalogue({p: Product(p, p, 2.0, 0.5, "tin") for p in "ABCDEF"})
    for p in "ABCDEF":
        cat.set_stock(p, SHELF, 5)
    rules = parse_rules({"rules": {"min_gap_s": 0, "same_offer_gap_s": 0}, "experiment": {
        "experiment_id": "x", "salt": "s", "holdout_share": 0.0, "variants": [{"name": "v", "share": 1.0}]}})  # fmt: skip
    engine = OfferEngine(rules, cat)
    events = [
        BasketEvent(T, SHELF, "pick", "A", 1, 1.0, "a", event_id="e1"),
        BasketEvent(T + 1, SHELF, "pick", "B", 1, 1.0, "a", event_id="e2"),
        BasketEvent(T + 2, SHELF, "return", "A", 1, 1.0, "a", event_id="e3"),
        BasketEvent(T + 3, SHELF, "pick", "C", 1, 1.0, "a", event_id="e4"),
    ]
    held: list[str] = []
    decisions = []
    for e in events:
        held = [p for p in held if p != e.product_id] if e.kind == "return" else [*held, str(e.product_id)]
        if e.kind == "pick":
            cands = [Candidate(p, 0.5 - 0.05 * i) for i, p in enumerate("ABCDEF") if p not in held]
            decisions.append(engine.decide(e, held, cands, DecisionContext("d", SHELF)).record.to_dict())
    return cat, decisions, [BasketEventMessage.from_event(e).model_dump() for e in events]


def test_each_decision_gets_the_basket_it_was_decided_on() -> None:
    cat, decisions, baskets = setup()
    rebuilt = rebuild_decisions(decisions, baskets, cat, "s1")
    assert rebuilt.table.column("basket").to_pylist() == [["A"], ["A", "B"], ["B", "C"]]
    assert rebuilt.table.column("event_id").to_pylist() == ["e1", "e2", "e4"]
    assert rebuilt.table.column("gondola").to_pylist() == [2, 2, 2] and not rebuilt.skipped


def test_partial_input_is_skipped_and_counted() -> None:
    cat, decisions, baskets = setup()
    no_pick = rebuild_decisions(decisions, baskets[1:], cat, "s1")  # the first pick was not logged
    assert no_pick.skipped == {"no-basket-event": 1} and no_pick.table.num_rows == 2
    other_id = [{**b, "event_id": "zz"} if b["event_id"] == "e2" else b for b in baskets]
    assert rebuild_decisions(decisions, other_id, cat, "s1").skipped == {"id-mismatch": 1}
    smaller = Catalogue({p: cat.products[p] for p in "ABC"})  # the candidates D-F are unknown
    assert rebuild_decisions(decisions, baskets, smaller, "s1").skipped == {"unknown-product": 3}
    no_return = [b for b in baskets if b["kind"] == "pick"]  # A still held at the last pick
    assert rebuild_decisions(decisions, no_return, cat, "s1").skipped == {"basket-contradicts-record": 1}


@pytest.mark.parametrize(
    ("stream", "change", "says"),
    [
        ("offer_decision", {"candidates": None}, "TypeError"),
        ("offer_decision", {"scores": [0.1]}, "candidates but 1 scores"),
        ("basket", {"gondola": "left"}, "ValueError"),
        ("basket", {"kind": "swap"}, "neither pick nor return"),
    ],
)
def test_a_malformed_event_is_one_error_naming_it(stream: str, change: dict[str, Any], says: str) -> None:
    cat, decisions, baskets = setup()
    if stream == "basket":
        baskets[1] = {**baskets[1], **change}
    else:
        decisions[1] = {**decisions[1], **change}
    with pytest.raises(GatewayExportError, match=says) as err:
        rebuild_decisions(decisions, baskets, cat, "s1")
    assert (err.value.stream, err.value.index) == (stream, 1)


def test_a_daemon_start_ends_every_basket_held_before_it() -> None:
    cat, decisions, baskets = setup()
    # the daemon restarted between the first and second pick: A, held only in memory, is gone
    start = {"shopper": None, "t": T + 0.5}
    rebuilt = rebuild_decisions(decisions, baskets, cat, "s1", [start])
    assert rebuilt.table.column("basket").to_pylist() == [["A"], ["B"], ["B", "C"]]
    assert rebuilt.basket_ends == 1
    # a departure of another shopper ends only that shopper's basket
    other = rebuild_decisions(decisions, baskets, cat, "s1", [{"shopper": "b", "t": T + 0.5}])
    assert other.table.column("basket").to_pylist() == [["A"], ["A", "B"], ["B", "C"]]


def test_an_export_without_decisions_says_so_when_replayed(tmp_path: Any) -> None:
    from models.experiments.decisions_io import read_decisions
    from models.experiments.events_io import EventsError

    (tmp_path / "export.json").write_text('{"decisions_read": 0}')
    with pytest.raises(EventsError, match=r"no decision log .*export\.json"):
        read_decisions(tmp_path)
