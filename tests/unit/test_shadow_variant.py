"""Held-out shoppers' shadow variant: drawn like a treated shopper's variant, decided under its
mixture, logged, exported, and the control of that variant's rows in the uplift report."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.events import BasketEvent, ShelfId
from edge.mqtt.payloads import BasketEventMessage
from edge.offers.candidates import Candidate
from edge.offers.catalogue import Catalogue, Product
from edge.offers.decision import DecisionContext, DecisionRecord, OfferEngine
from edge.offers.experiments import HOLDOUT, UNIVERSAL_HOLDOUT, assign
from edge.offers.rules import parse_rules
from models.experiments.aggregate import MONDAY, WEEK, Exposures, Picks, Windows, cell_stats
from models.experiments.events_io import read_events
from models.experiments.gateway_export import write_gateway_export
from models.experiments.report import Labels, ReportConfig, build_report

SHELF = ShelfId(1, 0)
T = MONDAY + 2957 * WEEK + 10 * 3600.0


def doc(holdout: float = 0.5, universal: float = 0.0) -> dict[str, object]:
    return {
        "version": "t-shadow",
        "rules": {"min_gap_s": 0, "max_offers_per_shopper": 100, "explore_floor": 0.0},
        "universal_holdout": {"share": universal, "salt": "u", "epoch": "1"},
        "experiment": {
            "holdout_share": holdout,
            "variants": [
                {"name": "ev", "share": 0.3, "explore_share": 0.1},
                {"name": "rel", "share": 0.7, "ranking": "relevance", "explore_share": 0.6},
            ],
        },
    }


def test_shadow_variant_follows_the_shares_independently_of_the_holdout() -> None:
    rules = parse_rules(doc(holdout=0.5, universal=0.2))
    groups = [assign(rules.experiment, f"s-{i}", rules.universal_holdout) for i in range(6000)]
    held = [g for g in groups if g.group in (HOLDOUT, UNIVERSAL_HOLDOUT)]
    assert all(g.shadow is not None and g.variant is None for g in held)
    assert all(g.shadow is None for g in groups if g not in held)
    for name in (HOLDOUT, UNIVERSAL_HOLDOUT):
        shadows = Counter(g.shadow.name for g in held if g.group == name and g.shadow is not None)
        share = shadows["ev"] / sum(shadows.values())
        assert share == pytest.approx(0.3, abs=0.04), name  # the variants' shares, in each holdout
    treated = Counter(g.group for g in groups if g not in held)
    assert treated["ev"] / sum(treated.values()) == pytest.approx(0.3, abs=0.03)
    again = assign(rules.experiment, "s-7", rules.universal_holdout)
    assert again == groups[7]  # deterministic


def test_held_out_decision_is_made_and_logged_as_its_shadow_variant(tmp_path: Path) -> None:
    cat = Catalogue({p: Product(p, p, 2.0, 0.5, "tin") for p in "ABCDE"})
    for p in "ABCDE":
        cat.set_stock(p, SHELF, 5)
    engine = OfferEngine(parse_rules(doc()), cat)
    cands = [Candidate(p, s) for p, s in zip("ABCD", (0.5, 0.4, 0.3, 0.2), strict=True)]
    mixture: dict[str, set[tuple[float, ...]]] = {}
    records: list[DecisionRecord] = []
    for i in range(80):
        ev = BasketEvent(T + i, SHELF, "pick", "E", 1, 1.0, f"s-{i}", event_id=f"e{i}")
        rec = engine.decide(ev, [], cands, DecisionContext("d-1", SHELF)).record
        records.append(rec)
        decided_as = rec.shadow_variant if rec.outcome == "held-out" else rec.variant
        assert decided_as in ("ev", "rel")
        assert (rec.shadow_variant is None) == (rec.outcome == "offered")
        mixture.setdefault(str(decided_as), set()).add(rec.mixture)
        assert DecisionRecord.from_dict(rec.to_dict()) == rec
    # one mixture per variant, the same for treated and held-out shoppers (explore 0.1 vs 0.6)
    assert {k: len(v) for k, v in mixture.items()} == {"ev": 1, "rel": 1}
    assert mixture["ev"] != mixture["rel"]
    held = {r.shadow_variant for r in records if r.outcome == "held-out"}
    assert held == {"ev", "rel"}
    # exported for measurement: each held-out shopper is the control of their shadow variant
    picks = [
        BasketEventMessage.from_event(BasketEvent(T + i, SHELF, "pick", "E", 1, 1.0, f"s-{i}", event_id=f"e{i}")).model_dump()
        for i in range(80)
    ] + [BasketEventMessage.from_event(BasketEvent(T + 5, SHELF, "pick", "A", 1, 1.0, "s-0", event_id="a")).model_dump()]  # fmt: skip
    rebuilt = write_gateway_export(tmp_path, "s1", [r.to_dict() for r in records], picks, cat, engine.rules)
    assert rebuilt.table.num_rows == 80 and not rebuilt.skipped  # each decision with its basket
    labels = read_events(tmp_path).labels
    assert set(labels.arms) == {"ev", "rel", "holdout:ev", "holdout:rel"}


def i64(*values: int) -> Any:
    return np.asarray(values, dtype=np.int64)


def f64(*values: float) -> Any:
    return np.asarray(values, dtype=np.float64)


def test_each_variant_is_compared_with_the_holdout_decided_as_it() -> None:
    exp = Exposures(
        t=f64(*(T + 10 * k for k in range(8))),
        shopper=i64(0, 1, 2, 3, 4, 5, 6, 7),
        product=i64(9, 9, 9, 9, 9, 9, 9, 9),
        store=i64(0, 0, 0, 0, 0, 0, 0, 0),
        campaign=i64(0, 0, 0, 0, 0, 0, 0, 0),
        arm=i64(0, 0, 1, 1, 2, 2, 3, 3),  # ev, rel, holdout:ev, holdout:rel
    )
    # spend in the visit: ev 4 and 2, rel 0, holdout:ev 1, holdout:rel 6 and 6
    picks = Picks(
        f64(T + 100, T + 110, T + 140, T + 160, T + 170),
        i64(0, 1, 4, 6, 7),
        i64(9, 9, 9, 9, 9),
        f64(4.0, 2.0, 1.0, 6.0, 6.0),
        f64(1.0, 1.0, 1.0, 1.0, 1.0),
    )
    stats = cell_stats(exp, picks, Windows(visit_s=3600.0, as_of=T + 30 * 86_400.0))
    labels = Labels(["c"], ["ev", "rel", "holdout:ev", "holdout:rel"], ["s1"])
    config = ReportConfig(shares={"ev": 0.25, "rel": 0.25, "holdout": 0.5})
    report: dict[str, Any] = build_report(stats, labels, config)
    overall = {(r["campaign"], r["variant"]): r for r in report["overall"]}
    assert set(overall) == {(c, v) for c in ("c", "(all offers)") for v in ("ev", "rel")} | {
        ("(all offers)", "(all variants)")
    }
    assert all(r["like_for_like"] and r["conversion_like_for_like"] for r in overall.values())
    ev, rel = overall[("c", "ev")], overall[("c", "rel")]
    assert ev["exposed_shoppers"] == {"treated": 2, "holdout": 2}
    assert ev["metrics"]["spend_visit"]["plain"]["absolute"] == pytest.approx(3.0 - 0.5)
    assert rel["metrics"]["spend_visit"]["plain"]["absolute"] == pytest.approx(0.0 - 6.0)
    both = overall[("(all offers)", "(all variants)")]
    assert both["exposed_shoppers"] == {"treated": 4, "holdout": 4}
    assert both["metrics"]["spend_visit"]["plain"]["absolute"] == pytest.approx(1.5 - 3.25)
    (srm,) = report["srm"]
    assert srm["observed"] == {"ev": 2, "rel": 2, "holdout": 4}  # the holdout counted as one arm
