"""Two-sample tests of a treated arm against its holdout (pure), one small class per test.

After gbstats' ``frequentist/tests.py``: :class:`TTest` (Welch) computes the difference of means
and its interval; :class:`SequentialTTest` replaces only the interval half-width and the p-value
by the always-valid ones of a normal-mixture confidence sequence (Howard, Ramdas, McAuliffe and
Sekhon 2021, arXiv 1810.08240, eq. 14, in gbstats' parametrisation), so a manager may look
every day without inflating false positives; :class:`CupedTTest` swaps the arm moments for
CUPED-adjusted ones (Deng, Xu, Kohavi and Walker 2013). Degenerate input gives a result with an
``error`` code (see :data:`ERRORS`), never an exception.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from edge.json_values import finite_or_none
from models.experiments.statistics import RegressionAdjustedStatistic, SampleMeanStatistic, pooled_theta

TOO_FEW_UNITS = "too-few-units"
ZERO_VARIANCE = "zero-variance"
ZERO_CONTROL_MEAN = "zero-control-mean"
ERRORS = {
    TOO_FEW_UNITS: "an arm has fewer than 2 shoppers",
    ZERO_VARIANCE: "both arms have zero variance: no interval",
    ZERO_CONTROL_MEAN: "the holdout mean is 0: no relative uplift",
}


@dataclass(frozen=True, slots=True)
class AnalysisConfig:
    """``alpha``: two-sided level (0.05: 95 % intervals); ``sequential_tuning``: the number of
    shoppers (both arms) at which the confidence sequence is tightest (gbstats' default 5000)."""

    alpha: float = 0.05
    sequential_tuning: float = 5000.0

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), not {self.alpha}")
        if self.sequential_tuning <= 0:
            raise ValueError("sequential_tuning must be > 0")


@dataclass(frozen=True, slots=True)
class UpliftResult:
    """Treated minus holdout: ``absolute`` (metric units) and ``relative`` (share of the holdout
    mean) with their intervals; ``p_value`` two-sided (always-valid for sequential tests)."""

    n_control: int
    n_treatment: int
    control_mean: float
    treatment_mean: float
    absolute: float
    ci_low: float
    ci_high: float
    relative: float | None
    relative_ci_low: float | None
    relative_ci_high: float | None
    p_value: float
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {f: finite_or_none(getattr(self, f)) for f in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class Moments:
    """What every test needs of both arms: means and per-unit variances."""

    n_c: int
    n_t: int
    mean_c: float
    mean_t: float
    var_c: float
    var_t: float


class TTest:
    """Welch's two-sample t-test; relative uplift by the delta method."""

    def __init__(
        self,
        control: SampleMeanStatistic,
        treatment: SampleMeanStatistic,
        config: AnalysisConfig | None = None,
    ) -> None:
        self.control = control
        self.treatment = treatment
        self.config = config or AnalysisConfig()

    def moments(self) -> Moments:
        c, t = self.control, self.treatment
        return Moments(c.n, t.n, c.mean, t.mean, c.variance, t.variance)

    # -- overridden by the sequential test
    def halfwidth(self, variance_of_estimate: float, df: float, n: int) -> float:
        return float(stats.t.ppf(1 - self.config.alpha / 2, df)) * math.sqrt(variance_of_estimate)

    def p_value(self, estimate: float, variance_of_estimate: float, df: float, n: int) -> float:
        return float(2 * stats.t.sf(abs(estimate) / math.sqrt(variance_of_estimate), df))

    # -- shared
    def compute(self) -> UpliftResult:
        m = self.moments()
        if m.n_c < 2 or m.n_t < 2:
            return _degenerate(m, TOO_FEW_UNITS)
        vc, vt = m.var_c / m.n_c, m.var_t / m.n_t
        var_abs = vc + vt
        absolute = m.mean_t - m.mean_c
        if var_abs <= 0:
            return _degenerate(m, ZERO_VARIANCE)
        df = var_abs**2 / ((vc**2 / (m.n_c - 1) if vc else 0.0) + (vt**2 / (m.n_t - 1) if vt else 0.0))
        n = m.n_c + m.n_t
        hw = self.halfwidth(var_abs, df, n)
        p = min(1.0, self.p_value(absolute, var_abs, df, n))
        rel = rel_lo = rel_hi = None
        error = None
        if m.mean_c != 0:
            rel = m.mean_t / m.mean_c - 1
            # delta method for mean_t / mean_c (independent arms)
            var_rel = vt / m.mean_c**2 + vc * m.mean_t**2 / m.mean_c**4
            rel_hw = self.halfwidth(var_rel, df, n)
            rel_lo, rel_hi = rel - rel_hw, rel + rel_hw
        else:
            error = ZERO_CONTROL_MEAN
        return UpliftResult(
            m.n_c,
            m.n_t,
            m.mean_c,
            m.mean_t,
            absolute,
            absolute - hw,
            absolute + hw,
            rel,
            rel_lo,
            rel_hi,
            p,
            error,
        )


def _degenerate(m: Moments, code: str) -> UpliftResult:
    absolute = m.mean_t - m.mean_c
    nan = math.nan
    return UpliftResult(m.n_c, m.n_t, m.mean_c, m.mean_t, absolute, nan, nan, None, None, None, 1.0, code)


def sequential_rho(alpha: float, tuning: float) -> float:
    """The mixture's scale that makes the sequence tightest at ``tuning`` units (gbstats)."""
    return math.sqrt((-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning)


class SequentialTTest(TTest):
    """Always-valid: the interval is a confidence sequence and the p-value its inversion.

    Half-width for the difference of means with per-unit variance s2 = n * Var(estimate) at n
    units: sqrt(s2) * sqrt(2 (n rho^2 + 1) / (n^2 rho^2) * log(sqrt(n rho^2 + 1) / alpha)).
    The p-value is the alpha at which that half-width equals |estimate|:
    sqrt(n rho^2 + 1) * exp(-estimate^2 n^2 rho^2 / (2 s2 (n rho^2 + 1))), capped at 1.
    """

    def _rho(self) -> float:
        return sequential_rho(self.config.alpha, self.config.sequential_tuning)

    def halfwidth(self, variance_of_estimate: float, df: float, n: int) -> float:
        rho2 = self._rho() ** 2
        s2 = variance_of_estimate * n
        return math.sqrt(s2) * math.sqrt(
            2 * (n * rho2 + 1) / (n**2 * rho2) * math.log(math.sqrt(n * rho2 + 1) / self.config.alpha)
        )

    def p_value(self, estimate: float, variance_of_estimate: float, df: float, n: int) -> float:
        rho2 = self._rho() ** 2
        s2 = variance_of_estimate * n
        exponent = -(estimate**2) * n**2 * rho2 / (2 * s2 * (n * rho2 + 1))
        return math.sqrt(n * rho2 + 1) * math.exp(exponent)


class CupedTTest(TTest):
    """CUPED: each arm's metric minus theta x (its pre-period covariate - the pooled pre mean),
    theta pooled over both arms; the relative uplift is the ratio of the adjusted means."""

    def __init__(
        self,
        control: RegressionAdjustedStatistic,
        treatment: RegressionAdjustedStatistic,
        config: AnalysisConfig | None = None,
    ) -> None:
        super().__init__(control.post, treatment.post, config)
        self.adjusted_control = control
        self.adjusted_treatment = treatment

    def moments(self) -> Moments:
        c, t = self.adjusted_control, self.adjusted_treatment
        theta = pooled_theta(c, t)
        pre_mean = (c.pre + t.pre).mean  # centre the adjustment so the means stay on the metric's scale
        return Moments(
            c.n,
            t.n,
            c.adjusted_mean(theta) + theta * pre_mean,
            t.adjusted_mean(theta) + theta * pre_mean,
            c.adjusted_variance(theta),
            t.adjusted_variance(theta),
        )


class SequentialCupedTTest(CupedTTest, SequentialTTest):
    """CUPED moments with the always-valid interval and p-value."""
