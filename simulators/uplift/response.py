"""The shoppers' response to offers: a known true effect (pure).

A shown offer of product p (model score s, discount d) is taken in the visit with probability
``take_treated``; a held-out shopper takes the same product anyway with ``take_control``. A shown
offer also brings an impulse item (never an offerable product) with ``impulse_p``. The launch effect
fades with novelty: ``floor + (1 - floor) exp(-weeks / novelty_weeks)`` of it is left ``weeks``
after the experiment started. With :data:`NO_EFFECT` a shown offer changes nothing (campaign
discounts must then be 0 too: a discount changes what a taker pays).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ResponseModel:
    base_take: float = 0.5  # P(takes the offered product anyway) = base_take x model score
    accept_uplift: float = 0.10  # extra P(take) when shown, at launch
    campaign_boost: float = 1.5  # multiplier of accept_uplift for campaign offers
    impulse: float = 0.06  # P(an extra impulse item) per shown offer, at launch
    novelty_floor: float = 0.4  # share of the launch effect left after the novelty wore off
    novelty_weeks: float = 3.0  # e-folding time of the novelty, weeks since the experiment started

    def novelty(self, weeks: float) -> float:
        return self.novelty_floor + (1 - self.novelty_floor) * math.exp(-max(0.0, weeks) / self.novelty_weeks)

    def take_control(self, score: float) -> float:
        return min(0.9, self.base_take * score)

    def take_treated(self, score: float, campaign: bool, weeks: float) -> float:
        lift = self.accept_uplift * (self.campaign_boost if campaign else 1.0) * self.novelty(weeks)
        return min(0.95, self.take_control(score) + lift)

    def impulse_p(self, weeks: float) -> float:
        return self.impulse * self.novelty(weeks)


NO_EFFECT = ResponseModel(accept_uplift=0.0, impulse=0.0)
