"""From exposure and pick rows to sufficient statistics per cell (pure numpy, vectorised).

The unit is the shopper: each shopper enters a campaign's analysis once, at their first exposure
to it (the *anchor*: its time ``t0``, store, week and offered product), in the arm they were
assigned to (a variant, ``holdout`` or ``universal_holdout``). Per anchor, over pick rows:

* ``converted``: the anchor's offered product was picked in ``[t0, t0 + visit_s)``;
* ``spend_visit`` / ``margin_visit``: money spent / margin in ``[t0, t0 + visit_s)``;
* ``spend_7d`` ... ``margin_28d``: the same over 7 and 28 days (only shoppers whose window ended
  before the data did count: ``t0 + window <= as_of``);
* the CUPED covariate: spend in the 28 days before the shopper's first exposure of any kind.

Cells are (campaign, arm, store, week of the anchor); per cell and metric the output holds
``n``, ``sum``, ``sum_squares`` and the covariate's sums and cross products, which add across
cells (:mod:`models.experiments.statistics`). Campaign code -1 is "all offers" (anchor at the
shopper's first exposure of any campaign).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F = NDArray[np.float64]
I = NDArray[np.int64]  # noqa: E741

DAY = 86_400.0
WEEK = 7 * DAY
MONDAY = 4 * DAY  # 1970-01-05 00:00 UTC was a Monday
ALL_CAMPAIGNS = -1
METRICS = (
    "converted",
    "spend_visit",
    "margin_visit",
    "spend_7d",
    "margin_7d",
    "spend_28d",
    "margin_28d",
)
WINDOW_OF = {"spend_7d": 7 * DAY, "margin_7d": 7 * DAY, "spend_28d": 28 * DAY, "margin_28d": 28 * DAY}


@dataclass(frozen=True, slots=True)
class Exposures:
    """One row per exposure (offer shown or held out), as integer codes."""

    t: F
    shopper: I
    product: I
    store: I
    campaign: I  # -1 not allowed here: organic offers get a code of their own
    arm: I


@dataclass(frozen=True, slots=True)
class Picks:
    t: F
    shopper: I
    product: I
    price: F
    margin: F


@dataclass(frozen=True, slots=True)
class Windows:
    visit_s: float = 3600.0
    pre_s: float = 28 * DAY
    as_of: float | None = None  # end of the data (None: the last row's time)


@dataclass(frozen=True, slots=True)
class CellStats:
    """Sufficient statistics per cell: key columns and, per metric, arrays over cells."""

    campaign: I
    arm: I
    store: I
    week: I
    n: dict[str, F]
    sum: dict[str, F]
    sum_squares: dict[str, F]
    pre_sum: dict[str, F]
    pre_sum_squares: dict[str, F]
    cross: dict[str, F]

    def __len__(self) -> int:
        return len(self.campaign)


def _first_per_key(key: I, t: F) -> I:
    """Row index of the earliest row of each distinct key (ties: the first row)."""
    order = np.lexsort((t, key))
    k = key[order]
    first = np.ones(len(k), dtype=bool)
    first[1:] = k[1:] != k[:-1]
    return order[first]


class WindowSums:
    """Sums of pick columns per (group, time window), by cumulative sums over sorted keys."""

    def __init__(self, group: I, t: F, values: list[F], t0: float, span: float) -> None:
        self.t0, self.span = t0, span
        key = group.astype(np.float64) * span + (t - t0)
        self.order = np.argsort(key)  # ties (same group, same time) do not change any window's sum
        self.key = key[self.order]
        self.cums = [np.concatenate(([0.0], np.cumsum(v[self.order]))) for v in values]

    def position(self, group: I, times: F) -> I:
        """Index of the first sorted row of ``group`` at or after ``times``."""
        return np.searchsorted(
            self.key, group.astype(np.float64) * self.span + (times - self.t0), side="left"
        )

    def sums(self, lo: I, hi: I) -> list[F]:
        return [c[hi] - c[lo] for c in self.cums]

    def between(self, group: I, start: F, end: F) -> list[F]:
        return self.sums(self.position(group, start), self.position(group, end))

    def any_equal(self, lo: I, hi: I, column: I, wanted: I) -> NDArray[np.bool_]:
        """Per window [lo, hi): does ``column`` (in the original row order) equal ``wanted`` there?
        Expands the windows' rows, so meant for short windows (a visit)."""
        lengths = hi - lo
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(len(lo), dtype=bool)
        owner = np.repeat(np.arange(len(lo)), lengths)
        starts = np.cumsum(lengths) - lengths
        rows = np.arange(total) - np.repeat(starts, lengths) + np.repeat(lo, lengths)
        hits = column[self.order[rows]] == wanted[owner]
        return np.bincount(owner[hits], minlength=len(lo)) > 0


def shopper_anchors(exp: Exposures, all_campaigns: bool) -> I:
    """Row index of each (campaign, shopper)'s first exposure (or each shopper's, for all)."""
    if all_campaigns:
        return _first_per_key(exp.shopper, exp.t)
    n_shoppers = int(exp.shopper.max()) + 1 if len(exp.shopper) else 1
    return _first_per_key(exp.campaign * n_shoppers + exp.shopper, exp.t)


def cell_stats(exp: Exposures, picks: Picks, windows: Windows) -> CellStats:
    """Per-shopper metrics at each anchor, summed into cells (both per campaign and all offers)."""
    if len(exp.t) == 0:
        empty_i = np.zeros(0, dtype=np.int64)
        empty = {m: np.zeros(0) for m in METRICS}
        return CellStats(empty_i, empty_i, empty_i, empty_i, empty, empty, empty, empty, empty, empty)
    t_all = np.concatenate((exp.t, picks.t))
    t_min = float(t_all.min()) - windows.pre_s - 1.0
    t_max = float(t_all.max())
    as_of = windows.as_of if windows.as_of is not None else t_max
    span = (t_max - t_min) + 28 * DAY + windows.visit_s + 2.0
    spend = WindowSums(picks.shopper, picks.t, [picks.price, picks.margin], t_min, span)
    first_rows = shopper_anchors(exp, all_campaigns=True)
    first_of = np.zeros(int(exp.shopper.max()) + 1)
    first_of[exp.shopper[first_rows]] = exp.t[first_rows]

    parts = []
    for all_campaigns in (False, True):
        rows = first_rows if all_campaigns else shopper_anchors(exp, all_campaigns)
        s, t0 = exp.shopper[rows], exp.t[rows]
        lo = spend.position(s, t0)
        values: dict[str, F] = {}
        for label, w in (("visit", windows.visit_s), ("7d", 7 * DAY), ("28d", 28 * DAY)):
            hi = spend.position(s, t0 + w)
            values[f"spend_{label}"], values[f"margin_{label}"] = spend.sums(lo, hi)
            if label == "visit":  # the anchor's offered product among the visit's picks
                took = spend.any_equal(lo, hi, picks.product, exp.product[rows])
                values["converted"] = took.astype(np.float64)
        first = first_of[s]
        (pre,) = spend.between(s, first - windows.pre_s, first)[:1]
        campaign = np.full(len(rows), ALL_CAMPAIGNS) if all_campaigns else exp.campaign[rows]
        week = np.floor((t0 - MONDAY) / WEEK).astype(np.int64)
        parts.append((campaign, exp.arm[rows], exp.store[rows], week, values, pre, t0))
    return _sum_cells(parts, as_of)


def _bins(cell: I, weights: F, k: int) -> F:
    return np.asarray(np.bincount(cell, weights=weights, minlength=k), dtype=np.float64)


def _sum_cells(parts: list[tuple[I, I, I, I, dict[str, F], F, F]], as_of: float) -> CellStats:
    campaign = np.concatenate([p[0] for p in parts])
    arm = np.concatenate([p[1] for p in parts])
    store = np.concatenate([p[2] for p in parts])
    week = np.concatenate([p[3] for p in parts])
    pre = np.concatenate([p[5] for p in parts])
    t0 = np.concatenate([p[6] for p in parts])
    # one int64 key per cell (mixed radix), far cheaper to unique than rows of four
    cols = [campaign - ALL_CAMPAIGNS, arm, store, week - week.min()]
    sizes = [int(c.max()) + 1 for c in cols]
    key = np.zeros(len(campaign), dtype=np.int64)
    for c, size in zip(cols, sizes, strict=True):
        key = key * size + c
    uniq, cell = np.unique(key, return_inverse=True)
    k = len(uniq)
    cells = np.empty((k, 4), dtype=np.int64)
    rest = uniq.copy()
    for j in range(3, -1, -1):
        cells[:, j] = rest % sizes[j]
        rest //= sizes[j]
    cells[:, 0] += ALL_CAMPAIGNS
    cells[:, 3] += week.min()
    out: dict[str, dict[str, F]] = {f: {} for f in ("n", "sum", "ss", "ps", "pss", "x")}
    for metric in METRICS:
        x = np.concatenate([p[4][metric] for p in parts])
        window = WINDOW_OF.get(metric)
        mask = (t0 + window <= as_of).astype(np.float64) if window else np.ones(len(x))
        out["n"][metric] = _bins(cell, mask, k)
        out["sum"][metric] = _bins(cell, x * mask, k)
        out["ss"][metric] = _bins(cell, x * x * mask, k)
        out["ps"][metric] = _bins(cell, pre * mask, k)
        out["pss"][metric] = _bins(cell, pre * pre * mask, k)
        out["x"][metric] = _bins(cell, x * pre * mask, k)
    return CellStats(
        cells[:, 0], cells[:, 1], cells[:, 2], cells[:, 3],
        out["n"], out["sum"], out["ss"], out["ps"], out["pss"], out["x"],
    )  # fmt: skip
