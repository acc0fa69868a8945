"""What the offer engine remembers between decisions: caps per shopper and product, campaign budgets.

Pure and in memory; rebuilt after a restart by replaying the decision log
(:meth:`edge.offers.decision.OfferEngine.restore`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from edge.offers.records import DecisionRecord
from edge.offers.rules import Campaign, Rules


@dataclass(slots=True)
class OfferState:
    by_shopper: dict[str, deque[tuple[float, str, str | None]]] = field(default_factory=dict)
    last_offer: dict[str, dict[str, float]] = field(default_factory=dict)
    by_product: dict[str, deque[float]] = field(default_factory=dict)
    campaign_spent: dict[str, int] = field(default_factory=dict)
    campaign_shopper: dict[tuple[str, str], int] = field(default_factory=dict)
    campaign_money: dict[str, float] = field(default_factory=dict)  # discounts granted per campaign
    campaign_redeemed: dict[str, float] = field(default_factory=dict)  # discounts redeemed per campaign
    # offer id -> (campaign id, unit discount, time offered): granted, not yet redeemed
    pending: dict[str, tuple[str, float, float]] = field(default_factory=dict)
    redeem_window_s: float = 300.0  # a conversion this long after its offer redeems its discount
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
        cid = rec.campaign_id
        if cid:
            self.campaign_spent[cid] = self.campaign_spent.get(cid, 0) + 1
            self.campaign_version += 1
            key = (cid, rec.shopper)
            self.campaign_shopper[key] = self.campaign_shopper.get(key, 0) + 1
            if rec.discount:
                self.campaign_money[cid] = self.campaign_money.get(cid, 0.0) + rec.discount
                self.pending["of-" + rec.decision_id[2:]] = (cid, rec.discount, t)

    def redeem(self, offer_id: str, t: float) -> float:
        """A conversion of ``offer_id`` at ``t``: its campaign's discount counts as redeemed (once,
        within the redeem window). Returns the amount redeemed (0.0: no campaign discount pending)."""
        pending = self.pending.pop(offer_id, None)
        if pending is None or t - pending[2] > self.redeem_window_s:
            return 0.0
        cid, amount, _ = pending
        self.campaign_redeemed[cid] = self.campaign_redeemed.get(cid, 0.0) + amount
        self.campaign_version += 1
        return amount

    def campaign_exhausted(self, campaign: Campaign, shopper: str) -> bool:
        """The campaign's budgets (offers, money granted, money redeemed) or ``shopper``'s cap are spent."""
        cid = campaign.campaign_id
        return (
            (campaign.budget_offers is not None and self.campaign_spent.get(cid, 0) >= campaign.budget_offers)
            or (
                campaign.max_per_shopper is not None
                and self.campaign_shopper.get((cid, shopper), 0) >= campaign.max_per_shopper
            )
            or (
                campaign.budget_money is not None
                and self.campaign_money.get(cid, 0.0) >= campaign.budget_money
            )
            or (
                campaign.budget_redeemed is not None
                and self.campaign_redeemed.get(cid, 0.0) >= campaign.budget_redeemed
            )
        )

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
        window = self.redeem_window_s
        for offer_id in [k for k, (_, _, when) in self.pending.items() if t - when > window]:
            del self.pending[offer_id]

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
