"""Rolling-window arithmetic of the pick detector (pure numpy over a shelf's sample buffer)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]


def onset_time(buf_t: F64, h: int, r: int, gap_rows: npt.NDArray[np.bool_], short_n: int) -> float:
    """When the change at new row ``r`` began: the first sample of the short mean, or the last one
    before a gap."""
    lo = max(0, r - short_n + 1)
    gaps = np.flatnonzero(gap_rows[lo : r + 1])
    if len(gaps):
        g = lo + int(gaps[-1])
        return float(buf_t[h + g - 1]) if h + g >= 1 else float(buf_t[h + g])
    return float(buf_t[max(0, h + r - short_n + 1)])


def window_stats(
    buf_t: F64, buf: F64, h: int, w: int, settle_window_s: float, max_gap_s: float
) -> tuple[F64, F64, npt.NDArray[np.bool_]]:
    """Mean and std over the ``w``-sample window ending at each row from ``h`` on, and whether the
    window is usable (full, not stretched over more than twice ``settle_window_s``, no gap in it)."""
    m = len(buf_t) - h
    ref = buf[0]
    d = buf - ref
    c1 = np.zeros((len(d) + 1, d.shape[1]))
    c2 = np.zeros((len(d) + 1, d.shape[1]))
    np.cumsum(d, axis=0, out=c1[1:])
    np.cumsum(d * d, axis=0, out=c2[1:])
    ends = np.arange(h, h + m) + 1
    starts = np.maximum(ends - w, 0)
    n = (ends - starts)[:, None]
    s1 = c1[ends] - c1[starts]
    mean = s1 / n
    var = (c2[ends] - c2[starts]) / n - mean**2
    std = np.sqrt(np.maximum(var, 0.0))
    span = buf_t[ends - 1] - buf_t[starts]
    valid = ((ends - starts) == w) & (span <= 2.0 * settle_window_s)
    steps = np.diff(buf_t)
    if steps.max() > max_gap_s:
        gaps = np.concatenate([[0], np.cumsum(steps > max_gap_s)])
        valid &= gaps[ends - 1] == gaps[starts]
    return mean + ref, std, valid


def neighbour_runs(columns: list[int]) -> list[list[int]]:
    """Sorted plate columns -> runs of neighbours ([1, 2, 4] -> [[1, 2], [4]])."""
    runs: list[list[int]] = []
    for c in columns:
        if runs and c - runs[-1][-1] <= 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    return runs
