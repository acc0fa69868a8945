"""The offer policy (pure): the mixture of greedy, exploration, novelty and up-sell arms, the
exploration floor, and the offer shown with what it says about why (:class:`Why`).

Used by :class:`edge.offers.decision.OfferEngine`; the propensity of the chosen option under the
mixture, and the mixture itself, are returned so uplift and new policies can be estimated from the
decision log.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from edge.events import BasketEvent, Offer
from edge.offers.catalogue import Product
from edge.offers.experiments import Assignment, draw, explore_draw
from edge.offers.propensity import Mixture, propensity_of
from edge.offers.records import DecisionContext, Option
from edge.offers.rules import Rules, Variant

UPSELL_POS = -2  # choose_position: the up-sell option (built apart from the ranking)


def with_floor(variant: Variant, floor: float) -> Variant:
    """``variant`` with its exploration share raised to ``floor`` (within what novelty and up-sell
    leave), so every option among its top ``explore_top`` keeps a known non-zero propensity."""
    room = max(0.0, 1.0 - variant.novelty_share - variant.upsell_share)
    share = min(room, max(variant.explore_share, floor))
    return variant if share == variant.explore_share else variant.model_copy(update={"explore_share": share})


@lru_cache(maxsize=256)
def arm_mixture(
    novelty_share: float,
    explore_share: float,
    upsell_share: float,
    has_ranked: bool,
    has_novel: bool,
    has_upsell: bool,
) -> tuple[Mixture, tuple[tuple[str, float], ...]]:
    """The arms available, as (probability per arm, cumulative edges in draw order)."""
    arms: list[tuple[str, float]] = []
    if has_ranked:
        arms.append(("greedy", 1.0 - novelty_share - explore_share - upsell_share))
        arms.append(("explore", explore_share))
    if has_novel:
        arms.append(("novelty", novelty_share))
    if has_upsell:
        arms.append(("upsell", upsell_share))
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
    mixture = (
        probs.get("greedy", 0.0),
        probs.get("explore", 0.0),
        probs.get("novelty", 0.0),
        probs.get("upsell", 0.0),
    )
    return mixture, tuple(edges)


def choose_position(
    decision_id: str,
    variant: Variant,
    top_ids: Sequence[str],
    new_pos: int,
    new_id: str | None,
    new_key: float,
    novel_id: str | None,
    novel_key: float,
    upsell_id: str | None = None,
) -> tuple[int, str, float, Mixture, str | None]:
    """The mixture of greedy, exploration, novelty and up-sell over a ranking, by position.

    ``top_ids``: the ids of the ranking's best ``explore_top`` options, best first (empty: nothing
    passed the filters); ``new_pos``, ``new_id``, ``new_key``: position in the ranking, id and
    ranking key of its best new product (-1 and None if it holds none); ``novel_id``, ``novel_key``:
    the best new product that is no candidate (None if none); ``upsell_id``: the up-sell of the
    product just picked (None if none). Returns the position of the choice in the ranking (-1: that
    new non-candidate, ``UPSELL_POS``: the up-sell), the arm, the choice's propensity, the arms'
    probabilities and the novelty arm's product (None if it had none).
    """
    novel_pos, novel_best = -1, novel_id  # the best new option: the ranking's, or the other one
    if new_id is not None and (novel_id is None or new_key >= novel_key):
        novel_pos, novel_best = new_pos, new_id
    probs, edges = arm_mixture(
        variant.novelty_share,
        variant.explore_share,
        variant.upsell_share,
        bool(top_ids),
        novel_best is not None,
        upsell_id is not None,
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
    elif arm == "novelty":
        assert novel_best is not None
        pos, pid = novel_pos, novel_best
    else:
        assert upsell_id is not None
        pos, pid = UPSELL_POS, upsell_id
    return pos, arm, propensity_of(pid, probs, top_ids, novel_best, upsell_id), probs, novel_best


def choose(
    decision_id: str,
    variant: Variant,
    ranked: list[Option],
    best_novel: Option | None,
    upsell: Option | None = None,
) -> tuple[Option, str, float, Mixture, int, str | None, str | None]:
    """:func:`choose_position` over options: ``ranked`` holds at least the top ``explore_top``
    options, best first, plus the best new one if none of those is new; ``best_novel`` is the best
    new product that is not a candidate, ``upsell`` the up-sell of the product just picked.
    Returns the choice, its arm and propensity, the arms' probabilities, the number of options the
    explore arm drew from, the novelty arm's and the up-sell arm's products (see ``Choice``)."""
    new_pos = next((i for i, o in enumerate(ranked) if o.novel), -1)
    new = ranked[new_pos] if new_pos >= 0 else None
    top_ids = [o.product.product_id for o in ranked[: variant.explore_top]]
    upsell_id = upsell.product.product_id if upsell else None
    pos, arm, propensity, mixture, novel_best = choose_position(
        decision_id,
        variant,
        top_ids,
        new_pos,
        new.product.product_id if new else None,
        new.key(variant) if new else 0.0,
        best_novel.product.product_id if best_novel else None,
        best_novel.key(variant) if best_novel else 0.0,
        upsell_id,
    )
    chosen = upsell if pos == UPSELL_POS else ranked[pos] if pos >= 0 else best_novel
    assert chosen is not None
    return chosen, arm, propensity, mixture, len(top_ids), novel_best, upsell_id


@lru_cache(maxsize=65536)
def _shown_price(price: float, discount: float) -> float:
    """The price shown, to the cent (memoised like :func:`edge.offers.propensity.round6`)."""
    return round(price * (1.0 - discount), 2)


def make_offer(
    event: BasketEvent,
    shopper: str,
    context: DecisionContext,
    option: Option,
    group: Assignment,
    decision_id: str,
    propensity: float,
    why: Why,
    ttl: float,
    arm: str,
    picked: Product | None,
) -> Offer:
    """The offer shown (or held back) for ``option``: its reason, social proof, discounted price."""
    product, campaign = option.product, option.campaign
    discount = campaign.discount_pct / 100.0 if campaign else 0.0
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
        *why.explain(option, arm, picked),
        campaign.campaign_id if campaign else None,
        group.group,
        propensity,
        why.opt_out,
        group.shadow.name if group.shadow is not None else None,
    )


class Why:
    """What an offer tells the shopper about why it is made: always true, never sensitive.

    * reason: the campaign's name; for an up-sell "Premium alternative to <picked>" (same category,
      higher price: what :func:`edge.offers.indexed.upsell_fits` checked); "New in store" for a new
      product; "Often bought with items in your basket" when the social-proof share is high enough;
      else "Picked for you". A product of a sensitive category is never named.
    * social proof: "In N % of past baskets with an item you picked" (``together`` is the largest
      share of past baskets holding one of the basket's products that also held this one), only at
      or above ``social_proof_min_share``, only when the model counted at least
      ``social_proof_min_baskets`` baskets behind each share (its ``min_support``), and never for a
      product of a sensitive category.
    * opt_out: how to switch personal offers off in the app (``rules.opt_out_hint``).
    """

    __slots__ = ("min_share", "opt_out", "proof_allowed", "sensitive")

    def __init__(self, rules: Rules, sensitive: frozenset[str], proof_support: int | None) -> None:
        self.min_share = rules.social_proof_min_share
        self.sensitive = sensitive
        self.opt_out = rules.opt_out_hint
        self.proof_allowed = proof_support is None or proof_support >= rules.social_proof_min_baskets

    def explain(self, option: Option, arm: str, picked: Product | None) -> tuple[str, str | None]:
        """(reason, social proof or None) for ``option``, chosen by ``arm`` after ``picked``."""
        together = option.together
        proof = None
        if (
            together > 0
            and together >= self.min_share
            and self.proof_allowed
            and option.product.category not in self.sensitive
        ):
            proof = f"In {round(together * 100)} % of past baskets with an item you picked"
        if option.campaign is not None:
            return option.campaign.name, proof
        if arm == "upsell" and picked is not None and picked.category not in self.sensitive:
            return f"Premium alternative to {picked.name}", proof
        if option.novel:
            return "New in store", proof
        return ("Often bought with items in your basket" if proof else "Picked for you"), proof
