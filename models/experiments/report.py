"""Uplift comparisons from cell statistics (pure): the report's JSON, before any plotting.

Every comparison is a treated arm against the holdout of the same campaign and the same cells:
per (campaign, variant, store, week), per (campaign, variant) over everything, cumulatively per
week (what a manager looking each Monday saw: always-valid intervals), and, where there is a
universal holdout, all offers against it. Each metric gets the plain Welch test, the sequential
(always-valid) one and, for money metrics, CUPED with pre-period spend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from models.experiments.aggregate import ALL_CAMPAIGNS, METRICS, MONDAY, WEEK, CellStats
from models.experiments.frequentist import (
    AnalysisConfig,
    CupedTTest,
    SequentialTTest,
    TTest,
    UpliftResult,
)
from models.experiments.srm import check_srm
from models.experiments.statistics import RegressionAdjustedStatistic, SampleMeanStatistic

HOLDOUT = "holdout"
UNIVERSAL = "universal_holdout"
CONTROLS = (HOLDOUT, UNIVERSAL)
ALL_LABEL = "(all offers)"
ORGANIC = "(organic)"
HEADLINE = "spend_visit"


@dataclass(frozen=True, slots=True)
class Labels:
    """Names of the integer codes in :class:`CellStats` (campaign code -1 is all offers)."""

    campaigns: Sequence[str]
    arms: Sequence[str]
    stores: Sequence[str]

    def campaign(self, code: int) -> str:
        return ALL_LABEL if code == ALL_CAMPAIGNS else self.campaigns[code]


@dataclass(frozen=True, slots=True)
class ReportConfig:
    test: AnalysisConfig = field(default_factory=AnalysisConfig)
    shares: Mapping[str, float] | None = None  # configured share per arm, for the SRM check
    # The variant the holdout's decisions are made as (the offer engine decides held-out shoppers
    # with the experiment's first variant). Per-campaign rows of other variants then compare
    # shoppers selected by different rankings: flagged ``like_for_like: false``; for every row of
    # another variant "took the offered product" compares different products:
    # ``conversion_like_for_like: false``. None: unknown (every row flagged).
    holdout_variant: str | None = None
    cells: bool = True  # the per store and week rows (the validation study skips them)


def week_label(week: int) -> str:
    return datetime.fromtimestamp(MONDAY + week * WEEK, UTC).strftime("%Y-%m-%d")


def _stats(cs: CellStats, rows: NDArray[np.bool_], metric: str) -> RegressionAdjustedStatistic:
    n = round(cs.n[metric][rows].sum())
    post = SampleMeanStatistic(
        n, float(cs.sum[metric][rows].sum()), float(cs.sum_squares[metric][rows].sum())
    )
    pre = SampleMeanStatistic(
        n, float(cs.pre_sum[metric][rows].sum()), float(cs.pre_sum_squares[metric][rows].sum())
    )
    return RegressionAdjustedStatistic(post, pre, float(cs.cross[metric][rows].sum()))


def compare(
    cs: CellStats, treated: NDArray[np.bool_], control: NDArray[np.bool_], config: AnalysisConfig
) -> dict[str, object]:
    """Every metric of the treated cells against the control cells."""
    metrics: dict[str, object] = {}
    for metric in METRICS:
        t, c = _stats(cs, treated, metric), _stats(cs, control, metric)
        entry: dict[str, object] = {
            "plain": TTest(c.post, t.post, config).compute().to_dict(),
            "sequential": SequentialTTest(c.post, t.post, config).compute().to_dict(),
        }
        if metric != "converted":
            entry["cuped"] = CupedTTest(c, t, config).compute().to_dict()
        metrics[metric] = entry
    n_t = round(cs.n["converted"][treated].sum())
    n_c = round(cs.n["converted"][control].sum())
    return {"exposed_shoppers": {"treated": n_t, "holdout": n_c}, "metrics": metrics}


def headline(result: Mapping[str, object]) -> UpliftResult | None:
    """The headline figure of a comparison (CUPED uplift of visit spend), for plots and tables."""
    metrics = result["metrics"]
    assert isinstance(metrics, dict)
    data = metrics[HEADLINE]["cuped"]
    return UpliftResult(**data) if data else None


def build_report(cs: CellStats, labels: Labels, config: ReportConfig) -> dict[str, object]:
    arms = list(labels.arms)
    variant_codes = [i for i, a in enumerate(arms) if a not in CONTROLS]
    holdout = arms.index(HOLDOUT) if HOLDOUT in arms else -1
    universal = arms.index(UNIVERSAL) if UNIVERSAL in arms else -1
    test = config.test
    campaigns = sorted(set(cs.campaign.tolist()))
    overall, weekly, cells, srm = [], [], [], []
    for camp in campaigns:
        in_camp = cs.campaign == camp
        name = labels.campaign(camp)
        if camp == ALL_CAMPAIGNS:  # per campaign, who gets which campaign depends on the variant's ranking
            counts = {
                arms[a]: round(cs.n["converted"][in_camp & (cs.arm == a)].sum())
                for a in set(cs.arm[in_camp].tolist())
            }
            srm_arms = {a: s for a, s in (config.shares or {}).items() if a != UNIVERSAL}
            srm.append({"campaign": name, **check_srm(counts, srm_arms).to_dict()})
        for v in variant_codes:
            treated = in_camp & (cs.arm == v)
            if not treated.any():
                continue
            control = in_camp & (cs.arm == holdout)
            same_policy = config.holdout_variant is not None and arms[v] == config.holdout_variant
            like = camp == ALL_CAMPAIGNS or same_policy
            # "took the offered product" compares the treated shopper's product with the one the
            # holdout would have been offered: like-for-like only when both are chosen alike
            key = {
                "campaign": name,
                "variant": arms[v],
                "like_for_like": like,
                "conversion_like_for_like": same_policy,
            }
            overall.append({**key, **compare(cs, treated, control, test)})
            for week in sorted(set(cs.week[treated].tolist())):
                upto = cs.week <= week
                res = compare(cs, treated & upto, control & upto, test)
                weekly.append({**key, "week": week_label(week), **res})
                for store in (
                    sorted(set(cs.store[treated & (cs.week == week)].tolist())) if config.cells else ()
                ):
                    here = (cs.week == week) & (cs.store == store)
                    res = compare(cs, treated & here, control & here, test)
                    cells.append({**key, "store": labels.stores[store], "week": week_label(week), **res})
    long_term = []
    if universal >= 0:
        in_all = cs.campaign == ALL_CAMPAIGNS
        treated = in_all & np.isin(cs.arm, variant_codes)
        control = in_all & (cs.arm == universal)
        long_term.append(
            {
                "campaign": ALL_LABEL,
                "variant": "(all variants)",
                "like_for_like": True,
                "conversion_like_for_like": False,
                **compare(cs, treated, control, test),
            }
        )
    return {
        "alpha": test.alpha,
        "headline_metric": HEADLINE,
        "metrics": list(METRICS),
        "srm": srm,
        "overall": overall,
        "weekly": weekly,
        "cells": cells,
        "long_term": long_term,
    }
