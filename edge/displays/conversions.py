"""Conversions and uplift (pure core: no I/O, no clock; time comes with the events).

An *exposure* is an offer decision for a shopper: shown on a display, or held out (the shopper is in
the holdout group, so the decision was recorded but nothing was shown). A *conversion* is a pick of
the exposed product by the same shopper within ``window_s`` after the exposure. Counting conversions
for held-out exposures the same way gives the baseline that uplift is measured against.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from edge.events import BasketEvent, Offer
from edge.offers.experiments import HELD_OUT_GROUPS, HOLDOUT

__all__ = ["HOLDOUT", "Conversion", "ConversionTracker", "Exposure", "UpliftRow", "uplift"]


@dataclass(frozen=True, slots=True)
class Exposure:
    """An offer decision, shown or held out."""

    offer_id: str
    t: float
    shopper: str
    product_id: str
    campaign_id: str | None
    variant: str

    @property
    def holdout(self) -> bool:
        return self.variant in HELD_OUT_GROUPS

    @classmethod
    def from_offer(cls, offer: Offer) -> Exposure:
        return cls(
            offer_id=offer.offer_id,
            t=offer.t,
            shopper=offer.shopper,
            product_id=offer.product_id,
            campaign_id=offer.campaign_id,
            variant=offer.variant,
        )


@dataclass(frozen=True, slots=True)
class Conversion:
    """A pick of an exposed product by the exposed shopper within the window."""

    offer_id: str
    event_id: str
    t: float
    shopper: str
    product_id: str
    campaign_id: str | None
    variant: str
    delay_s: float

    def to_dict(self) -> dict[str, object]:
        return {
            "offer_id": self.offer_id,
            "event_id": self.event_id,
            "t": self.t,
            "shopper": self.shopper,
            "product_id": self.product_id,
            "campaign_id": self.campaign_id,
            "variant": self.variant,
            "delay_s": self.delay_s,
        }


@dataclass(slots=True)
class ConversionTracker:
    """Matches picks to open exposures; each exposure converts at most once."""

    window_s: float
    _open: dict[str, list[Exposure]] = field(default_factory=dict)

    def expose(self, exposure: Exposure) -> None:
        self._open.setdefault(exposure.shopper, []).append(exposure)

    def pick(self, event: BasketEvent) -> list[Conversion]:
        """Feed a basket event; returns the conversions it completes (none for returns or anonymous picks)."""
        self.expire(event.t)
        if event.kind != "pick" or event.shopper is None or event.product_id is None:
            return []
        open_ = self._open.get(event.shopper, [])
        hits = [e for e in open_ if e.product_id == event.product_id and e.t <= event.t]
        if not hits:
            return []
        remaining = [e for e in open_ if e not in hits]
        if remaining:
            self._open[event.shopper] = remaining
        else:
            del self._open[event.shopper]
        return [
            Conversion(
                offer_id=e.offer_id,
                event_id=event.event_id,
                t=event.t,
                shopper=e.shopper,
                product_id=e.product_id,
                campaign_id=e.campaign_id,
                variant=e.variant,
                delay_s=event.t - e.t,
            )
            for e in hits
        ]

    def expire(self, t: float) -> int:
        """Forget exposures older than the window at time ``t``; returns how many were dropped."""
        dropped = 0
        for shopper in list(self._open):
            keep = [e for e in self._open[shopper] if t - e.t <= self.window_s]
            dropped += len(self._open[shopper]) - len(keep)
            if keep:
                self._open[shopper] = keep
            else:
                del self._open[shopper]
        return dropped

    @property
    def open_count(self) -> int:
        return sum(len(v) for v in self._open.values())


@dataclass(frozen=True, slots=True)
class UpliftRow:
    """Conversion rate of one campaign arm compared with that campaign's holdout."""

    campaign_id: str | None
    variant: str
    exposures: int
    conversions: int
    rate: float
    holdout_rate: float | None
    uplift: float | None  # rate - holdout_rate (absolute), None without a holdout


def uplift(exposures: Iterable[Exposure], conversions: Iterable[Conversion]) -> list[UpliftRow]:
    """Per campaign and variant: exposures, conversions, rate, and absolute uplift over the holdout."""
    counts: dict[tuple[str | None, str], list[int]] = {}
    for e in exposures:
        counts.setdefault((e.campaign_id, e.variant), [0, 0])[0] += 1
    converted: set[str] = set()
    by_offer: dict[str, tuple[str | None, str]] = {}
    for c in conversions:
        if c.offer_id in converted:
            continue
        converted.add(c.offer_id)
        by_offer[c.offer_id] = (c.campaign_id, c.variant)
    for key in by_offer.values():
        counts.setdefault(key, [0, 0])[1] += 1
    holdout: dict[str | None, float] = {}
    for (campaign, variant), (n, k) in counts.items():
        if variant == HOLDOUT and n:
            holdout[campaign] = k / n
    rows = []
    for (campaign, variant), (n, k) in sorted(counts.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        rate = k / n if n else 0.0
        base = holdout.get(campaign)
        rows.append(
            UpliftRow(
                campaign_id=campaign,
                variant=variant,
                exposures=n,
                conversions=k,
                rate=rate,
                holdout_rate=base,
                uplift=None if base is None or variant == HOLDOUT else rate - base,
            )
        )
    return rows
