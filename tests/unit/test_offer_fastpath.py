"""The decision hot path: the model's columnar candidates read like a list, and the engine's caches
follow rules and catalogue replacements (backend updates)."""

from __future__ import annotations

from edge.offers.candidates import Candidate, CandidateList, columns
from edge.offers.catalogue import Catalogue, Product
from edge.offers.decision import OfferEngine
from tests.unit.test_offer_decision import CTX, SHELF, catalogue, event, rules


def test_candidate_list_reads_like_a_list_of_candidates() -> None:
    got = CandidateList(["A", "B", "C"], [0.5, 0.25, 0.125], [0.0, 0.3, 0.0])
    expected = [Candidate("A", 0.5, 0.0), Candidate("B", 0.25, 0.3), Candidate("C", 0.125, 0.0)]
    assert got == expected and list(got) == expected and len(got) == 3
    assert got[1] == Candidate("B", 0.25, 0.3) and got[-1].product_id == "C"
    assert got[:2] == expected[:2] and isinstance(got[:2], CandidateList)
    assert got != expected[:2] and got != "ABC"
    assert columns(got, 2) == (["A", "B"], [0.5, 0.25], [0.0, 0.3])


def test_columns_scores_bare_ids_by_rank() -> None:
    assert columns(["A", Candidate("B", 0.9, 0.2), "C"], 10) == (
        ["A", "B", "C"],
        [0.5, 0.9, 0.25],
        [0.0, 0.2, 0.0],
    )


def test_list_and_columns_decide_alike() -> None:
    cands = [
        Candidate("B", 0.2, 0.3),
        Candidate("A", 0.6, 0.0),
        Candidate("N", 0.1, 0.0),
        Candidate("W", 0.9),
    ]
    column = CandidateList(
        [c.product_id for c in cands], [c.score for c in cands], [c.together for c in cands]
    )
    one, two = OfferEngine(rules(), catalogue()), OfferEngine(rules(), catalogue())
    for i in range(3):
        a = one.decide(event(t=1000.0 + 100 * i, eid=f"e{i}"), ["C"], cands, CTX)
        b = two.decide(event(t=1000.0 + 100 * i, eid=f"e{i}"), ["C"], column, CTX)
        assert a == b


def test_replaced_catalogue_and_rules_are_used_at_once() -> None:
    engine = OfferEngine(rules(), catalogue())
    assert "A" in engine.offerable(SHELF)
    fresh = Catalogue({"Z": Product("Z", "Zinc Bucket", 3.0, 0.5, "bucket")})
    fresh.set_stock("Z", SHELF, 4)
    engine.catalogue = fresh  # same stock version as before may repeat: caches must not be reused
    assert engine.offerable(SHELF) == frozenset({"Z"})
    engine.rules = rules(rules={"excluded_categories": ["bucket"]})
    assert engine.offerable(SHELF) == frozenset()
    decision = engine.decide(event(), ["C"], [Candidate("Z", 0.9)], CTX)
    assert decision.offer is None and dict(decision.record.filtered) == {"excluded": 1}
