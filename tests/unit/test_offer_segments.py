"""Campaigns that target customer segments: only shoppers whose profile puts them in one of the
segments get the campaign's offers (unknown segment: not reached), on both decision paths, and the
record logs the segments used."""

from __future__ import annotations

import pytest

from edge.offers.candidates import Candidate, CandidateList
from edge.offers.decision import DecisionContext, DecisionRecord, OfferEngine
from edge.offers.profile import Profile, ProfileError
from edge.offers.rules import RulesError, parse_rules
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
