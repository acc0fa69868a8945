"""The offer decision (pure: no I/O, no clock; time comes from the basket event).

The daemon, on each basket event of a known shopper::

    candidates = model.candidates(basket=basket, profile=profile, k=rules.rules.candidates,
                                  within=engine.offerable(event.shelf))
    decision = engine.decide(event, basket, candidates, DecisionContext(display=..., shelf=event.shelf))
    log decision.record.to_dict(); publish decision.offer when it is not None

Steps: experiment group (holdout still decides, for the counterfactual, but shows nothing) ->
consent and per-shopper caps -> hard filters per candidate (catalogue, already held, excluded,
stock on this or a nearby gondola, same-offer gap, per-product cap, campaign budget) -> ranking by
expected value (acceptance x money margin after discount x campaign weight) or relevance ->
a mixture policy: best offer, or (novelty_share) the best new product, or (explore_share) a uniform
pick among the top few; the propensity of the chosen offer under that mixture is logged.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from edge.events import BasketEvent, Offer, ShelfId
from edge.offers.candidates import Candidate
from edge.offers.catalogue import Catalogue, Product
from edge.offers.experiments import HOLDOUT, Assignment, assign, draw, unit_hash
from edge.offers.rules import Campaign, OfferRules, Variant

RECORD_CANDIDATES = 20
SHOWN = ("offered", "held-out")


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """What the daemon knows beyond the event: where to show, consent, other held products."""

    display: str
    shelf: ShelfId
    consent: bool = True
    held: frozenset[str] = frozenset()


class Option(NamedTuple):
    """A candidate that passed every hard filter (a named tuple: one per candidate per decision)."""

    product: Product
    acceptance: float
    value: float
    weight: float
    campaign: Campaign | None
    together: float
    novel: bool = False

    @property
    def expected_value(self) -> float:
        return self.acceptance * self.value * self.weight

    def key(self, variant: Variant) -> float:
        return self.expected_value if variant.ranking == "expected-value" else self.acceptance


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """Everything needed to measure uplift later: group, candidates, choice and its propensity."""

    decision_id: str
    t: float
    shopper: str
    shelf: str
    display: str
    experiment_id: str
    variant: str
    outcome: str
    chosen: str | None
    arm: str | None
    propensity: float
    campaign_id: str | None
    candidates: tuple[str, ...]
    keys: tuple[float, ...]
    filtered: tuple[tuple[str, int], ...]
    rules_version: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "t": self.t,
            "shopper": self.shopper,
            "shelf": self.shelf,
            "display": self.display,
            "experiment_id": self.experiment_id,
            "variant": self.variant,
            "outcome": self.outcome,
            "chosen": self.chosen,
            "arm": self.arm,
            "propensity": self.propensity,
            "campaign_id": self.campaign_id,
            "candidates": list(self.candidates),
            "keys": list(self.keys),
            "filtered": dict(self.filtered),
            "rules_version": self.rules_version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecisionRecord:
        return cls(
            decision_id=str(data["decision_id"]),
            t=float(data["t"]),
            shopper=str(data["shopper"]),
            shelf=str(data["shelf"]),
            display=str(data["display"]),
            experiment_id=str(data["experiment_id"]),
            variant=str(data["variant"]),
            outcome=str(data["outcome"]),
            chosen=None if data.get("chosen") is None else str(data["chosen"]),
            arm=None if data.get("arm") is None else str(data["arm"]),
            propensity=float(data["propensity"]),
            campaign_id=None if data.get("campaign_id") is None else str(data["campaign_id"]),
            candidates=tuple(str(c) for c in data.get("candidates", ())),
            keys=tuple(float(k) for k in data.get("keys", ())),
            filtered=tuple((str(k), int(v)) for k, v in dict(data.get("filtered", {})).items()),
            rules_version=str(data.get("rules_version", "")),
        )


@dataclass(frozen=True, slots=True)
class Decision:
    offer: Offer | None
    record: DecisionRecord


@dataclass(slots=True)
class _State:
    by_shopper: dict[str, deque[tuple[float, str, str | None]]] = field(default_factory=dict)
    last_offer: dict[str, dict[str, float]] = field(default_factory=dict)
    by_product: dict[str, deque[float]] = field(default_factory=dict)
    campaign_spent: dict[str, int] = field(default_factory=dict)
    campaign_shopper: dict[tuple[str, str], int] = field(default_factory=dict)


class OfferEngine:
    """Decides one offer per basket event; keeps caps and budgets in memory (``restore`` after restart)."""

    def __init__(self, rules: OfferRules, catalogue: Catalogue, offer_ttl_s: float = 30.0) -> None:
        self.rules = rules
        self.catalogue = catalogue
        self.offer_ttl_s = offer_ttl_s
        self._state = _State()
        self._horizon = max(rules.rules.shopper_window_s, rules.rules.same_offer_gap_s, rules.rules.min_gap_s)
        self._swept = float("-inf")
        self._static: dict[ShelfId, tuple[int, frozenset[str]]] = {}
        r = rules.rules
        self._excluded_products = frozenset(r.excluded_products)
        self._excluded_categories = frozenset(c.lower() for c in r.excluded_categories)
        self._campaign_scope = [
            (c, frozenset(c.products), frozenset(x.lower() for x in c.categories)) for c in rules.campaigns
        ]
        self._infos: dict[str, tuple[Product, float, bool]] = {}

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
        group = assign(self.rules.experiment, shopper) if shopper else None

        def record(outcome: str, **kw: Any) -> DecisionRecord:
            return DecisionRecord(
                decision_id=decision_id,
                t=event.t,
                shopper=shopper,
                shelf=str(context.shelf),
                display=context.display,
                experiment_id=self.rules.experiment.experiment_id,
                variant=group.group if group else "",
                outcome=outcome,
                chosen=kw.get("chosen"),
                arm=kw.get("arm"),
                propensity=kw.get("propensity", 0.0),
                campaign_id=kw.get("campaign_id"),
                candidates=kw.get("candidates", ()),
                keys=kw.get("keys", ()),
                filtered=kw.get("filtered", ()),
                rules_version=self.rules.version,
            )

        if group is None:
            return Decision(None, record("no-shopper"))
        if not context.consent:
            return Decision(None, record("no-consent"))
        self._prune(event.t, shopper)
        capped = self._shopper_capped(shopper, event.t)
        if capped:
            return Decision(None, record(capped))
        variant = group.variant or self.rules.experiment.variants[0]
        held = set(basket) | set(context.held)
        if event.product_id:
            held.add(event.product_id)
        filtered: dict[str, int] = {}
        options = self._options(shopper, event.t, context.shelf, held, candidates, filtered)
        novel = (
            self._novel(
                shopper, event.t, context.shelf, held, {o.product.product_id for o in options}, filtered
            )
            if variant.novelty_share > 0
            else []
        )
        relevance = variant.ranking == "relevance"
        order = sorted(
            (-(o.acceptance if relevance else o.acceptance * o.value * o.weight), o.product.product_id, i)
            for i, o in enumerate(options)
        )
        ranked = [options[i] for _, _, i in order]
        best_novel = min(novel, key=lambda o: (-o.key(variant), o.product.product_id)) if novel else None
        head = order[:RECORD_CANDIDATES]
        ranked_ids = tuple(pid for _, pid, _ in head)
        keys = tuple(-key for key, _, _ in head)
        summary = tuple(sorted(filtered.items()))
        if not ranked and best_novel is None:
            return Decision(None, record("no-candidate", candidates=ranked_ids, keys=keys, filtered=summary))
        chosen, arm, propensity = self._choose(decision_id, variant, ranked, best_novel)
        campaign_id = chosen.campaign.campaign_id if chosen.campaign else None
        outcome = "held-out" if group.group == HOLDOUT else "offered"
        rec = record(
            outcome,
            chosen=chosen.product.product_id,
            arm=arm,
            propensity=propensity,
            campaign_id=campaign_id,
            candidates=ranked_ids,
            keys=keys,
            filtered=summary,
        )
        self._remember(rec)
        if outcome == "held-out":
            return Decision(None, rec)
        return Decision(self._offer(event, shopper, context, chosen, group, decision_id, propensity), rec)

    def restore(self, records: Iterable[DecisionRecord]) -> int:
        """Re-apply logged decisions (oldest first) to rebuild caps and budgets after a restart."""
        count = 0
        for rec in records:
            if rec.outcome in SHOWN and rec.chosen:
                self._remember(rec)
                count += 1
        return count

    # ------------------------------------------------------------------ filters
    def _shopper_capped(self, shopper: str, t: float) -> str | None:
        r = self.rules.rules
        past = self._state.by_shopper.get(shopper)
        if not past:
            return None
        if t - past[-1][0] < r.min_gap_s:
            return "capped-gap"
        if sum(1 for when, _, _ in past if t - when < r.shopper_window_s) >= r.max_offers_per_shopper:
            return "capped-shopper"
        return None

    def _campaign(self, product: Product, shopper: str, t: float) -> tuple[Campaign | None, bool]:
        """Best running campaign with budget left for ``product``; flag True if one covers it but is spent."""
        best: Campaign | None = None
        spent = False
        for campaign, products, categories in self._campaign_scope:
            if product.product_id not in products and product.category not in categories:
                continue
            if not campaign.running(t):
                continue
            used = self._state.campaign_spent.get(campaign.campaign_id, 0)
            mine = self._state.campaign_shopper.get((campaign.campaign_id, shopper), 0)
            if (campaign.budget_offers is not None and used >= campaign.budget_offers) or (
                campaign.max_per_shopper is not None and mine >= campaign.max_per_shopper
            ):
                spent = True
                continue
            if best is None or campaign.weight > best.weight:
                best = campaign
        return best, spent

    def offerable(self, shelf: ShelfId) -> frozenset[str]:
        """Products that could be offered at ``shelf`` at all: in the catalogue, not excluded, in stock
        on this or a nearby gondola. Pass it to ``OfferModel.candidates(within=...)`` so the model
        only spends its ``k`` on these. Cached until the catalogue's stock changes."""
        return self._static_ok(shelf)

    def _static_ok(self, shelf: ShelfId) -> frozenset[str]:
        cached = self._static.get(shelf)
        if cached is not None and cached[0] == self.catalogue.version:
            return cached[1]
        r = self.rules.rules
        ok = frozenset(
            pid
            for pid in self.catalogue.stocked()
            if (p := self.catalogue.get(pid)) is not None
            and pid not in self._excluded_products
            and p.category not in self._excluded_categories
            and self.catalogue.stock_near(pid, shelf, r.nearby_gondolas) >= r.min_stock
        )
        self._static[shelf] = (self.catalogue.version, ok)
        return ok

    def _static_reason(self, product_id: str) -> str:
        product = self.catalogue.get(product_id)
        if product is None:
            return "not-in-catalogue"
        if product_id in self._excluded_products or product.category in self._excluded_categories:
            return "excluded"
        return "out-of-stock"

    def _eligible(
        self,
        product_id: str,
        shopper: str,
        t: float,
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
        elif shopper in self._state.by_shopper and self._recently_offered(shopper, product_id, t):
            reason = "recently-offered"
        elif self.rules.rules.max_per_product_window is not None and self._product_capped(product_id, t):
            reason = "product-cap"
        elif self._campaign_scope:
            campaign, spent = self._campaign(product, shopper, t)
            if campaign is None and not self.rules.rules.organic_offers:
                reason = "budget" if spent else "no-campaign"
        elif not self.rules.rules.organic_offers:
            reason = "no-campaign"
        if reason is not None or product is None:
            key = reason or "not-in-catalogue"
            filtered[key] = filtered.get(key, 0) + 1
            return None
        return product, campaign

    def _recently_offered(self, shopper: str, product_id: str, t: float) -> bool:
        when = self._state.last_offer.get(shopper, {}).get(product_id)
        return when is not None and t - when < self.rules.rules.same_offer_gap_s

    def _product_capped(self, product_id: str, t: float) -> bool:
        r = self.rules.rules
        if r.max_per_product_window is None:
            return False
        times = self._state.by_product.get(product_id, ())
        return sum(1 for when in times if t - when < r.product_window_s) >= r.max_per_product_window

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
        shelf: ShelfId,
        held: set[str],
        candidates: Sequence[Candidate | str],
        filtered: dict[str, int],
    ) -> list[Option]:
        """The hot loop: the same checks as :meth:`_eligible`, with per-product facts cached."""
        r = self.rules.rules
        static = self._static_ok(shelf)
        last = self._state.last_offer.get(shopper)
        gap = r.same_offer_gap_s
        product_cap = r.max_per_product_window is not None
        organic = r.organic_offers
        options = []
        seen: set[str] = set()
        for rank, raw in enumerate(candidates[: r.candidates]):
            cand = raw if isinstance(raw, Candidate) else Candidate(raw, 1.0 / (rank + 2))
            pid = cand.product_id
            if pid in seen:
                continue
            seen.add(pid)
            reason: str | None = None
            campaign: Campaign | None = None
            if cand.score < r.min_acceptance:
                reason = "low-acceptance"
            elif pid in held:
                reason = "held"
            elif pid not in static:
                reason = self._static_reason(pid)
            elif last is not None and (when := last.get(pid)) is not None and t - when < gap:
                reason = "recently-offered"
            elif product_cap and self._product_capped(pid, t):
                reason = "product-cap"
            else:
                info = self._info(pid)
                if info[2]:
                    campaign, spent = self._campaign(info[0], shopper, t)
                    if campaign is None and not organic:
                        reason = "budget" if spent else "no-campaign"
                elif not organic:
                    reason = "no-campaign"
                if reason is None:
                    if campaign is None:
                        options.append(
                            Option(
                                info[0],
                                cand.score,
                                info[1],
                                r.organic_weight,
                                None,
                                cand.together,
                                info[0].new,
                            )
                        )
                    else:
                        options.append(
                            self._option(info[0], campaign, cand.score, cand.together, info[0].new)
                        )
                    continue
            filtered[reason] = filtered.get(reason, 0) + 1
        return options

    def _info(self, product_id: str) -> tuple[Product, float, bool]:
        """(product, organic money margin, covered by any campaign), cached per product."""
        info = self._infos.get(product_id)
        if info is None:
            product = self.catalogue.products[product_id]
            covered = any(
                product_id in products or product.category in categories
                for _, products, categories in self._campaign_scope
            )
            info = (product, max(0.0, product.price * product.margin), covered)
            self._infos[product_id] = info
        return info

    def _novel(
        self,
        shopper: str,
        t: float,
        shelf: ShelfId,
        held: set[str],
        ranked: set[str],
        filtered: dict[str, int],
    ) -> list[Option]:
        result = []
        static = self._static_ok(shelf)
        for product in self.catalogue.new_products():
            if product.product_id in ranked or product.product_id not in static:
                continue  # new products this shelf cannot offer are no candidates (not counted)
            found = self._eligible(product.product_id, shopper, t, static, held, filtered)
            if found is not None:
                result.append(
                    self._option(found[0], found[1], self.rules.rules.novelty_acceptance, 0.0, True)
                )
        return result

    # ------------------------------------------------------------------ policy
    def _choose(
        self, decision_id: str, variant: Variant, ranked: list[Option], best_novel: Option | None
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

    # ------------------------------------------------------------------ state and output
    def _remember(self, rec: DecisionRecord) -> None:
        assert rec.chosen is not None
        s = self._state
        s.by_shopper.setdefault(rec.shopper, deque()).append((rec.t, rec.chosen, rec.campaign_id))
        s.last_offer.setdefault(rec.shopper, {})[rec.chosen] = rec.t
        if rec.outcome != "offered":
            return
        s.by_product.setdefault(rec.chosen, deque()).append(rec.t)
        if rec.campaign_id:
            s.campaign_spent[rec.campaign_id] = s.campaign_spent.get(rec.campaign_id, 0) + 1
            key = (rec.campaign_id, rec.shopper)
            s.campaign_shopper[key] = s.campaign_shopper.get(key, 0) + 1

    def _prune(self, t: float, shopper: str) -> None:
        """Forget what no window can see any more: this shopper now, everyone else now and then."""
        mine = self._state.by_shopper.get(shopper)
        while mine and t - mine[0][0] >= self._horizon:
            mine.popleft()
        if t - self._swept < self._horizon / 10:
            return
        self._swept = t
        table = self._state.by_shopper
        for key in [k for k, q in table.items() if not q or t - q[-1][0] >= self._horizon]:
            del table[key]
            self._state.last_offer.pop(key, None)
        window = self.rules.rules.product_window_s
        for times in self._state.by_product.values():
            while times and t - times[0] >= window:
                times.popleft()

    def _decision_id(self, event: BasketEvent) -> str:
        key = f"{event.event_id}|{event.shopper}|{event.t!r}|{event.product_id}|{event.shelf}"
        return "d-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]

    def _offer(
        self,
        event: BasketEvent,
        shopper: str,
        context: DecisionContext,
        option: Option,
        group: Assignment,
        decision_id: str,
        propensity: float,
    ) -> Offer:
        product, campaign = option.product, option.campaign
        discount = campaign.discount_pct / 100.0 if campaign else 0.0
        if campaign is not None:
            reason = campaign.name
        elif option.novel:
            reason = "New in store"
        elif option.together >= self.rules.rules.social_proof_min_share:
            reason = "Goes with your basket"
        else:
            reason = "Picked for you"
        proof = None
        if option.together >= self.rules.rules.social_proof_min_share:
            proof = f"bought together by {round(option.together * 100)} % of shoppers"
        ttl = self.offer_ttl_s
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
