"""Sufficient statistics of one arm (pure): what the aggregation emits and the tests read.

After gbstats' ``models/statistics.py``: an arm is summarised by ``n``, ``sum`` and ``sum_squares``
of a per-shopper metric; CUPED adds the pre-period covariate's sums and the cross product. Parts
add up (``+``), so the same statistics can come from numpy here or from a Spark job, per store and
week, and be summed to any roll-up without reading rows again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SampleMeanStatistic:
    """n, sum and sum of squares of a per-unit metric."""

    n: int
    sum: float
    sum_squares: float

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n > 0 else 0.0

    @property
    def variance(self) -> float:
        """Unbiased sample variance (0 for fewer than two units)."""
        if self.n < 2:
            return 0.0
        return max(0.0, (self.sum_squares - self.sum**2 / self.n) / (self.n - 1))

    def __add__(self, other: SampleMeanStatistic) -> SampleMeanStatistic:
        return SampleMeanStatistic(
            self.n + other.n, self.sum + other.sum, self.sum_squares + other.sum_squares
        )


@dataclass(frozen=True, slots=True)
class RegressionAdjustedStatistic:
    """A metric with its pre-period covariate (CUPED): both arms' statistics plus the cross sum.

    ``theta`` is set by the test from both arms pooled (Deng et al. 2013, CUPED), so it is not
    part of one arm's data."""

    post: SampleMeanStatistic
    pre: SampleMeanStatistic
    post_pre_sum_of_products: float

    @property
    def n(self) -> int:
        return self.post.n

    @property
    def covariance(self) -> float:
        n = self.post.n
        if n < 2:
            return 0.0
        return (self.post_pre_sum_of_products - self.post.sum * self.pre.sum / n) / (n - 1)

    def adjusted_mean(self, theta: float) -> float:
        return self.post.mean - theta * self.pre.mean

    def adjusted_variance(self, theta: float) -> float:
        return max(0.0, self.post.variance + theta**2 * self.pre.variance - 2 * theta * self.covariance)

    def __add__(self, other: RegressionAdjustedStatistic) -> RegressionAdjustedStatistic:
        return RegressionAdjustedStatistic(
            self.post + other.post,
            self.pre + other.pre,
            self.post_pre_sum_of_products + other.post_pre_sum_of_products,
        )


def pooled_theta(a: RegressionAdjustedStatistic, b: RegressionAdjustedStatistic) -> float:
    """CUPED's theta = cov(post, pre) / var(pre) over both arms pooled (0 when pre has no variance)."""
    both = a + b
    var_pre = both.pre.variance
    if var_pre <= 0 or not math.isfinite(var_pre):
        return 0.0
    return both.covariance / var_pre
