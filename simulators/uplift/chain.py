"""A chain of stores for simulated months, on pure cores only: no devices, the real OfferEngine.

Each store runs its own :class:`edge.offers.decision.OfferEngine` (caps and budgets are per
gateway). Shoppers visit their home store (Poisson visits per week), pick an organic basket one
product at a time, and every pick of a known shopper is decided by the engine with candidates
scored from the shopper's taste (no ONNX model: the scores are the simulator's own). Decisions
see only the organic basket, so the decision contexts are the same whatever the rules: running
other rules on the same seed gives the true value of those rules on the same contexts.

Outputs (:class:`ChainRun`): the exposures and picks the central export would hold, the decision
contexts ``simulate-policy`` replays, and the truth: per shown offer the expected effect of
showing it (:mod:`simulators.uplift.response`), per decision the expected offer margin under
the rules that ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from edge.events import BasketEvent, ShelfId
from edge.offers.candidates import Candidate
from edge.offers.catalogue import Catalogue, Product
from edge.offers.decision import DecisionContext, OfferEngine
from edge.offers.rules import OfferRules, parse_rules
from models.experiments.replay import action_probabilities, campaign_discounts
from simulators.uplift.response import ResponseModel

DAY = 86_400.0
WEEK = 7 * DAY
START = 1_788_739_200.0  # Monday 2026-09-07 00:00 UTC: the experiment starts
VISIT_S = 3600.0
PICK_GAP_S = 400.0  # between two picks of a visit: longer than REWARD_S, so a decision's reward is its own
REWARD_S = 300.0  # simulate-policy's reward window (the edge's conversion window)
CATEGORIES = ("light", "light", "light", "candle", "candle", "tea", "tea", "mug", "card", "bag")


@dataclass(frozen=True, slots=True)
class ChainConfig:
    stores: int = 2
    shoppers: int = 1500
    weeks: int = 8
    pre_weeks: int = 4
    offerable: int = 18  # products per store that may be offered (<= 20: a record lists every survivor)
    products: int = 24
    impulse_items: int = 6  # 'snack' products: bought on impulse, never offered
    visit_rate: float = 0.7  # mean visits per shopper and week
    basket_mean: float = 2.5


def sim_rules(
    *,
    discount: bool = True,
    weight: float = 1.5,
    explore: float = 0.1,
    novelty: float = 0.1,
    version: str = "sim-1",
) -> OfferRules:
    """The rules the simulated chain runs: two campaigns without budgets, 20 % holdout, two variants
    (the second with half the ``novelty`` share)."""
    return parse_rules(
        {
            "version": version,
            "rules": {
                "excluded_categories": ["snack"],
                "nearby_gondolas": 10,
                "max_offers_per_shopper": 3,
                "shopper_window_s": 900,
                "min_gap_s": 20,
                "same_offer_gap_s": 300,
                "novelty_acceptance": 0.05,
            },
            "campaigns": [
                {"campaign_id": "light-up", "name": "Light up winter", "categories": ["light"],
                 "weight": weight, "discount_pct": 10 if discount else 0},
                {"campaign_id": "tea-time", "name": "Tea time", "categories": ["tea"],
                 "weight": 2.0, "discount_pct": 15 if discount else 0},
            ],
            "experiment": {
                "experiment_id": "sim-exp", "salt": "sim", "holdout_share": 0.2,
                "variants": [
                    {"name": "ev", "share": 0.5, "ranking": "expected-value", "novelty_share": novelty,
                     "explore_share": explore, "explore_top": 5},
                    {"name": "relevance", "share": 0.5, "ranking": "relevance", "novelty_share": novelty / 2,
                     "explore_share": explore, "explore_top": 5},
                ],
            },
        },
        "<simulator>",
    )  # fmt: skip


@dataclass
class _Rows:
    cols: dict[str, list[object]] = field(default_factory=dict)

    def add(self, **values: object) -> None:
        for k, v in values.items():
            self.cols.setdefault(k, []).append(v)

    def table(self, schema: pa.Schema | None = None) -> pa.Table:
        if schema is not None:
            return pa.table(
                {f.name: pa.array(self.cols.get(f.name, []), f.type) for f in schema}, schema=schema
            )
        return pa.table(self.cols)


@dataclass(frozen=True, slots=True)
class ChainRun:
    exposures: pa.Table  # EXPOSURE_SCHEMA plus store_id
    picks: pa.Table  # PICK_SCHEMA plus store_id
    decisions: pa.Table  # DECISION_SCHEMA plus store_id
    effects: pa.Table  # per shown offer: t, shopper, campaign, variant, spend, margin, product, p1, p0, later
    true_value: dict[str, tuple[float, float]]  # event_id -> expected (conversion, margin) under these rules
    catalogues: dict[str, Catalogue]
    rules: OfferRules
    as_of: float


class _World:
    """Shoppers, stores and products of one seed (independent of the rules)."""

    def __init__(self, config: ChainConfig, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.config = config
        n_all = config.products + config.impulse_items
        self.products: list[Product] = []
        for j in range(n_all):
            snack = j >= config.products
            category = "snack" if snack else CATEGORIES[j % len(CATEGORIES)]
            price = float(np.round(rng.uniform(1.0, 4.0) if snack else rng.uniform(2.0, 15.0), 2))
            self.products.append(
                Product(f"p{j:03d}", f"Product {j}", price, float(np.round(rng.uniform(0.25, 0.5), 3)), category,
                        new=(not snack and j % 11 == 5))
            )  # fmt: skip
        self.price = np.array([p.price for p in self.products])
        self.margin = np.array([p.margin for p in self.products])
        self.catalogues: dict[str, Catalogue] = {}
        self.stocked: dict[str, np.ndarray] = {}
        for k in range(config.stores):
            store = f"store-{k + 1}"
            offer = rng.choice(config.products, size=config.offerable, replace=False)
            stocked = np.concatenate((np.sort(offer), np.arange(config.products, n_all)))
            stock: dict[str, dict[ShelfId, int]] = {p.product_id: {} for p in self.products}
            for j in stocked:
                stock[self.products[j].product_id] = {ShelfId(int(j) % 4, (int(j) // 4) % 2): 50}
            self.catalogues[store] = Catalogue({p.product_id: p for p in self.products},
                                               {k_: v for k_, v in stock.items() if v})  # fmt: skip
            self.stocked[store] = stocked
        self.taste = rng.gamma(0.6, 1.0, size=(config.shoppers, n_all))
        self.taste /= self.taste.sum(axis=1, keepdims=True)
        self.home = rng.integers(0, config.stores, size=config.shoppers)
        rate = rng.gamma(2.0, config.visit_rate / 2.0, size=config.shoppers)
        visits: list[tuple[float, int]] = []
        for week in range(-config.pre_weeks, config.weeks):
            count = rng.poisson(rate)
            for who in np.flatnonzero(count).tolist():
                for _ in range(int(count[who])):
                    visits.append((START + week * WEEK + float(rng.uniform(0, WEEK - 2 * VISIT_S)), who))
        visits.sort()
        self.visits = visits
        self.baskets: list[np.ndarray] = []
        self.draws: list[np.ndarray] = []
        for _, s in visits:
            store = f"store-{self.home[s] + 1}"
            stocked = self.stocked[store]
            w = self.taste[s, stocked] / self.taste[s, stocked].sum()
            size = min(len(stocked), 1 + int(rng.poisson(config.basket_mean - 1)))
            self.baskets.append(stocked[rng.choice(len(stocked), size=size, replace=False, p=w)])
            self.draws.append(rng.uniform(size=(size, 3)))  # take, impulse, impulse item per pick
        self.impulse_price = np.zeros(config.shoppers)
        self.impulse_margin = np.zeros(config.shoppers)
        snacks = np.arange(config.products, n_all)
        w = self.taste[:, snacks] / self.taste[:, snacks].sum(axis=1, keepdims=True)
        self.snack_cdf = np.cumsum(w, axis=1)
        self.impulse_price = w @ self.price[snacks]
        self.impulse_margin = w @ (self.price[snacks] * self.margin[snacks])
        self.snacks = snacks

    def score(self, s: int, j: int) -> float:
        return float(min(0.8, 5.0 * self.taste[s, j]))


def run_chain(
    config: ChainConfig,
    rules: OfferRules,
    response: ResponseModel,
    seed: int,
    as_of_weeks: float | None = None,
) -> ChainRun:
    world = _World(config, seed)
    engines = {store: OfferEngine(rules, cat, offer_ttl_s=30.0) for store, cat in world.catalogues.items()}
    discounts = campaign_discounts(rules)
    index = {p.product_id: j for j, p in enumerate(world.products)}
    exp, picks, dec, eff = _Rows(), _Rows(), _Rows(), _Rows()
    true_value: dict[str, tuple[float, float]] = {}
    n_event = 0
    # every pick in time order (visits overlap), as the gateways see them
    order = sorted(
        (tv + k * PICK_GAP_S, v, k)
        for v, (tv, _) in enumerate(world.visits)
        for k in range(len(world.baskets[v]))
    )
    for t, v, k in order:
        tv, s = world.visits[v]
        store = f"store-{world.home[s] + 1}"
        shopper = f"sh-{seed}-{s:05d}"
        basket = world.baskets[v]
        draws = world.draws[v]
        weeks = (tv - START) / WEEK
        p = world.products[basket[k]]
        picks.add(
            t=t,
            shopper=shopper,
            product=p.product_id,
            price=p.price,
            margin=p.price * p.margin,
            store_id=store,
        )
        held = [world.products[j].product_id for j in basket[: k + 1]]
        if True:
            if tv < START:
                continue
            n_event += 1
            event_id = f"ev-{seed}-{n_event}"
            shelf = next(iter(world.catalogues[store].stock[p.product_id]))
            event = BasketEvent(t, shelf, "pick", p.product_id, 1, 1.0, shopper, ("weight",), event_id)
            held_set = set(held)
            cands = sorted(
                (Candidate(world.products[c].product_id, world.score(s, int(c)))
                 for c in world.stocked[store][: config.offerable] if world.products[c].product_id not in held_set),
                key=lambda c: (-c.score, c.product_id),
            )  # fmt: skip
            decision = engines[store].decide(
                event, list(held), cands, DecisionContext(f"disp-{shelf}", shelf)
            )
            rec = decision.record
            dec.add(
                decision_id=rec.decision_id, t=t, store_id=store, shopper=shopper, shelf=str(shelf),
                gondola=shelf.gondola, shelf_no=shelf.shelf, event_id=event_id, product_id=p.product_id,
                basket=list(held), candidate_ids=[c.product_id for c in cands],
                candidate_scores=[c.score for c in cands], display=f"disp-{shelf}", outcome=rec.outcome,
                chosen=rec.chosen, propensity=rec.propensity, variant=rec.variant, campaign_id=rec.campaign_id,
                rules_version=rec.rules_version, segments=list(rec.segments),
            )  # fmt: skip
            if rec.outcome not in ("offered", "held-out") or rec.chosen is None:
                true_value[event_id] = (0.0, 0.0)
                continue
            later = {world.products[c].product_id for c in basket[k + 1 :]}  # the rest of the visit
            soon = {world.products[c].product_id for c in basket[k + 1 : k + 1 + int(REWARD_S // PICK_GAP_S)]}
            variant = next(
                x for x in rules.experiment.variants if x.name in (rec.variant, rec.shadow_variant)
            )  # a held-out shopper's offer was decided as their shadow variant
            probs = action_probabilities(
                rec.candidates,
                [world.catalogues[store].products[c].new for c in rec.candidates],
                variant,
                rules.rules.explore_floor,
            )
            conv = value = 0.0
            for pid, prob in probs.items():
                a = world.products[index[pid]]
                d = discounts(pid, a.category, t)
                take = response.take_treated(world.score(s, index[pid]), d is not None, weeks)
                again = pid in soon
                conv += prob * (1.0 if again else take)
                value += prob * (take * a.price * (a.margin - (d or 0.0)) + again * a.price * a.margin)
            true_value[event_id] = (conv, value)
            c = world.products[index[rec.chosen]]
            d = discounts(c.product_id, c.category, t) if rec.campaign_id else None
            disc = d or 0.0
            score = world.score(s, index[rec.chosen])
            treated = rec.outcome == "offered"
            exp.add(
                decision_id=rec.decision_id, t=t, shopper=shopper, campaign=rec.campaign_id,
                variant=rec.variant if treated else None, group="treated" if treated else "holdout",
                shadow_variant=rec.shadow_variant, product=rec.chosen, propensity=rec.propensity, discount=disc, store_id=store,
            )  # fmt: skip
            p0 = response.take_control(score)
            p1 = response.take_treated(score, rec.campaign_id is not None, weeks)
            if treated:
                if draws[k, 0] < p1:
                    picks.add(t=t + 20, shopper=shopper, product=c.product_id, price=c.price * (1 - disc),
                              margin=c.price * (c.margin - disc), store_id=store)  # fmt: skip
                imp = response.impulse_p(weeks)
                if draws[k, 1] < imp:
                    snack = world.products[
                        int(world.snacks[np.searchsorted(world.snack_cdf[s], draws[k, 2])])
                    ]
                    picks.add(t=t + 25, shopper=shopper, product=snack.product_id, price=snack.price,
                              margin=snack.price * snack.margin, store_id=store)  # fmt: skip
                o = c.product_id in later
                eff.add(
                    t=t, shopper=shopper, campaign=rec.campaign_id or "", variant=rec.variant,
                    spend=p1 * c.price * (1 - disc) - p0 * c.price + imp * world.impulse_price[s],
                    margin=p1 * c.price * (c.margin - disc) - p0 * c.price * c.margin + imp * world.impulse_margin[s],
                    product=c.product_id, p1=p1, p0=p0, later=o,
                )  # fmt: skip
            elif draws[k, 0] < p0:
                picks.add(t=t + 20, shopper=shopper, product=c.product_id, price=c.price, margin=c.price * c.margin,
                          store_id=store)  # fmt: skip
    from models.experiments.decisions_io import DECISION_SCHEMA
    from models.experiments.events_io import EXPOSURE_SCHEMA, PICK_SCHEMA

    store_field = pa.schema([pa.field("store_id", pa.string())])
    as_of = START + (as_of_weeks if as_of_weeks is not None else config.weeks) * WEEK
    return ChainRun(
        exp.table(pa.unify_schemas([EXPOSURE_SCHEMA, store_field])),
        picks.table(pa.unify_schemas([PICK_SCHEMA, store_field])),
        dec.table(pa.unify_schemas([DECISION_SCHEMA, store_field])),
        eff.table(),
        true_value,
        world.catalogues,
        rules,
        as_of,
    )


def write_run(run: ChainRun, directory: str | Path) -> Path:
    """Write the run as the central export would: exposures/, picks/, decisions/ (Parquet by day and
    store), catalogues/<store>.csv and the running rules.json."""
    from models.experiments.decisions_io import write_decisions
    from models.experiments.events_io import write_events

    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    write_events(root, run.exposures.drop_columns(["store_id"]), run.exposures.column("store_id"),
                 run.picks.drop_columns(["store_id"]), run.picks.column("store_id"))  # fmt: skip
    write_decisions(root, run.decisions)
    (root / "catalogues").mkdir(exist_ok=True)
    for store, catalogue in run.catalogues.items():
        catalogue.write(root / "catalogues" / f"{store}.csv")
    (root / "rules.json").write_text(run.rules.model_dump_json(indent=1))
    return root
