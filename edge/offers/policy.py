"""The offer policy (pure): the mixture of greedy, exploration and novelty arms, and the offer shown.

Used by :class:`edge.offers.decision.OfferEngine`; the propensity of the chosen option under the
mixture is returned so uplift can be measured from the decision log.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def choose_position(
    decision_id: str,
    variant: Variant,
    top_ids: Sequence[str],
    new_pos: int,
    new_id: str | None,
    new_key: float,
    novel_id: str | None,
    novel_key: float,
) -> tuple[int, str, float]:
    """The mixture of greedy, novelty and exploration over a ranking, by position.

    ``top_ids``: the ids of the ranking's best ``explore_top`` options, best first (empty: nothing
    passed the filters); ``new_pos``, ``new_id``, ``new_key``: position in the ranking, id and
    ranking key of its best new product (-1 and None if it holds none); ``novel_id``, ``novel_key``:
    the best new product that is no candidate (None if none). Returns the position of the choice
    in the ranking (-1: that new non-candidate), the arm and the choice's propensity.
    """
    novel_pos, novel_best = -1, novel_id  # the best new option: the ranking's, or the other one
    if new_id is not None and (novel_id is None or new_key >= novel_key):
        novel_pos, novel_best = new_pos, new_id
    probs, edges = _mixture(
        variant.novelty_share, variant.explore_share, bool(top_ids), novel_best is not None
    )
    u = draw(decision_id)
    arm = edges[-1][0]
    for name, edge in edges:
        if u < edge:
            arm = name
            break
    top_n = len(top_ids)
    if arm == "greedy":
        pos, pid = 0, top_ids[0]
    elif arm == "explore":
        pos = min(top_n - 1, int(explore_draw(decision_id) * top_n))
        pid = top_ids[pos]
    else:
        assert novel_best is not None
        pos, pid = novel_pos, novel_best
    propensity = 0.0
    if top_ids and top_ids[0] == pid:
        propensity += probs.get("greedy", 0.0)
    if top_n and (arm != "novelty" or pid in top_ids):
        propensity += probs.get("explore", 0.0) / top_n
    if novel_best == pid:
        propensity += probs.get("novelty", 0.0)
    return pos, arm, _round6(propensity)


def choose(
    decision_id: str, variant: Variant, ranked: list[Option], best_novel: Option | None
) -> tuple[Option, str, float]:
    """:func:`choose_position` over options: ``ranked`` holds at least the top ``explore_top``
    options, best first, plus the best new one if none of those is new; ``best_novel`` is the best
    new product that is not a candidate. Returns (choice, arm, propensity of the choice)."""
    new_pos = next((i for i, o in enumerate(ranked) if o.novel), -1)
    new = ranked[new_pos] if new_pos >= 0 else None
    pos, arm, propensity = choose_position(
        decision_id,
        variant,
        [o.product.product_id for o in ranked[: variant.explore_top]],
        new_pos,
        new.product.product_id if new else None,
        new.key(variant) if new else 0.0,
        best_novel.product.product_id if best_novel else None,
        best_novel.key(variant) if best_novel else 0.0,
    )
    chosen = ranked[pos] if pos >= 0 else best_novel
    assert chosen is not None
    return chosen, arm, propensity


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
