"""measure.events_per_s: the uplift job's aggregation on 10 million synthetic events, one core.

Events: 1.2 M exposures (three campaigns, two variants and a holdout, 20 stores, 8 weeks) and
8.8 M picks of 400,000 shoppers over 12 weeks (4 before the experiment). Ours:
:func:`models.experiments.aggregate.cell_stats` (sorted keys, cumulative sums, binary searches,
bincount per cell) from in-memory arrays to the sufficient statistics of every cell and metric.
Baseline: the same counts with plain pandas group-bys (first exposure per campaign and shopper by
groupby, anchors merged with the shopper's picks, window masks, sums per anchor, then per cell),
in eight shopper chunks so its merge fits in memory; both results are checked equal. On a shared
machine wall-clock figures include time other processes took; ``events_per_cpu_s`` leaves it out.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

from models.experiments.aggregate import (
    ALL_CAMPAIGNS,
    DAY,
    METRICS,
    MONDAY,
    WEEK,
    Exposures,
    Picks,
    Windows,
    cell_stats,
)

N_EXPOSURES = 1_200_000
N_PICKS = 8_800_000
SHOPPERS = 400_000
START = MONDAY + 2957 * WEEK
VISIT = 3600.0
PRE = 28 * DAY
CHUNKS = 8


def synthetic(seed: int = 1) -> tuple[Exposures, Picks]:
    rng = np.random.default_rng(seed)
    shopper = rng.integers(0, SHOPPERS, N_EXPOSURES)
    exp = Exposures(
        t=START + rng.uniform(0, 8 * WEEK, N_EXPOSURES),
        shopper=shopper,
        product=rng.integers(0, 500, N_EXPOSURES),
        store=shopper % 20,
        campaign=rng.integers(0, 3, N_EXPOSURES),
        arm=np.where(shopper % 10 < 2, 2, shopper % 2),
    )
    picks = Picks(
        t=START + rng.uniform(-4 * WEEK, 8 * WEEK, N_PICKS),
        shopper=rng.integers(0, SHOPPERS, N_PICKS),
        product=rng.integers(0, 500, N_PICKS),
        price=np.round(rng.gamma(2.0, 3.0, N_PICKS), 2),
        margin=np.round(rng.gamma(2.0, 1.0, N_PICKS), 2),
    )
    return exp, picks


def pandas_cells(exp: Exposures, picks: Picks, as_of: float) -> pd.DataFrame:
    e = pd.DataFrame({"t": exp.t, "shopper": exp.shopper, "product": exp.product, "store": exp.store,
                      "campaign": exp.campaign, "arm": exp.arm})  # fmt: skip
    p = pd.DataFrame({"tp": picks.t, "shopper": picks.shopper, "pproduct": picks.product, "price": picks.price,
                      "pmargin": picks.margin})  # fmt: skip
    parts = []
    for chunk in range(CHUNKS):
        ec = e[e.shopper % CHUNKS == chunk].sort_values("t", kind="stable")
        pc = p[p.shopper % CHUNKS == chunk]
        first_any = ec.groupby("shopper")["t"].min().rename("first")
        per_campaign = ec.groupby(["campaign", "shopper"], sort=False).head(1)
        overall = ec.groupby("shopper", sort=False).head(1).assign(campaign=ALL_CAMPAIGNS)
        anchors = pd.concat([per_campaign, overall], ignore_index=True).join(first_any, on="shopper")
        anchors["aid"] = np.arange(len(anchors))
        m = anchors[["aid", "shopper", "t", "product", "first"]].merge(pc, on="shopper")
        dt = m.tp - m.t
        cols = {}
        for label, w in (("visit", VISIT), ("7d", 7 * DAY), ("28d", 28 * DAY)):
            inside = (dt >= 0) & (dt < w)
            cols[f"spend_{label}"] = m.price.where(inside, 0.0)
            cols[f"margin_{label}"] = m.pmargin.where(inside, 0.0)
        cols["converted"] = ((dt >= 0) & (dt < VISIT) & (m.pproduct == m["product"])).astype(float)
        cols["pre"] = m.price.where((m.tp >= m["first"] - PRE) & (m.tp < m["first"]), 0.0)
        sums = pd.DataFrame(cols).groupby(m.aid).sum()
        a = anchors.join(sums, on="aid").fillna(0.0)
        a["converted"] = (a["converted"] > 0).astype(float)
        a["week"] = np.floor((a.t - MONDAY) / WEEK).astype(np.int64)
        parts.append(a)
    a = pd.concat(parts, ignore_index=True)
    out = {}
    for metric in METRICS:
        window = 7 * DAY if "7d" in metric else 28 * DAY if "28d" in metric else None
        mask = (a.t + window <= as_of).astype(float) if window else 1.0
        x = a[metric] * mask
        out[f"{metric}:n"] = mask if window else pd.Series(1.0, index=a.index)
        out[f"{metric}:sum"] = x
        out[f"{metric}:ss"] = x * a[metric]
        out[f"{metric}:x"] = x * a["pre"]
    return pd.DataFrame(out).groupby([a.campaign, a.arm, a.store, a.week]).sum()


def main() -> list[dict[str, object]]:
    exp, picks = synthetic()
    events = N_EXPOSURES + N_PICKS
    as_of = float(max(exp.t.max(), picks.t.max()))
    start, cpu = time.perf_counter(), time.process_time()
    ours = cell_stats(exp, picks, Windows(visit_s=VISIT, pre_s=PRE, as_of=as_of))
    ours_s, ours_cpu = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    theirs = pandas_cells(exp, picks, as_of)
    pandas_s, pandas_cpu = time.perf_counter() - start, time.process_time() - cpu
    assert len(theirs) == len(ours), (len(theirs), len(ours))
    for metric in METRICS:  # the same counts
        assert np.isclose(theirs[f"{metric}:sum"].sum(), ours.sum[metric].sum(), rtol=1e-9), metric
        assert np.isclose(theirs[f"{metric}:n"].sum(), ours.n[metric].sum()), metric
        assert np.isclose(theirs[f"{metric}:x"].sum(), ours.cross[metric].sum(), rtol=1e-9), metric
    return [
        {
            "bench": "measure.events_per_s",
            "value": round(events / ours_s),
            "unit": f"events/s ({events:,} exposures + picks to per-cell sufficient statistics, one core; "
            f"load {os.getloadavg()[0]:.1f})",
            "baseline": round(events / pandas_s),
        },
        {
            "bench": "measure.events_per_cpu_s",
            "value": round(events / ours_cpu),
            "unit": "events/s of process CPU time (the same run; other processes' load left out)",
            "baseline": round(events / pandas_cpu),
        },
    ]


if __name__ == "__main__":
    for row in main():
        print(row)
