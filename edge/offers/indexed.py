"""The offer decision's fast path for the model's own candidate lists (pure: no I/O, no clock).

``OfferModel.candidates`` returns a :class:`~edge.offers.candidates.CandidateList` of item indices
into the model's item table. For such a list the engine needs no per-candidate dictionary lookups
by product id or campaign search: what each offerable product is worth at a shelf (money margin x
weight, after the best campaign this shopper can still get) is kept per item index, per shelf and
per set of campaigns still open to the shopper, until the catalogue, its stock or the rules change.

It decides exactly as the general path in :mod:`edge.offers.decision` (``tests/unit/
test_offer_fastpath.py`` compares the two on random stores, rules, states and candidates) and
declines (returns None) whenever a rule needs the general path: a per-product cap, no organic
offers, a candidate below ``min_acceptance`` or one this shelf cannot offer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from operator import and_, itemgetter, mul

from edge.events import ShelfId
from edge.offers.candidates import CandidateList
from edge.offers.catalogue import Product
from edge.offers.filters import ShelfFacts
from edge.offers.policy import UPSELL_POS, choose_position
from edge.offers.propensity import Mixture
from edge.offers.records import Option
from edge.offers.rules import Campaign, Variant
from edge.offers.state import OfferState

_option = tuple.__new__  # Option(...) without the named tuple's argument handling
RECORD_CANDIDATES = 20  # candidates (ids and ranking keys) kept in each decision record
TERMS_CACHE = 1024

Term = tuple[Product, float, float, Campaign | None]  # product, money value, weight, campaign
# id, start, end, budget in offers, per-shopper cap, budget in money granted, in money redeemed
Limits = tuple[str, float | None, float | None, int | None, int | None, float | None, float | None]
# the option chosen, the policy's arm, its propensity, the arms' probabilities, how many options the
# explore arm drew from, the novelty arm's product and the up-sell arm's (None: that arm had none)
Choice = tuple[Option, str, float, Mixture, int, str | None, str | None]
# (the choice or None when nothing passed, record candidate ids, their ranking keys, their model
# scores, filtered counts)
Ranked = tuple[
    Choice | None, tuple[str, ...], tuple[float, ...], tuple[float, ...], tuple[tuple[str, int], ...]
]


@dataclass(frozen=True, slots=True)
class Terms:
    """What every offerable product of one shelf is worth to one set of open campaigns."""

    value_weight: dict[int, float]  # item index -> money value x weight (the expected-value factor)
    terms: dict[int, Term]  # item index -> the terms of its Option
    new: frozenset[int]  # item indices of new products
    novel_ev: tuple[tuple[int, Term], ...]  # (index or -1, terms) of the new products offerable
    # here, best first by expected value (then id)
    novel_relevance: tuple[tuple[int, Term], ...]  # the same, by relevance (all alike: by id)
    by_category: dict[str, tuple[Term, ...]]  # every offerable product per category, best first by
    # money value x weight (then id): where the up-sell is looked for
    upsells: dict[str, tuple[Term, ...]]  # product picked -> its possible up-sells, best first
    # (filled as products are picked; the other filters are checked per decision)


class IndexedPath(ShelfFacts):
    """The fast path of :class:`edge.offers.decision.OfferEngine` (its base class)."""

    _names: tuple[str, ...]
    _name_index: dict[str, int]
    _terms: dict[tuple[ShelfId, tuple[bool, ...]], tuple[int, tuple[str, ...], Terms]]
    _terms_hot: tuple[ShelfId, tuple[bool, ...], int, tuple[str, ...], Terms] | None

    def _reset_indexed_caches(self) -> None:
        """Forget everything derived from the rules, the catalogue or a model's item table."""
        campaigns = self._rules.campaigns
        self._campaign_limits: tuple[Limits, ...] = tuple(
            (
                c.campaign_id, c.start, c.end, c.budget_offers, c.max_per_shopper, c.budget_money,
                c.budget_redeemed,
            )
            for c in campaigns
        )  # fmt: skip
        self._budgets_only = all(lim[1:3] == (None, None) and lim[4] is None for lim in self._campaign_limits)
        self._open_hot: tuple[OfferState, int, tuple[bool, ...]] | None = None
        # campaigns that name segments: per set of shopper segments, which campaigns reach it
        self._targeting = any(c.targeted for c in campaigns)
        self._reach: dict[frozenset[str], tuple[bool, ...]] = {}
        r = self._rules.rules
        self._fast_rules = r.max_per_product_window is None and r.organic_offers  # fast path applies
        self._names = ()
        self._name_index = {}
        self._terms = {}
        self._terms_hot = None

    def _indexed(
        self,
        decision_id: str,
        shopper: str,
        t: float,
        shelf: ShelfId,
        basket: Sequence[str],
        extra: set[str],
        candidates: CandidateList,
        variant: Variant,
        picked: str | None,
        segments: frozenset[str] = frozenset(),
    ) -> Ranked | None:
        """Filters, ranking and the policy's choice (see ``Ranked``), or None when the general
        path must decide. ``segments``: the shopper's customer segments (empty: unknown)."""
        items, scores, together = candidates.items, candidates.scores, candidates.together
        if items is None or not self._fast_rules:
            return None
        r = self._rules.rules
        if len(items) > r.candidates:
            items, scores, together = items[: r.candidates], scores[: r.candidates], together[: r.candidates]
        if scores and r.min_acceptance > 0 and min(scores) < r.min_acceptance:
            return None
        names = candidates.names
        index = self._index_of(names)
        terms = self._terms_for(names, index, shelf, self._open_campaigns(shopper, t, segments))
        value_weight = terms.value_weight
        factors = list(map(value_weight.get, items))
        if None in factors:
            return None  # a candidate this shelf cannot offer: the general path says why
        # held: the basket and ``extra`` (other products in hand, this event's). When the model left
        # this very basket out, no candidate is in it and only the extra ones need looking up.
        masked = candidates.basket is not None and candidates.basket == tuple(basket)
        held = extra if masked else extra.union(basket)
        last = self._state.last_offer.get(shopper)
        skip = held
        if last:
            gap = r.same_offer_gap_s
            recent = {pid for pid, when in last.items() if t - when < gap}
            if recent:
                skip = held | recent
        filtered: dict[str, int] = {}
        blocked = {i for pid in skip if (i := index.get(pid)) is not None}
        if not blocked.isdisjoint(items):
            keep = []
            for j, i in enumerate(items):
                if i in blocked:
                    reason = "held" if names[i] in held else "recently-offered"
                    filtered[reason] = filtered.get(reason, 0) + 1
                else:
                    keep.append(j)
            items = [items[j] for j in keep]
            scores = [scores[j] for j in keep]
            together = [together[j] for j in keep]
            factors = [factors[j] for j in keep]
        relevance = variant.ranking == "relevance"
        keys = scores if relevance else list(map(mul, scores, factors))
        order = sorted(range(len(keys)), key=keys.__getitem__, reverse=True)  # ties: model order
        head = order[:RECORD_CANDIDATES]
        if len(head) > 1:
            pick = itemgetter(*head)
            ids, best_keys, best_scores = tuple(map(names.__getitem__, pick(items))), pick(keys), pick(scores)
        else:
            ids, best_keys = tuple([names[items[j]] for j in head]), tuple([keys[j] for j in head])
            best_scores = tuple([scores[j] for j in head])
        of = terms.terms
        top_n = min(len(order), variant.explore_top)
        top_ids = ids[:top_n] if top_n <= len(ids) else [names[items[j]] for j in order[:top_n]]
        new_pos, new_id, new_key = -1, None, 0.0  # the ranking's best new product
        if terms.new and not terms.new.isdisjoint(items):
            new_pos = next(p for p, j in enumerate(order) if items[j] in terms.new)
            j = order[new_pos]
            new_id = names[items[j]]
            _, value, weight, _ = of[items[j]]
            new_key = scores[j] if relevance else scores[j] * value * weight
        novel: Term | None = None  # the best new product that is no candidate
        if variant.novelty_share > 0 and terms.novel_ev:
            for i, term in terms.novel_relevance if relevance else terms.novel_ev:
                if i >= 0 and i in items:
                    continue
                pid = term[0].product_id
                if pid in skip or (masked and pid in basket):
                    reason = "held" if pid in held or (masked and pid in basket) else "recently-offered"
                    filtered[reason] = filtered.get(reason, 0) + 1
                elif novel is None:
                    novel = term
        summary = tuple(sorted(filtered.items())) if filtered else ()
        upsell: Term | None = None
        if variant.upsell_share > 0 and picked is not None:
            upsell = self._upsell_indexed(terms, picked, skip, basket if masked else ())
        if not order and novel is None and upsell is None:
            return None, ids, best_keys, best_scores, summary
        acceptance = r.novelty_acceptance
        upsell_id = None if upsell is None else upsell[0].product_id
        pos, arm, propensity, mixture, novel_best = choose_position(
            decision_id,
            variant,
            top_ids,
            new_pos,
            new_id,
            new_key,
            None if novel is None else novel[0].product_id,
            0.0 if novel is None else acceptance if relevance else acceptance * novel[1] * novel[2],
            upsell_id,
        )
        if pos == UPSELL_POS:
            assert upsell is not None
            product, value, weight, campaign = upsell
            chosen = _option(
                Option, (product, r.upsell_acceptance, value, weight, campaign, 0.0, product.new)
            )
        elif pos < 0:
            assert novel is not None
            product, value, weight, campaign = novel
            chosen = _option(Option, (product, acceptance, value, weight, campaign, 0.0, True))
        else:
            j = order[pos]
            product, value, weight, campaign = of[items[j]]
            chosen = _option(Option, (product, scores[j], value, weight, campaign, together[j], product.new))
        choice = (chosen, arm, propensity, mixture, top_n, novel_best, upsell_id)
        return choice, ids, best_keys, best_scores, summary

    def _upsell_indexed(
        self, terms: Terms, picked: str, skip: set[str], basket: Sequence[str]
    ) -> Term | None:
        """The up-sell of ``picked`` at this shelf (see :meth:`OfferEngine._upsell`, the reference):
        the first product of its category, best first, that passes :func:`upsell_fits` and is
        neither held nor recently offered."""
        fits = terms.upsells.get(picked)
        if fits is None:
            fits = terms.upsells[picked] = self._upsell_fits(terms, picked)
        for term in fits:
            pid = term[0].product_id
            if pid not in skip and pid not in basket:
                return term
        return None

    def _upsell_fits(self, terms: Terms, picked: str) -> tuple[Term, ...]:
        base = self._catalogue.products.get(picked)
        if base is None or base.category in self._sensitive:
            return ()
        ratio = self._rules.rules.upsell_max_price_ratio
        return tuple(
            term
            for term in terms.by_category.get(base.category, ())
            if upsell_fits(base, term[0], term[1], ratio)
        )

    def _index_of(self, names: tuple[str, ...]) -> dict[str, int]:
        """Product id -> item index of the model whose item table is ``names``."""
        if names is not self._names:
            self._name_index = {pid: i for i, pid in enumerate(names)}
            self._names = names
            self._terms = {}
            self._terms_hot = None
        return self._name_index

    def _open_campaigns(self, shopper: str, t: float, segments: frozenset[str]) -> tuple[bool, ...]:
        """Per campaign: running at ``t`` with budget left overall and for ``shopper``, and reaching
        a shopper in ``segments`` (:meth:`Campaign.reaches`)."""
        limits = self._campaign_limits
        if not limits:
            return ()
        open_ = self._open_to_all(shopper, t)
        if not self._targeting:
            return open_
        reach = self._reach.get(segments)
        if reach is None:
            if len(self._reach) >= TERMS_CACHE:
                self._reach.clear()
            reach = self._reach[segments] = tuple(c.reaches(segments) for c in self._rules.campaigns)
        return tuple(map(and_, open_, reach))

    def _open_to_all(self, shopper: str, t: float) -> tuple[bool, ...]:
        """Per campaign: running at ``t`` with budget left overall and for ``shopper``."""
        limits = self._campaign_limits
        state = self._state
        if self._budgets_only:  # no time window, no per-shopper cap: only the spending counts
            hot = self._open_hot
            if hot is not None and hot[0] is state and hot[1] == state.campaign_version:
                return hot[2]
        spent, mine = state.campaign_spent, state.campaign_shopper
        money, redeemed = state.campaign_money, state.campaign_redeemed
        open_ = tuple(
            [
                (start is None or t >= start)
                and (end is None or t < end)
                and (budget is None or spent.get(cid, 0) < budget)
                and (cap is None or mine.get((cid, shopper), 0) < cap)
                and (granted is None or money.get(cid, 0.0) < granted)
                and (used is None or redeemed.get(cid, 0.0) < used)
                for cid, start, end, budget, cap, granted, used in limits
            ]
        )
        if self._budgets_only:
            self._open_hot = (state, state.campaign_version, open_)
        return open_

    def _terms_for(
        self, names: tuple[str, ...], index: dict[str, int], shelf: ShelfId, open_: tuple[bool, ...]
    ) -> Terms:
        version = self._catalogue.version
        hot = self._terms_hot
        if hot is not None and hot[0] is shelf and hot[1] == open_ and hot[2] == version and hot[3] is names:
            return hot[4]
        cached = self._terms.get((shelf, open_))
        if cached is None or cached[0] != version or cached[1] is not names:
            if len(self._terms) >= TERMS_CACHE:
                self._terms.clear()
            cached = (version, names, self._build_terms(index, shelf, open_))
            self._terms[(shelf, open_)] = cached
        self._terms_hot = (shelf, open_, version, names, cached[2])
        return cached[2]

    def _build_terms(self, index: dict[str, int], shelf: ShelfId, open_: tuple[bool, ...]) -> Terms:
        r = self._rules.rules
        infos = self._static_ok(shelf)[2]
        value_weight: dict[int, float] = {}
        terms: dict[int, Term] = {}
        new: list[tuple[int, Term]] = []
        by_category: dict[str, list[Term]] = {}
        for pid, (product, value, covered, _) in infos.items():
            weight = r.organic_weight
            best: Campaign | None = None
            if covered:
                for (campaign, products, categories), is_open in zip(
                    self._campaign_scope, open_, strict=True
                ):
                    covers = pid in products or product.category in categories
                    if is_open and covers and (best is None or campaign.weight > best.weight):
                        best = campaign
            if best is not None:
                value = max(0.0, product.price * (product.margin - best.discount_pct / 100.0))
                weight = best.weight
            term = (product, value, weight, best)
            i = index.get(pid, -1)  # -1: a product the model does not know (new ones often)
            if i >= 0:
                value_weight[i] = value * weight
                terms[i] = term
            if product.new:
                new.append((i, term))
            by_category.setdefault(product.category, []).append(term)
        acceptance = r.novelty_acceptance
        by_ev = sorted(new, key=lambda it: (-(acceptance * it[1][1] * it[1][2]), it[1][0].product_id))
        by_relevance = sorted(new, key=lambda it: it[1][0].product_id)
        return Terms(
            value_weight,
            terms,
            frozenset(i for i, _ in new if i >= 0),
            tuple(by_ev),
            tuple(by_relevance),
            {cat: tuple(sorted(ts, key=upsell_order)) for cat, ts in by_category.items()},
            {},
        )


def upsell_order(term: Term) -> tuple[float, str]:
    """Up-sells best first: by money value x weight, then by product id."""
    return -(term[1] * term[2]), term[0].product_id


def upsell_fits(base: Product, product: Product, value: float, max_price_ratio: float) -> bool:
    """``product`` (money value ``value`` after its campaign's discount) is a higher-value alternative
    to ``base``, the product just picked: same category (the caller's), another product, a higher
    price but at most ``max_price_ratio`` times it (a larger pack or a premium brand, not another
    kind of purchase), and more money margin for the store than ``base`` at full price."""
    return (
        product.product_id != base.product_id
        and base.price < product.price <= base.price * max_price_ratio
        and value > base.price * base.margin
    )
