"""Off-policy estimators of a target policy's value from a logged bandit feedback (pure).

After zr-obp's ``ope/estimators.py``: an estimator is a frozen dataclass holding its settings;
``estimate(log)`` takes the data and returns a :class:`PolicyValue` (value and interval). IPS
averages ``w * r`` with ``w = target_probability / logging_propensity``; SNIPS divides by the mean
weight instead of 1 (Swaminathan and Joachims 2015), interval by the delta method; DR adds the
reward model (Dudik, Langford and Li 2011): ``q_target + w * (r - q_logged)``; DM is the reward
model alone. Intervals are normal (CLT / delta method) at ``alpha``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import stats

FloatArray = NDArray[np.float64]


class PolicyLogError(ValueError):
    """A log the estimators refuse; ``str()`` is one line naming the problem."""


@dataclass(frozen=True, slots=True)
class BanditLog:
    """One row per logged decision: reward, the logging policy's probability of the logged action,
    the target policy's probability of that same action, and optionally a reward model's estimate
    at the logged action (``q_logged``) and its expectation under the target policy (``q_target``)."""

    reward: FloatArray
    logging_propensity: FloatArray
    target_probability: FloatArray
    q_logged: FloatArray | None = None
    q_target: FloatArray | None = None

    def __post_init__(self) -> None:
        n = len(self.reward)
        columns = {
            "reward": self.reward,
            "logging_propensity": self.logging_propensity,
            "target_probability": self.target_probability,
        }
        if (self.q_logged is None) != (self.q_target is None):
            raise PolicyLogError("reward_model_logged and reward_model_target must come together")
        if self.q_logged is not None and self.q_target is not None:
            columns["reward_model_logged"] = self.q_logged
            columns["reward_model_target"] = self.q_target
        if n == 0:
            raise PolicyLogError("the log has no rows")
        for name, col in columns.items():
            if len(col) != n:
                raise PolicyLogError(f"column {name} has {len(col)} rows, reward has {n}")
            bad = np.flatnonzero(~np.isfinite(col))
            if bad.size:
                raise PolicyLogError(f"{name} is not a finite number in row {int(bad[0]) + 1}")
        bad = np.flatnonzero((self.logging_propensity <= 0) | (self.logging_propensity > 1))
        if bad.size:
            row = int(bad[0])
            raise PolicyLogError(
                f"logging_propensity must be in (0, 1], row {row + 1} has {float(self.logging_propensity[row])}"
            )
        bad = np.flatnonzero((self.target_probability < 0) | (self.target_probability > 1))
        if bad.size:
            row = int(bad[0])
            raise PolicyLogError(
                f"target_probability must be in [0, 1], row {row + 1} has {float(self.target_probability[row])}"
            )

    @property
    def n(self) -> int:
        return len(self.reward)

    @property
    def weights(self) -> FloatArray:
        return self.target_probability / self.logging_propensity

    @property
    def has_reward_model(self) -> bool:
        return self.q_logged is not None


@dataclass(frozen=True, slots=True)
class PolicyValue:
    estimator: str
    value: float
    ci_low: float
    ci_high: float
    std_error: float

    def to_dict(self) -> dict[str, float]:
        return {
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "std_error": self.std_error,
        }


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def _mean_interval(name: str, rounds: FloatArray, alpha: float) -> PolicyValue:
    n = len(rounds)
    value = float(rounds.mean())
    se = float(rounds.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf
    hw = _z(alpha) * se
    return PolicyValue(name, value, value - hw, value + hw, se)


@dataclass(frozen=True, slots=True)
class InverseProbabilityWeighting:
    """IPS: mean of w * r; unbiased when the logging propensities are right and cover the target.
    ``max_weight`` clips the weights (None: no clipping; clipping trades bias for variance)."""

    alpha: float = 0.05
    max_weight: float | None = None
    name: str = "ips"

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        if self.max_weight is not None and self.max_weight <= 0:
            raise ValueError("max_weight must be > 0")

    def weights(self, log: BanditLog) -> FloatArray:
        w = log.weights
        return np.minimum(w, self.max_weight) if self.max_weight is not None else w

    def round_rewards(self, log: BanditLog) -> FloatArray:
        return self.weights(log) * log.reward

    def estimate(self, log: BanditLog) -> PolicyValue:
        return _mean_interval(self.name, self.round_rewards(log), self.alpha)


@dataclass(frozen=True, slots=True)
class SelfNormalizedInverseProbabilityWeighting(InverseProbabilityWeighting):
    """SNIPS: sum(w r) / sum(w). Interval by the delta method:
    Var ~ mean((w (r - V))^2) / (n mean(w)^2)."""

    name: str = "snips"

    def estimate(self, log: BanditLog) -> PolicyValue:
        w = self.weights(log)
        total = float(w.sum())
        if total <= 0:  # the target never takes a logged action: no information
            return PolicyValue(self.name, math.nan, math.nan, math.nan, math.inf)
        value = float((w * log.reward).sum() / total)
        n = log.n
        mean_w = total / n
        se = float(math.sqrt(np.mean((w * (log.reward - value)) ** 2) / n) / mean_w)
        hw = _z(self.alpha) * se
        return PolicyValue(self.name, value, value - hw, value + hw, se)


@dataclass(frozen=True, slots=True)
class DoublyRobust(InverseProbabilityWeighting):
    """DR: q_target + w (r - q_logged); unbiased if either the propensities or the reward model are
    right. Needs the reward-model columns."""

    name: str = "dr"

    def round_rewards(self, log: BanditLog) -> FloatArray:
        if log.q_logged is None or log.q_target is None:
            raise PolicyLogError("DR needs reward_model_logged and reward_model_target")
        return log.q_target + self.weights(log) * (log.reward - log.q_logged)


@dataclass(frozen=True, slots=True)
class DirectMethod:
    """DM: the reward model's expectation under the target (its interval ignores the model's error)."""

    alpha: float = 0.05
    name: str = "dm"

    def estimate(self, log: BanditLog) -> PolicyValue:
        if log.q_target is None:
            raise PolicyLogError("DM needs reward_model_target")
        return _mean_interval(self.name, log.q_target, self.alpha)


@dataclass(frozen=True, slots=True)
class Diagnostics:
    """Weight diagnostics: the mean weight should be near 1 (its interval should hold 1) when the
    target stays within the log's support; a small effective sample size means few rows carry the
    estimate."""

    n: int
    mean_weight: float
    mean_weight_ci: tuple[float, float]
    max_weight: float
    effective_sample_size: float
    zero_weight_share: float
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "mean_weight": self.mean_weight,
            "mean_weight_ci": list(self.mean_weight_ci),
            "max_weight": self.max_weight,
            "effective_sample_size": self.effective_sample_size,
            "zero_weight_share": self.zero_weight_share,
            "warnings": self.warnings,
        }


MIN_ESS_SHARE = 0.01  # below 1 % of the rows as effective sample, every estimate is fragile


def diagnose(log: BanditLog, alpha: float = 0.05) -> Diagnostics:
    w = log.weights
    n = log.n
    mean_w = float(w.mean())
    se = float(w.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf
    hw = _z(alpha) * se
    sq = float((w**2).sum())
    ess = float(w.sum() ** 2 / sq) if sq > 0 else 0.0
    warnings = []
    if not mean_w - hw <= 1.0 <= mean_w + hw:
        warnings.append(
            f"mean weight {mean_w:.3f} (95 % interval {mean_w - hw:.3f}..{mean_w + hw:.3f}) excludes 1: "
            "the target policy leaves the log's support or the propensities are wrong"
        )
    if ess < MIN_ESS_SHARE * n:
        warnings.append(f"effective sample size {ess:.0f} of {n} rows: estimates rest on few rows")
    return Diagnostics(
        n, mean_w, (mean_w - hw, mean_w + hw), float(w.max()), ess, float(np.mean(w == 0)), warnings
    )


def estimate_all(log: BanditLog, alpha: float = 0.05) -> dict[str, PolicyValue]:
    """Every estimator that applies to ``log``: ips, snips, and with a reward model dm and dr."""
    out = {
        "ips": InverseProbabilityWeighting(alpha).estimate(log),
        "snips": SelfNormalizedInverseProbabilityWeighting(alpha).estimate(log),
    }
    if log.has_reward_model:
        out["dr"] = DoublyRobust(alpha).estimate(log)
        out["dm"] = DirectMethod(alpha).estimate(log)
    return out


def recommend(estimates: dict[str, PolicyValue]) -> str:
    """The estimator to read: of SNIPS and (when there is a reward model) DR, the one with the
    smaller standard error. Both are consistent with known propensities; SNIPS stays within the
    rewards' range and is steadier than IPS when weights vary, DR gains when the reward model
    explains part of the reward. IPS and DM are reported but not recommended (IPS: higher
    variance; DM: its bias is unknown)."""
    choices = [name for name in ("snips", "dr") if name in estimates and math.isfinite(estimates[name].value)]
    if not choices:
        return "ips"
    return min(choices, key=lambda name: estimates[name].std_error)
