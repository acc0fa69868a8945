"""The offer decision (pure: no I/O, no clock; time comes from the basket event).

The daemon, on each basket event of a known shopper::

    candidates = model.candidates(basket=basket, profile=profile, k=rules.rules.candidates,
                                  within=engine.offerable(event.shelf))
    decision = engine.decide(event, basket, candidates,
                             DecisionContext(display=..., shelf=event.shelf, segments=profile.segments))
    log decision.record.to_dict(); publish decision.offer when it is not None

Steps: group (universal holdout, experiment holdout or variant; held-out shoppers are still
decided for, for the counterfactual, under their shadow variant's mixture, and their offer is an
exposure that is recorded and followed but not shown) -> consent and per-shopper caps -> hard filters per candidate (catalogue, already
held, excluded or sensitive, live stock on this or a nearby gondola, same-offer gap, per-product
cap, campaign budgets in offers and money; a campaign that names customer segments counts only
for a shopper whose profile puts them in one: ``Campaign.reaches``) -> ranking by expected value (acceptance x money margin
after discount x campaign weight) or relevance -> a mixture policy (:mod:`edge.offers.policy`):
best offer, or (novelty_share) the best new product, or (upsell_share) the up-sell of the product
just picked, or (explore_share, at least the exploration floor) a uniform pick among the top few;
the propensity of the chosen offer and of every logged candidate under that mixture is logged.

The model's own candidate lists (item indices) take the fast path in :mod:`edge.offers.indexed`,
which builds only the chosen :class:`Option`; every other list, and rules the fast path does not
cover, take the general path here, the reference the fast path is tested against.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from edge.events import BasketEvent, ShelfId
from edge.offers.candidates import Candidate, CandidateList, columns
from edge.offers.catalogue import Catalogue, Product
from edge.offers.experiments import HELD_OUT_GROUPS
from edge.offers.filters import Info
from edge.offers.indexed import RECORD_CANDIDATES, IndexedPath, Ranked, upsell_fits, upsell_order
from edge.offers.output import DecisionOutput
from edge.offers.policy import Why, choose, make_offer, with_floor
from edge.offers.records import Decision, DecisionContext, DecisionRecord, Option
from edge.offers.rules import Campaign, OfferRules, Variant
from edge.offers.state import OfferState

__all__ = ["Decision", "DecisionContext", "DecisionRecord", "OfferEngine", "Option"]

SHOWN = ("offered", "held-out")

_Survivor = tuple[Product, float, float, float, Campaign | None, float, bool]  # Option's fields


class OfferEngine(IndexedPath, DecisionOutput):
    """Decides one offer per basket event; keeps caps and budgets in memory (``restore`` after restart).

    ``rules`` and ``catalogue`` may be replaced at any time (backend updates): every cache derived
    from them is rebuilt; caps and budgets are kept.
    """

    def __init__(
        self,
        rules: OfferRules,
        catalogue: Catalogue,
        offer_ttl_s: float = 30.0,
        conversion_window_s: float = 300.0,
        proof_support: int | None = None,
    ) -> None:
        """``conversion_window_s``: a conversion this long after an offer redeems its campaign
        discount; ``proof_support``: baskets the model counted at least behind each social-proof
        share (its ``min_support``; None: the candidates' producer vouches for it)."""
        self.offer_ttl_s = offer_ttl_s
        self._state = OfferState(redeem_window_s=conversion_window_s)
        self._catalogue = catalogue
        self._proof_support = proof_support
        self.rules = rules  # derives the rule caches (property setter)

    @property
    def rules(self) -> OfferRules:
        return self._rules

    @rules.setter
    def rules(self, rules: OfferRules) -> None:
        self._rules = rules
        r = rules.rules
        self._horizon = max(r.shopper_window_s, r.same_offer_gap_s, r.min_gap_s)
        self._product_window = r.product_window_s
        self._logged_as = (rules.experiment.experiment_id, rules.version)  # in every record
        self._excluded_products = frozenset(r.excluded_products)
        self._excluded_categories = frozenset(c.lower() for c in r.excluded_categories)
        self._sensitive = frozenset(c.lower() for c in r.sensitive_categories)
        self._never = self._excluded_categories | (frozenset() if r.offer_sensitive else self._sensitive)
        self._why = Why(r, self._sensitive, self._proof_support)
        self._variants = {v.name: with_floor(v, r.explore_floor) for v in rules.experiment.variants}
        self._campaign_scope = [
            (c, frozenset(c.products), frozenset(x.lower() for x in c.categories)) for c in rules.campaigns
        ]
        self._groups = {}
        self._reset_catalogue_caches()

    @property
    def proof_support(self) -> int | None:
        return self._proof_support

    @proof_support.setter
    def proof_support(self, baskets: int | None) -> None:
        """Set from each model served (its ``min_support``); see ``__init__``."""
        self._proof_support = baskets
        self._why = Why(self._rules.rules, self._sensitive, baskets)

    def redeem(self, offer_id: str, t: float) -> float:
        """A conversion of ``offer_id`` at ``t`` (from the display publisher): its campaign discount
        counts against the campaign's ``budget_redeemed``. Returns the amount (0.0: none pending)."""
        return self._state.redeem(offer_id, t)

    @property
    def catalogue(self) -> Catalogue:
        return self._catalogue

    @catalogue.setter
    def catalogue(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue
        self._reset_catalogue_caches()

    def _reset_catalogue_caches(self) -> None:
        self._catalogue.watch_below = max(self._catalogue.watch_below, self._rules.rules.min_stock)
        self._static = {}
        self._hot = None
        self._infos = {}
        self._shelf_names: dict[ShelfId, str] = {}
        self._name_hot: tuple[ShelfId | None, str] = (None, "")
        self._reset_indexed_caches()

    # ------------------------------------------------------------------ public
    def decide(
        self,
        event: BasketEvent,
        basket: Sequence[str],
        candidates: Sequence[Candidate | str],
        context: DecisionContext,
    ) -> Decision:
        shopper = event.shopper or ""
        decision_id = self._decision_id(event)
        group = self._group(shopper) if shopper else None
        if group is None:
            return Decision(None, self._record(decision_id, event, shopper, context, None, "no-shopper"))
        if not context.consent:
            return Decision(None, self._record(decision_id, event, shopper, context, group, "no-consent"))
        t = event.t
        self._state.prune(t, shopper, self._horizon, self._product_window)
        capped = self._state.shopper_capped(shopper, t, self._rules.rules)
        if capped:
            return Decision(None, self._record(decision_id, event, shopper, context, group, capped))
        variant = group.decided_as  # a held-out shopper's shadow variant decides the offer held back
        extra = set(context.held)  # held beyond the basket: other products in hand, this event's
        if event.product_id:
            extra.add(event.product_id)
        segments = context.segments if self._targeting else frozenset()  # campaigns look at them
        ranking = None
        if type(candidates) is CandidateList:
            ranking = self._indexed(
                decision_id, shopper, t, context.shelf, basket, extra, candidates, variant, event.product_id,
                segments,
            )  # fmt: skip
        if ranking is None:
            held = extra.union(basket)
            ranking = self._general(
                decision_id, shopper, t, segments, context.shelf, held, candidates, variant, event.product_id
            )
        choice, ranked_ids, keys, scores, summary = ranking
        if choice is None:
            rec = self._record(
                decision_id, event, shopper, context, group, "no-candidate", None, None, 0.0, None,
                ranked_ids, keys, summary, scores,
            )  # fmt: skip
            return Decision(None, rec)
        chosen, arm, propensity, mixture, top_n, novel, upsell = choice
        campaign = chosen.campaign
        outcome = "held-out" if group.group in HELD_OUT_GROUPS else "offered"
        picked = self._catalogue.products.get(event.product_id) if event.product_id else None
        offer = make_offer(
            event, shopper, context, chosen, group, decision_id, propensity, self._why, self.offer_ttl_s,
            arm, picked,
        )  # fmt: skip
        discount = round(chosen.product.price - offer.price, 2) if campaign is not None else 0.0
        rec = self._record(
            decision_id, event, shopper, context, group, outcome, chosen.product.product_id, arm,
            propensity, campaign.campaign_id if campaign else None, ranked_ids, keys, summary, scores,
            mixture, top_n, novel, upsell, discount,
        )  # fmt: skip
        self._state.remember(rec)
        if outcome == "held-out":
            return Decision(None, rec, offer)
        return Decision(offer, rec, offer)

    def _general(
        self,
        decision_id: str,
        shopper: str,
        t: float,
        segments: frozenset[str],
        shelf: ShelfId,
        held: set[str],
        candidates: Sequence[Candidate | str],
        variant: Variant,
        picked: str | None,
    ) -> Ranked:
        """Filters and ranking for any candidate list (the reference the fast path must equal)."""
        filtered: dict[str, int] = {}
        relevance = variant.ranking == "relevance"
        order, survivor, new = self._options(
            shopper, t, segments, shelf, held, candidates, filtered, relevance
        )
        novel = (
            self._novel(shopper, t, segments, shelf, held, order, filtered)
            if variant.novelty_share > 0
            else []
        )
        order.sort()  # best first; equal keys keep the model's order
        top_n = variant.explore_top
        ranked = [Option._make(survivor(i)) for _, i, _ in order[:top_n]]
        if new and not any(o.novel for o in ranked):  # the policy also needs the best new survivor
            for _, i, _ in order[top_n:]:
                if i in new:
                    ranked.append(Option._make(survivor(i)))
                    break
        best_novel = min(novel, key=lambda o: (-o.key(variant), o.product.product_id)) if novel else None
        upsell = None
        if variant.upsell_share > 0 and picked is not None:
            upsell = self._upsell(picked, shopper, t, segments, shelf, held)
        head = order[:RECORD_CANDIDATES]
        return (
            choose(decision_id, variant, ranked, best_novel, upsell)
            if ranked or best_novel or upsell
            else None,
            tuple([pid for _, _, pid in head]),
            tuple([-key for key, _, _ in head]),
            tuple([survivor(i)[1] for _, i, _ in head]),
            tuple(sorted(filtered.items())),
        )

    def _upsell(
        self, picked: str, shopper: str, t: float, segments: frozenset[str], shelf: ShelfId, held: set[str]
    ) -> Option | None:
        """The up-sell of ``picked`` (the product just picked) at ``shelf``: of the products this shelf
        may offer in the same category and not sensitive, those that pass every filter and
        :func:`upsell_fits` (higher price, at most ``upsell_max_price_ratio`` times it, more money
        margin), the best by money value x weight (then by id). Its acceptance is
        ``upsell_acceptance``; the filters' counts are not recorded (it is no model candidate)."""
        base = self._catalogue.get(picked)
        if base is None or base.category in self._sensitive:
            return None
        r = self._rules.rules
        static, _, infos = self._static_ok(shelf)
        fits = []
        for pid, (product, _, _, _) in infos.items():
            if product.category != base.category:
                continue
            found = self._eligible(pid, shopper, t, segments, static, held, {})
            if found is None:
                continue
            option = self._option(found[0], found[1], r.upsell_acceptance, 0.0, found[0].new)
            if upsell_fits(base, found[0], option.value, r.upsell_max_price_ratio):
                fits.append(option)
        if not fits:
            return None
        return min(fits, key=lambda o: upsell_order((o.product, o.value, o.weight, o.campaign)))

    def restore(
        self, records: Iterable[DecisionRecord], conversions: Iterable[tuple[str, float]] = ()
    ) -> int:
        """Re-apply logged decisions (oldest first) to rebuild caps and budgets after a restart, then
        the conversions seen since, as (offer id, time), so redeemed campaign money counts again."""
        count = 0
        for rec in records:
            if rec.outcome in SHOWN and rec.chosen:
                self._state.remember(rec)
                count += 1
        for offer_id, t in conversions:
            self._state.redeem(offer_id, t)
        return count

    # ------------------------------------------------------------------ filters
    def _eligible(
        self,
        product_id: str,
        shopper: str,
        t: float,
        segments: frozenset[str],
        static: frozenset[str],
        held: set[str],
        filtered: dict[str, int],
    ) -> tuple[Product, Campaign | None] | None:
        reason: str | None = None
        campaign: Campaign | None = None
        product = self.catalogue.products.get(product_id) if product_id in static else None
        if product_id in held:
            reason = "held"
        elif product is None:
            reason = self._static_reason(product_id)
        elif shopper in self._state.by_shopper and self._state.recently_offered(
            shopper, product_id, t, self.rules.rules.same_offer_gap_s
        ):
            reason = "recently-offered"
        elif self.rules.rules.max_per_product_window is not None and self._state.product_capped(
            product_id, t, self.rules.rules
        ):
            reason = "product-cap"
        elif self._campaign_scope:
            campaign, spent = self._campaign(product, shopper, t, segments)
            if campaign is None and not self.rules.rules.organic_offers:
                reason = "budget" if spent else "no-campaign"
        elif not self.rules.rules.organic_offers:
            reason = "no-campaign"
        if reason is not None or product is None:
            key = reason or "not-in-catalogue"
            filtered[key] = filtered.get(key, 0) + 1
            return None
        return product, campaign

    def _option(
        self, product: Product, campaign: Campaign | None, acceptance: float, together: float, novel: bool
    ) -> Option:
        discount = campaign.discount_pct / 100.0 if campaign else 0.0
        value = max(0.0, product.price * (product.margin - discount))
        weight = campaign.weight if campaign else self.rules.rules.organic_weight
        return Option(product, acceptance, value, weight, campaign, together, novel)

    def _options(
        self,
        shopper: str,
        t: float,
        segments: frozenset[str],
        shelf: ShelfId,
        held: set[str],
        candidates: Sequence[Candidate | str],
        filtered: dict[str, int],
        relevance: bool,
    ) -> tuple[list[tuple[float, int, str]], Callable[[int], _Survivor], set[int]]:
        """Every candidate through the hard filters, in order: the same checks as :meth:`_eligible`
        with per-product facts cached (the reference :mod:`edge.offers.indexed` must equal).

        Returns (order, survivor, new): ``order`` holds (-ranking key, index, product id) per
        candidate that passed every filter, ``survivor(index)`` the fields of its :class:`Option`,
        and ``new`` the indices of new products among them. A repeated candidate counts once.
        """
        r = self._rules.rules
        ids, scores, together = columns(candidates, r.candidates)
        table = self._static_ok(shelf)[2]
        last = self._state.last_offer.get(shopper)
        skip = held
        if last:
            recent = {pid for pid, when in last.items() if t - when < r.same_offer_gap_s}
            if recent:
                skip = held | recent
        organic = r.organic_offers
        order: list[tuple[float, int, str]] = []
        survivors: list[_Survivor] = []
        new: set[int] = set()
        seen: set[str] = set()
        for pid, score, share in zip(ids, scores, together, strict=True):
            if pid in seen:
                continue
            seen.add(pid)
            reason: str | None = None
            info = None
            if score < r.min_acceptance:
                reason = "low-acceptance"
            elif pid in skip or pid not in table:
                reason = self._reason(pid, held, table, last, t)
            elif self._state.product_capped(pid, t, r):
                reason = "product-cap"
            else:
                info = table[pid]
            if info is not None:
                product, value, covered, _ = info
                weight = r.organic_weight
                campaign: Campaign | None = None
                if covered:
                    campaign, spent = self._campaign(product, shopper, t, segments)
                    if campaign is not None:
                        discount = campaign.discount_pct / 100.0
                        value = max(0.0, product.price * (product.margin - discount))
                        weight = campaign.weight
                    elif not organic:
                        reason = "budget" if spent else "no-campaign"
                elif not organic:
                    reason = "no-campaign"
                if reason is None:
                    if product.new:
                        new.add(len(survivors))
                    order.append((-(score if relevance else score * (value * weight)), len(survivors), pid))
                    survivors.append((product, score, value, weight, campaign, share, product.new))
                    continue
            assert reason is not None
            filtered[reason] = filtered.get(reason, 0) + 1
        return order, survivors.__getitem__, new

    def _reason(
        self,
        pid: str,
        held: set[str],
        table: dict[str, Info],
        last: dict[str, float] | None,
        t: float,
    ) -> str:
        """Why ``pid`` is dropped before its campaign is looked at (held, static, recently offered)."""
        if pid in held:
            return "held"
        if pid not in table:
            return self._static_reason(pid)
        assert last is not None and t - last[pid] < self._rules.rules.same_offer_gap_s
        return "recently-offered"

    def _novel(
        self,
        shopper: str,
        t: float,
        segments: frozenset[str],
        shelf: ShelfId,
        held: set[str],
        order: list[tuple[float, int, str]],
        filtered: dict[str, int],
    ) -> list[Option]:
        result: list[Option] = []
        static, new, _ = self._static_ok(shelf)
        if not new:
            return result
        ranked = {pid for _, _, pid in order}
        for product in new:  # new products this shelf cannot offer are no candidates (not counted)
            if product.product_id in ranked:
                continue
            found = self._eligible(product.product_id, shopper, t, segments, static, held, filtered)
            if found is not None:
                result.append(
                    self._option(found[0], found[1], self.rules.rules.novelty_acceptance, 0.0, True)
                )
        return result
