"""The offer policy (pure): the mixture of greedy, exploration and novelty arms, and the offer shown.

Used by :class:`edge.offers.decision.OfferEngine`; the propensity of the chosen option under the
mixture is returned so uplift can be measured from the decision log.
"""

from __future__ import annotations

from edge.events import BasketEvent, Offer
from edge.offers.experiments import Assignment, draw, unit_hash
from edge.offers.records import DecisionContext, Option
from edge.offers.rules import Variant


def choose(
    decision_id: str, variant: Variant, ranked: list[Option], best_novel: Option | None
) -> tuple[Option, str, float]:
    """Mixture of greedy, novelty and exploration; returns (choice, arm, propensity of the choice)."""
    top = ranked[: variant.explore_top]
    novel_best = best_novel
    new_in_ranked = [o for o in ranked if o.novel]
    if new_in_ranked and (novel_best is None or new_in_ranked[0].key(variant) >= novel_best.key(variant)):
        novel_best = new_in_ranked[0]
    arms: list[tuple[str, float]] = []
    if ranked:
        arms.append(("greedy", 1.0 - variant.novelty_share - variant.explore_share))
        arms.append(("explore", variant.explore_share))
    if novel_best is not None:
        arms.append(("novelty", variant.novelty_share))
    total = sum(p for _, p in arms)
    if total <= 0:  # every available arm has share 0: fall back to the first available one
        arms = [(arms[0][0], 1.0)]
        total = 1.0
    probs = {name: p / total for name, p in arms}
    u = draw(decision_id)
    arm = arms[-1][0]
    edge = 0.0
    for name, _ in arms:
        edge += probs[name]
        if u < edge:
            arm = name
            break
    if arm == "greedy":
        chosen = ranked[0]
    elif arm == "explore":
        chosen = top[min(len(top) - 1, int(unit_hash(f"explore:{decision_id}") * len(top)))]
    else:
        assert novel_best is not None
        chosen = novel_best
    pid = chosen.product.product_id
    propensity = 0.0
    if ranked and ranked[0].product.product_id == pid:
        propensity += probs.get("greedy", 0.0)
    if any(o.product.product_id == pid for o in top):
        propensity += probs.get("explore", 0.0) / len(top)
    if novel_best is not None and novel_best.product.product_id == pid:
        propensity += probs.get("novelty", 0.0)
    return chosen, arm, round(propensity, 6)


def make_offer(
    event: BasketEvent,
    shopper: str,
    context: DecisionContext,
    option: Option,
    group: Assignment,
    decision_id: str,
    propensity: float,
    social_proof_min_share: float,
    ttl: float,
) -> Offer:
    """The offer shown for ``option`` (reason, social proof, discounted price)."""
    product, campaign = option.product, option.campaign
    discount = campaign.discount_pct / 100.0 if campaign else 0.0
    if campaign is not None:
        reason = campaign.name
    elif option.novel:
        reason = "New in store"
    elif option.together >= social_proof_min_share:
        reason = "Goes with your basket"
    else:
        reason = "Picked for you"
    proof = None
    if option.together >= social_proof_min_share:
        proof = f"bought together by {round(option.together * 100)} % of shoppers"
    return Offer(
        offer_id="of-" + decision_id[2:],
        t=event.t,
        expires_at=event.t + ttl,
        shopper=shopper,
        shelf=context.shelf,
        display=context.display,
        product_id=product.product_id,
        name=product.name,
        price=round(product.price * (1.0 - discount), 2),
        reason=reason,
        social_proof=proof,
        campaign_id=campaign.campaign_id if campaign else None,
        variant=group.group,
        propensity=propensity,
    )
