"""Uplift comparisons from cell statistics (pure): the report's JSON, before any plotting.

Every comparison is a treated arm against the holdout of the same campaign and the same cells:
per (campaign, variant, store, week), per (campaign, variant) over everything, cumulatively per
week (what a manager looking each Monday saw: always-valid intervals), and, where there is a
universal holdout, all offers against it. Variant v's control is the held-out shoppers whose
shadow variant is v (arm ``holdout:v``: decided as v, offer held back); "(all offers) / (all
variants)" is every treated shopper against the whole holdout. Exports without shadow variants
(arm ``holdout`` only) compare every variant with the whole holdout, flagged as before. Each metric gets the plain Welch test, the sequential
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
ALL_VARIANTS = "(all variants)"
ORGANIC = "(organic)"
HEADLINE = "spend_visit"
SHADOW_SEP = ":"  # arm "holdout:ev": held-out shoppers whose decisions were made as variant ev


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
    # Only for exports without ``shadow_variant`` (made before held-out shoppers got one): the
    # variant the holdout's decisions were made as (then the experiment's first). Per-campaign rows
    # of other variants compare shoppers selected by different rankings: ``like_for_like: false``;
    # "took the offered product" of another variant compares different products:
    # ``conversion_like_for_like: false``. None: unknown (every such row flagged). With shadow
    # variants each variant is compared with the held-out shoppers decided as it: every row alike.
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


def base_arm(arm: str) -> str:
    """The arm's group: ``holdout`` for ``holdout:ev`` (a shadow variant's holdout), else itself."""
    return HOLDOUT if arm.startswith(HOLDOUT + SHADOW_SEP) else arm


def build_report(cs: CellStats, labels: Labels, config: ReportConfig) -> dict[str, object]:
    arms = list(labels.arms)
    variant_codes = [i for i, a in enumerate(arms) if base_arm(a) not in CONTROLS]
    holdout_codes = [i for i, a in enumerate(arms) if base_arm(a) == HOLDOUT]
    shadow_of = {
        a[len(HOLDOUT + SHADOW_SEP) :]: i for i, a in enumerate(arms) if a.startswith(HOLDOUT + SHADOW_SEP)
    }
    universal = arms.index(UNIVERSAL) if UNIVERSAL in arms else -1
    test = config.test
    campaigns = sorted(set(cs.campaign.tolist()))
    overall: list[dict[str, object]] = []
    weekly: list[dict[str, object]] = []
    cells: list[dict[str, object]] = []
    srm = []
    for camp in campaigns:
        in_camp = cs.campaign == camp
        name = labels.campaign(camp)
        if camp == ALL_CAMPAIGNS:  # per campaign, who gets which campaign depends on the variant's ranking
            counts: dict[str, int] = {}
            for a in set(cs.arm[in_camp].tolist()):
                arm = base_arm(arms[a])
                counts[arm] = counts.get(arm, 0) + round(cs.n["converted"][in_camp & (cs.arm == a)].sum())
            srm_arms = {a: s for a, s in (config.shares or {}).items() if a != UNIVERSAL}
            srm.append({"campaign": name, **check_srm(counts, srm_arms).to_dict()})
        for v in variant_codes:
            treated = in_camp & (cs.arm == v)
            if not treated.any():
                continue
            if shadow_of:  # the held-out shoppers decided as this variant: alike in every metric
                control = in_camp & (cs.arm == shadow_of.get(arms[v], -2))
                same_policy = like = True
            else:  # an export without shadow variants: the whole holdout, decided as one variant
                control = in_camp & np.isin(cs.arm, holdout_codes)
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
            _rows(cs, labels, config, key, treated, control, overall, weekly, cells)
        if camp == ALL_CAMPAIGNS and shadow_of and len(variant_codes) > 1:
            # every treated shopper against the whole holdout (its shadows split as the variants do)
            key = {
                "campaign": name,
                "variant": ALL_VARIANTS,
                "like_for_like": True,
                "conversion_like_for_like": True,
            }
            treated = in_camp & np.isin(cs.arm, variant_codes)
            control = in_camp & np.isin(cs.arm, holdout_codes)
            _rows(cs, labels, config, key, treated, control, overall, weekly, cells)
    long_term = []
    if universal >= 0:
        in_all = cs.campaign == ALL_CAMPAIGNS
        treated = in_all & np.isin(cs.arm, variant_codes)
        control = in_all & (cs.arm == universal)
        long_term.append(
            {
                "campaign": ALL_LABEL,
                "variant": ALL_VARIANTS,
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


def _rows(
    cs: CellStats,
    labels: Labels,
    config: ReportConfig,
    key: Mapping[str, object],
    treated: NDArray[np.bool_],
    control: NDArray[np.bool_],
    overall: list[dict[str, object]],
    weekly: list[dict[str, object]],
    cells: list[dict[str, object]],
) -> None:
    """One comparison's rows: over everything, cumulatively per week, per store and week."""
    test = config.test
    overall.append({**key, **compare(cs, treated, control, test)})
    for week in sorted(set(cs.week[treated].tolist())):
        upto = cs.week <= week
        res = compare(cs, treated & upto, control & upto, test)
        weekly.append({**key, "week": week_label(week), **res})
        for store in sorted(set(cs.store[treated & (cs.week == week)].tolist())) if config.cells else ():
            here = (cs.week == week) & (cs.store == store)
            res = compare(cs, treated & here, control & here, test)
            cells.append({**key, "store": labels.stores[store], "week": week_label(week), **res})
