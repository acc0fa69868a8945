"""Cell statistics from hand-made exposures and picks: every sum checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from models.experiments.aggregate import (
    ALL_CAMPAIGNS,
    DAY,
    MONDAY,
    WEEK,
    Exposures,
    Picks,
    Windows,
    cell_stats,
)
from models.experiments.report import Labels, ReportConfig, build_report

T = MONDAY + 2957 * WEEK + 10 * 3600.0  # Monday 2026-09-07 10:00 UTC
EV, HOLD = 0, 1


def i64(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def f64(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


EXPOSURES = Exposures(
    t=f64(T, T + 100, T + 50, T + 10, T + 20),
    shopper=i64(0, 0, 1, 2, 3),
    product=i64(5, 6, 5, 5, 7),
    store=i64(0, 0, 0, 0, 0),
    campaign=i64(0, 0, 0, 0, 0),
    arm=i64(EV, EV, EV, HOLD, HOLD),
)
PICKS = Picks(
    t=f64(T + 30, T + 4000, T - DAY, T + 60, T + 5000, T - 3 * DAY),
    shopper=i64(0, 0, 0, 1, 2, 3),
    product=i64(5, 9, 9, 8, 5, 9),
    price=f64(4.0, 10.0, 20.0, 2.0, 4.0, 6.0),
    margin=f64(1.0, 3.0, 5.0, 0.5, 1.0, 1.5),
)


def cell(stats, campaign: int, arm: int) -> int:  # type: ignore[no-untyped-def]
    rows = np.flatnonzero((stats.campaign == campaign) & (stats.arm == arm))
    assert len(rows) == 1
    return int(rows[0])


def test_cell_sums_by_hand() -> None:
    stats = cell_stats(EXPOSURES, PICKS, Windows(visit_s=3600.0, as_of=T + 30 * DAY))
    assert len(stats) == 4  # campaign 0 and all offers, two arms each, one store, one week
    ev, hold = cell(stats, 0, EV), cell(stats, 0, HOLD)
    assert stats.n["converted"][ev] == 2 and stats.n["converted"][hold] == 2
    assert stats.sum["converted"][ev] == 1  # shopper 0 took product 5 at T+30
    assert stats.sum["converted"][hold] == 0  # shopper 2 took it after the visit (T+5000)
    assert stats.sum["spend_visit"][ev] == 6.0 and stats.sum_squares["spend_visit"][ev] == 20.0
    assert stats.sum["margin_visit"][ev] == 1.5
    assert stats.sum["spend_7d"][ev] == 16.0 and stats.sum["spend_7d"][hold] == 4.0
    assert stats.pre_sum["spend_visit"][ev] == 20.0 and stats.pre_sum["spend_visit"][hold] == 6.0
    assert stats.cross["spend_visit"][ev] == 80.0  # shopper 0: 4 x 20
    assert stats.pre_sum_squares["spend_visit"][hold] == 36.0
    assert stats.week[ev] == 2957
    everything = cell(stats, ALL_CAMPAIGNS, EV)
    assert stats.sum["spend_7d"][everything] == 16.0


def test_windows_not_yet_complete_are_left_out() -> None:
    stats = cell_stats(EXPOSURES, PICKS, Windows(visit_s=3600.0, as_of=T + 10 * DAY))
    ev = cell(stats, 0, EV)
    assert stats.n["spend_7d"][ev] == 2
    assert stats.n["spend_28d"][ev] == 0 and stats.sum["spend_28d"][ev] == 0


def test_sums_over_stores_and_weeks_equal_one_big_cell() -> None:
    rng = np.random.default_rng(5)
    n, m = 4000, 20000
    exp = Exposures(
        t=T + rng.uniform(0, 5 * WEEK, n), shopper=rng.integers(0, 900, n), product=rng.integers(0, 30, n),
        store=rng.integers(0, 3, n), campaign=rng.integers(0, 2, n), arm=rng.integers(0, 2, n),
    )  # fmt: skip
    picks = Picks(T + rng.uniform(-4 * WEEK, 6 * WEEK, m), rng.integers(0, 900, m), rng.integers(0, 30, m),
                  rng.gamma(2.0, 3.0, m), rng.gamma(2.0, 1.0, m))  # fmt: skip
    split = cell_stats(exp, picks, Windows())
    one = cell_stats(
        Exposures(exp.t, exp.shopper, exp.product, np.zeros(n, dtype=np.int64), exp.campaign, exp.arm),
        picks, Windows(as_of=float(max(exp.t.max(), picks.t.max()))),
    )  # fmt: skip
    for metric in ("converted", "spend_visit", "margin_28d"):
        for c in (0, 1, ALL_CAMPAIGNS):
            rows = split.campaign == c
            rows1 = one.campaign == c
            assert split.sum[metric][rows].sum() == pytest.approx(one.sum[metric][rows1].sum())
            assert split.n[metric][rows].sum() == one.n[metric][rows1].sum()


def test_report_rows_and_srm() -> None:
    stats = cell_stats(EXPOSURES, PICKS, Windows(visit_s=3600.0, as_of=T + 30 * DAY))
    report = build_report(
        stats, Labels(["c"], ["ev", "holdout"], ["s1"]), ReportConfig(shares={"ev": 0.5, "holdout": 0.5})
    )
    overall = {(r["campaign"], r["variant"]): r for r in report["overall"]}  # type: ignore[union-attr]
    assert overall[("c", "ev")]["like_for_like"] is False  # no holdout_variant configured
    assert overall[("(all offers)", "ev")]["like_for_like"] is True
    assert overall[("(all offers)", "ev")]["conversion_like_for_like"] is False
    assert set(overall) == {("c", "ev"), ("(all offers)", "ev")}
    row = overall[("c", "ev")]
    assert row["exposed_shoppers"] == {"treated": 2, "holdout": 2}
    plain = row["metrics"]["spend_visit"]["plain"]
    assert plain["absolute"] == pytest.approx(3.0)  # (4 + 2) / 2 - 0
    assert plain["error"] == "zero-control-mean"
    assert len(report["weekly"]) == 2 and len(report["cells"]) == 2  # type: ignore[arg-type]
    srm = {s["campaign"]: s for s in report["srm"]}  # type: ignore[union-attr]
    assert set(srm) == {"(all offers)"}  # per campaign, groups depend on the variants' rankings
    assert srm["(all offers)"]["observed"] == {"ev": 2, "holdout": 2}
    assert srm["(all offers)"]["p_value"] == pytest.approx(1.0)


def test_universal_holdout_gives_the_long_term_row() -> None:
    exp = Exposures(
        t=f64(T, T + 10, T + 20, T + 30, T + 40, T + 50),
        shopper=i64(0, 1, 2, 3, 4, 5),
        product=i64(5, 5, 5, 5, 5, 5),
        store=i64(0, 0, 0, 0, 0, 0),
        campaign=i64(0, 0, 0, 0, 0, 0),
        arm=i64(0, 0, 1, 1, 2, 2),  # ev, holdout, universal_holdout
    )
    picks = Picks(f64(T + 60, T + 70), i64(0, 4), i64(5, 5), f64(3.0, 5.0), f64(1.0, 2.0))
    stats = cell_stats(exp, picks, Windows(as_of=T + 30 * DAY))
    report = build_report(
        stats, Labels(["c"], ["ev", "holdout", "universal_holdout"], ["s1"]), ReportConfig()
    )
    (row,) = report["long_term"]  # type: ignore[misc]
    assert row["exposed_shoppers"] == {"treated": 2, "holdout": 2}
    assert row["metrics"]["spend_visit"]["plain"]["absolute"] == pytest.approx(1.5 - 2.5)
    assert {(r["campaign"], r["variant"]) for r in report["overall"]} == {("c", "ev"), ("(all offers)", "ev")}
