"""The propensity of an option under the offer policy's mixture of arms (pure).

Shared by the policy (the chosen option's propensity, :mod:`edge.offers.policy`) and the decision
record (every logged candidate's propensity, for off-policy estimates of a new policy).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

ARMS = ("greedy", "explore", "novelty", "upsell")
Mixture = tuple[float, float, float, float]  # probabilities of the arms, in ARMS order


def propensity_of(
    pid: str, probs: Mixture, top_ids: Sequence[str], novel: str | None, upsell: str | None
) -> float:
    """The probability that the mixture ``probs`` picks ``pid`` (rounded to 6 digits): greedy takes
    ``top_ids[0]``, explore one of ``top_ids`` uniformly, novelty ``novel``, up-sell ``upsell``."""
    propensity = 0.0
    if top_ids:
        if top_ids[0] == pid:
            propensity += probs[0]
        if pid in top_ids:
            propensity += probs[1] / len(top_ids)
    if novel == pid:
        propensity += probs[2]
    if upsell == pid:
        propensity += probs[3]
    return round6(propensity)


@lru_cache(maxsize=4096)
def round6(propensity: float) -> float:
    """``round(p, 6)``, memoised: float rounding to digits goes through a decimal conversion, and a
    variant's propensities take few distinct values."""
    return round(propensity, 6)
