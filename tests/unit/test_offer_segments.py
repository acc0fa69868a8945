"""Campaigns that target customer segments: only shoppers whose profile puts them in one of the
segments get the campaign's offers (unknown segment: not reached), on both decision paths, and the
record logs the segments used."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from edge.offers.candidates import Candidate, CandidateList
from edge.offers.decision import DecisionContext, DecisionRecord, OfferEngine
from edge.offers.profile import Profile, ProfileError
from edge.offers.rules import RulesError, parse_rules
from models.experiments.decisions_io import read_decisions, write_decisions
from models.experiments.replay import replay
from tests.unit.test_offer_decision import SHELF, catalogue, event

NAMES = ("A", "B", "C", "N")
CAMPAIGN = {"campaign_id": "tins", "name": "Tins for champions", "products": ["A"], "discount_pct": 10}


def engine(**campaign: object) -> OfferEngine:
    doc = {
        "rules": {"min_gap_s": 0, "max_offers_per_shopper": 100, "organic_offers": False},
        "campaigns": [{**CAMPAIGN, **campaign}],
        "experiment": {
            "holdout_share": 0.0,
            "variants": [{"name": "ev", "share": 1.0, "novelty_share": 0.0}],
        },
    }
    return OfferEngine(parse_rules(doc), catalogue())


def decide(e: OfferEngine, segments: frozenset[str], indexed: bool, eid: str = "e1") -> DecisionRecord:
    context = DecisionContext(display="d-1", shelf=SHELF, segments=segments)
    cands: list[Candidate] | CandidateList = (
        CandidateList.indexed([0, 1], NAMES, [0.5, 0.4], [0.0, 0.0])
        if indexed
        else [Candidate("A", 0.5), Candidate("B", 0.4)]
    )
    return e.decide(event(eid=eid), ["C"], cands, context).record


@pytest.mark.parametrize("indexed", [False, True])
def test_a_targeted_campaign_reaches_only_its_segments(indexed: bool) -> None:
    e = engine(segments=["champions", "loyal"])
    inside = decide(e, frozenset({"loyal"}), indexed)
    assert inside.chosen == "A" and inside.campaign_id == "tins" and inside.segments == ("loyal",)
    # outside the segments, or segment unknown: the campaign does not exist for the shopper (and
    # without organic offers nothing is offered)
    for segments in (frozenset({"lapsed"}), frozenset()):
        outside = decide(engine(segments=["champions", "loyal"]), segments, indexed)
        assert outside.chosen is None and outside.outcome == "no-candidate"
        assert dict(outside.filtered) == {"no-campaign": 2}
        assert outside.segments == tuple(sorted(segments))
    assert DecisionRecord.from_dict(inside.to_dict()) == inside


@pytest.mark.parametrize("indexed", [False, True])
def test_excluded_segments_and_unknown_segments_are_not_reached(indexed: bool) -> None:
    assert decide(engine(exclude_segments=["lapsed"]), frozenset({"new"}), indexed).campaign_id == "tins"
    assert decide(engine(exclude_segments=["lapsed"]), frozenset({"lapsed"}), indexed).chosen is None
    assert decide(engine(exclude_segments=["lapsed"]), frozenset(), indexed).chosen is None
    # a campaign naming no segment reaches everyone, the unknown too
    assert decide(engine(), frozenset(), indexed).campaign_id == "tins"


def test_segment_rules_are_checked_at_the_door() -> None:
    bad = {**CAMPAIGN, "segments": ["Champions!"], "exclude_segments": []}
    with pytest.raises(RulesError, match=r"campaigns\.0\.segments\.0"):
        parse_rules({"campaigns": [bad]})
    both = {**CAMPAIGN, "segments": ["new"], "exclude_segments": ["new"]}
    with pytest.raises(RulesError, match="both targeted and excluded"):
        parse_rules({"campaigns": [both]})


def test_profiles_carry_segments() -> None:
    profile = Profile.from_dict({"items": ["A"], "weights": [0.5], "n_baskets": 2, "segments": ["loyal"]})
    assert profile.segments == frozenset({"loyal"})
    assert Profile.from_dict(profile.to_dict()) == profile
    assert Profile.from_dict({"items": [], "weights": [], "n_baskets": 0}).segments == frozenset()
    with pytest.raises(ProfileError, match="segments"):
        Profile.from_dict({"items": [], "weights": [], "n_baskets": 0, "segments": "loyal"})
    with pytest.raises(ProfileError, match="not segment ids"):
        Profile.from_dict({"items": [], "weights": [], "n_baskets": 0, "segments": ["Loyal Customers"]})


def test_the_replay_decides_with_the_logged_segments(tmp_path: Path) -> None:
    """simulate-policy replays a logged decision with the segments it was decided with: a campaign
    for "loyal" reaches the loyal shopper again (and still no one else), through the decision log."""
    rules = engine(segments=["loyal"]).rules
    logged = {
        "decision_id": ["d1", "d2"], "t": [1000.0, 1001.0], "shopper": ["s-1", "s-2"],
        "event_id": ["e1", "e2"], "gondola": [SHELF.gondola] * 2, "shelf_no": [SHELF.shelf] * 2,
        "shelf": [str(SHELF)] * 2, "product_id": ["C", "C"], "display": ["d-1"] * 2,
        "basket": [["C"], ["C"]], "candidate_ids": [["A", "B"]] * 2, "candidate_scores": [[0.5, 0.4]] * 2,
        "outcome": ["offered", "no-candidate"], "chosen": ["A", None], "propensity": [1.0, 0.0],
        "variant": ["ev", "ev"], "campaign_id": ["tins", None], "rules_version": [rules.version] * 2,
        "segments": [["loyal"], ["lapsed"]], "store_id": ["store-1"] * 2,
    }  # fmt: skip
    write_decisions(tmp_path, pa.table(logged))
    decisions = read_decisions(tmp_path)
    assert [d.segments for d in decisions] == [("loyal",), ("lapsed",)]
    replayed = replay(decisions, rules, {"store-1": catalogue()})
    loyal, lapsed = (r.record for r in replayed)
    assert (loyal.chosen, loyal.campaign_id, loyal.segments) == ("A", "tins", ("loyal",))
    assert replayed[0].probabilities == {"A": 1.0}
    assert lapsed.chosen is None and lapsed.outcome == "no-candidate" and lapsed.segments == ("lapsed",)
    # a log written before segments were logged: every shopper is of unknown segment
    older = tmp_path / "older" / "decisions" / "day=1970-01-01" / "store_id=store-1"
    older.mkdir(parents=True)
    pq.write_table(pa.table({k: v for k, v in logged.items() if k not in ("segments", "store_id")}),
                   older / "part-0.parquet")  # fmt: skip
    assert [d.segments for d in read_decisions(tmp_path / "older")] == [(), ()]
