"""What the offer engine remembers between decisions: caps per shopper and product, campaign budgets.

Pure and in memory; rebuilt after a restart by replaying the decision log
(:meth:`edge.offers.decision.OfferEngine.restore`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from edge.offers.records import DecisionRecord
from edge.offers.rules import Rules


@dataclass(slots=True)
class OfferState:
    by_shopper: dict[str, deque[tuple[float, str, str | None]]] = field(default_factory=dict)
    last_offer: dict[str, dict[str, float]] = field(default_factory=dict)
    by_product: dict[str, deque[float]] = field(default_factory=dict)
    campaign_spent: dict[str, int] = field(default_factory=dict)
    campaign_shopper: dict[tuple[str, str], int] = field(default_factory=dict)
    campaign_version: int = 0  # counts budget spending, so what depends on it can be cached
    swept: float = float("-inf")

    def remember(self, rec: DecisionRecord) -> None:
        """Count a shown (or held-out) decision against the caps; offered ones also spend budget."""
        shopper, chosen, t = rec.shopper, rec.chosen, rec.t
        assert chosen is not None
        past = self.by_shopper.get(shopper)
        if past is None:
            past = self.by_shopper[shopper] = deque()
        past.append((t, chosen, rec.campaign_id))
        last = self.last_offer.get(shopper)
        if last is None:
            last = self.last_offer[shopper] = {}
        last[chosen] = t
        if rec.outcome != "offered":
            return
        times = self.by_product.get(chosen)
        if times is None:
            times = self.by_product[chosen] = deque()
        times.append(t)
        if rec.campaign_id:
            self.campaign_spent[rec.campaign_id] = self.campaign_spent.get(rec.campaign_id, 0) + 1
            self.campaign_version += 1
            key = (rec.campaign_id, rec.shopper)
            self.campaign_shopper[key] = self.campaign_shopper.get(key, 0) + 1

    def prune(self, t: float, shopper: str, horizon: float, product_window: float) -> None:
        """Forget what no window can see any more: this shopper now, everyone else now and then."""
        mine = self.by_shopper.get(shopper)
        while mine and t - mine[0][0] >= horizon:
            mine.popleft()
        if t - self.swept < horizon / 10:
            return
        self.swept = t
        table = self.by_shopper
        for key in [k for k, q in table.items() if not q or t - q[-1][0] >= horizon]:
            del table[key]
            self.last_offer.pop(key, None)
        for times in self.by_product.values():
            while times and t - times[0] >= product_window:
                times.popleft()

    def shopper_capped(self, shopper: str, t: float, r: Rules) -> str | None:
        past = self.by_shopper.get(shopper)
        if not past:
            return None
        if t - past[-1][0] < r.min_gap_s:
            return "capped-gap"
        cap = r.max_offers_per_shopper
        if len(past) >= cap and sum(1 for when, _, _ in past if t - when < r.shopper_window_s) >= cap:
            return "capped-shopper"
        return None

    def recently_offered(self, shopper: str, product_id: str, t: float, gap: float) -> bool:
        when = self.last_offer.get(shopper, {}).get(product_id)
        return when is not None and t - when < gap

    def product_capped(self, product_id: str, t: float, r: Rules) -> bool:
        if r.max_per_product_window is None:
            return False
        times = self.by_product.get(product_id, ())
        return sum(1 for when in times if t - when < r.product_window_s) >= r.max_per_product_window
