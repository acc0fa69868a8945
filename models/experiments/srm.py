"""Sample-ratio mismatch (pure): are the arms' shopper counts what the configured shares predict?

A chi-square goodness-of-fit test (gbstats ``utils.check_srm``); a p-value under ``threshold``
(0.001, as gbstats and most platforms use) means assignment or logging is broken and the
uplift of that experiment must not be trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from scipy import stats

SRM_THRESHOLD = 0.001
NO_SHARES = "no-configured-shares"
TOO_FEW = "too-few-shoppers"


@dataclass(frozen=True, slots=True)
class SrmResult:
    observed: dict[str, int]
    expected_share: dict[str, float]
    p_value: float | None
    mismatch: bool
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "observed": self.observed,
            "expected_share": self.expected_share,
            "p_value": self.p_value,
            "mismatch": self.mismatch,
            "error": self.error,
        }


def check_srm(
    observed: Mapping[str, int], shares: Mapping[str, float], threshold: float = SRM_THRESHOLD
) -> SrmResult:
    """``observed``: shoppers per arm; ``shares``: configured share per arm (renormalised over the
    arms named in both, so a report on a subset of arms is tested on that subset)."""
    arms = [a for a in shares if shares[a] > 0]
    counts = {a: int(observed.get(a, 0)) for a in arms}
    if len(arms) < 2:
        return SrmResult(dict(observed), dict(shares), None, False, NO_SHARES)
    total = sum(counts.values())
    if total < 2 * len(arms):
        return SrmResult(counts, dict(shares), None, False, TOO_FEW)
    weight = sum(shares[a] for a in arms)
    expected = [total * shares[a] / weight for a in arms]
    result = stats.chisquare([counts[a] for a in arms], expected)
    p = float(result.pvalue)
    return SrmResult(counts, {a: shares[a] / weight for a in arms}, p, p < threshold)
