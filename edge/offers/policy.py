"""The offer policy (pure): the mixture of greedy, exploration and novelty arms, and the offer shown.

Used by :class:`edge.offers.decision.OfferEngine`; the propensity of the chosen option under the
mixture is returned so uplift can be measured from the decision log.
"""

from __future__ import annotations

from functools import lru_cache

from edge.events import BasketEvent, Offer
from edge.offers.experiments import Assignment, draw, explore_draw
from edge.offers.records import DecisionContext, Option
from edge.offers.rules import Variant


@lru_cache(maxsize=256)
def _mixture(
    novelty_share: float, explore_share: float, has_ranked: bool, has_novel: bool
) -> tuple[dict[str, float], tuple[tuple[str, float], ...]]:
    """The arms available, as (probability per arm, cumulative edges in draw order)."""
    arms: list[tuple[str, float]] = []
    if has_ranked:
        arms.append(("greedy", 1.0 - novelty_share - explore_share))
        arms.append(("explore", explore_share))
    if has_novel:
        arms.append(("novelty", novelty_share))
    total = sum(p for _, p in arms)
    if total <= 0:  # every available arm has share 0: fall back to the first available one
        arms = [(arms[0][0], 1.0)]
        total = 1.0
    probs = {name: p / total for name, p in arms}
    edges = []
    edge = 0.0
    for name, _ in arms:
        edge += probs[name]
        edges.append((name, edge))
    return probs, tuple(edges)


def choose(
    decision_id: str, variant: Variant, ranked: list[Option], best_novel: Option | None
) -> tuple[Option, str, float]:
    """Mixture of greedy, novelty and exploration; returns (choice, arm, propensity of the choice).

    ``ranked``: the best options, best first (at least the top ``explore_top``, plus the best new
    one if none of those is new); ``best_novel``: the best new product that is not a candidate.
    """
    novel_best = best_novel
    for option in ranked:  # the best new option among the ranked ones competes with best_novel
        if option.novel:
            if novel_best is None or option.key(variant) >= novel_best.key(variant):
                novel_best = option
            break
    probs, edges = _mixture(
        variant.novelty_share, variant.explore_share, bool(ranked), novel_best is not None
    )
    u = draw(decision_id)
    arm = edges[-1][0]
    for name, edge in edges:
        if u < edge:
            arm = name
            break
    top_n = min(len(ranked), variant.explore_top)
    if arm == "greedy":
        chosen = ranked[0]
    elif arm == "explore":
        chosen = ranked[min(top_n - 1, int(explore_draw(decision_id) * top_n))]
    else:
        assert novel_best is not None
        chosen = novel_best
    pid = chosen.product.product_id
    propensity = 0.0
    if ranked and ranked[0].product.product_id == pid:
        propensity += probs.get("greedy", 0.0)
    if arm != "novelty" or any(o.product.product_id == pid for o in ranked[:top_n]):
        propensity += probs.get("explore", 0.0) / top_n if top_n else 0.0
    if novel_best is not None and novel_best.product.product_id == pid:
        propensity += probs.get("novelty", 0.0)
    return chosen, arm, _round6(propensity)


@lru_cache(maxsize=4096)
def _round6(propensity: float) -> float:
    """``round(p, 6)``, memoised: float rounding to digits goes through a decimal conversion, and a
    variant's propensities take few distinct values."""
    return round(propensity, 6)


@lru_cache(maxsize=65536)
def _shown_price(price: float, discount: float) -> float:
    """The price shown, to the cent (memoised like :func:`_round6`)."""
    return round(price * (1.0 - discount), 2)


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
        "of-" + decision_id[2:],
        event.t,
        event.t + ttl,
        shopper,
        context.shelf,
        context.display,
        product.product_id,
        product.name,
        _shown_price(product.price, discount),
        reason,
        proof,
        campaign.campaign_id if campaign else None,
        group.group,
        propensity,
    )
