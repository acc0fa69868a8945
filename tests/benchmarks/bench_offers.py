"""Offer decisions per second and latency, one full decision (model + rules) on one core.

Model: built on all of Online Retail (no tuning, so the bench stays fast). Decisions: real test
baskets replayed as pick events of 2,000 shoppers with real profiles, a demo-sized store (48
stocked products, a campaign, holdout + two variants, one with a 10 % up-sell arm). Baseline: the bare onnxruntime call with
the same inputs, measured in the same run. On a shared machine the wall-clock figures include time
other processes took from the core; ``decisions_per_cpu_s`` (process CPU time) and the 1-minute load
average are reported beside them so the two can be told apart.
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from edge.events import BasketEvent, ShelfId
from edge.offers.catalogue import Catalogue, Product
from edge.offers.decision import DecisionContext, OfferEngine
from edge.offers.model import OfferModel
from edge.offers.rules import parse_rules
from models.offers.build import build_from_baskets
from models.offers.evaluation import histories, split_by_time
from models.offers.transactions import Basket, online_retail_rows

ONLINE_RETAIL = Path(__file__).resolve().parents[3] / "shared" / "data" / "online_retail.csv.gz"
DECISIONS = 20000


def _baskets() -> list[Basket]:
    from models.offers.transactions import parse_timestamp

    lines: dict[str, list[str]] = {}
    meta: dict[str, tuple[str | None, float]] = {}
    for invoice, customer, code, stamp, _, _ in online_retail_rows(ONLINE_RETAIL):
        items = lines.setdefault(invoice, [])
        if code not in items:
            items.append(code)
        meta.setdefault(invoice, (customer or None, parse_timestamp(stamp)))
    result = [Basket(b, meta[b][0], meta[b][1], tuple(items), 0.0) for b, items in lines.items()]
    result.sort(key=lambda b: (b.t, b.basket_id))
    return result


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def setup() -> tuple[Any, ...]:
    """Model, engine, decisions to replay, rules and decision context."""
    baskets = _baskets()
    train, test = split_by_time(baskets, 0.1)
    out = Path(tempfile.mkdtemp(prefix="bench-offers-"))
    build_from_baskets(train, out, tune=False)
    model = OfferModel.load(out)
    hist = histories(train)
    rng = random.Random(7)
    shelf = ShelfId(1, 0)
    products = {}
    for i, pid in enumerate(model.items[:400]):
        products[pid] = Product(
            pid, f"Product {pid}", 1.0 + i % 17, 0.2 + (i % 7) / 20, f"cat{i % 12}", i % 40 == 0
        )
    catalogue = Catalogue(products)
    for pid in rng.sample(list(products), 48):
        catalogue.set_stock(pid, ShelfId(rng.randint(0, 3), rng.randint(0, 3)), 10)
    rules = parse_rules(
        {
            "rules": {
                "excluded_categories": ["cat3"],
                "max_offers_per_shopper": 50,
                "min_gap_s": 0,
                "same_offer_gap_s": 60,
                "candidates": 100,
            },
            "campaigns": [
                {
                    "campaign_id": "c1",
                    "name": "Campaign",
                    "categories": ["cat1", "cat2"],
                    "weight": 2.0,
                    "discount_pct": 10,
                    "budget_offers": 100000,
                }
            ],
            "experiment": {
                "holdout_share": 0.05,
                "variants": [
                    {"name": "ev", "share": 0.5},
                    {"name": "rel", "share": 0.5, "ranking": "relevance", "upsell_share": 0.1},
                ],
            },
        }
    )
    engine = OfferEngine(rules, catalogue)
    customers = [c for c in hist if len(hist[c]) >= 1][:2000]
    profiles = {c: model.profile(hist[c]) for c in customers}
    work = []
    for i in range(DECISIONS):
        basket = list(test[i % len(test)].items[: rng.randint(1, 12)])
        shopper = customers[i % len(customers)]
        event = BasketEvent(
            t=1.0e9 + i * 0.05,
            shelf=shelf,
            kind="pick",
            product_id=basket[-1],
            quantity=1,
            confidence=0.9,
            shopper=shopper,
            event_id=f"e{i}",
        )
        work.append((event, basket, profiles[shopper]))
    context = DecisionContext(display="d-1", shelf=shelf)
    return model, engine, work, rules, context


def main() -> list[dict[str, Any]]:
    model, engine, work, rules, context = setup()
    gc.collect()
    gc.freeze()  # as a daemon would after start-up: long-lived objects leave the collector's scans
    # baseline: the bare onnxruntime call with the same inputs (prepared beforehand) and the same
    # run options
    feeds = []
    allowed = model.allowed(engine.offerable(context.shelf))
    for _, basket, profile in work[:5000]:
        idx = [model.index[p] for p in basket if p in model.index] + [len(model.items)]
        pairs = [
            (model.index[p], w)
            for p, w in zip(profile.items, profile.weights, strict=True)
            if p in model.index
        ]
        feeds.append(
            {
                "basket": np.array(idx, dtype=np.int64),
                "profile_items": np.array([i for i, _ in pairs] + [len(model.items)], dtype=np.int64),
                "profile_weights": np.array([w for _, w in pairs] + [0.0], dtype=np.float32),
                "profile_baskets": np.array([profile.n_baskets], dtype=np.float32),
                "allowed": allowed,
                "k": np.array([min(rules.rules.candidates, len(allowed))], dtype=np.int64),
            }
        )
    bare = []
    for feed in feeds:
        start = time.perf_counter_ns()
        model.session.run(None, feed, model.run_options)
        bare.append((time.perf_counter_ns() - start) / 1e6)

    latencies = []
    offered = 0
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    for event, basket, profile in work:
        start = time.perf_counter_ns()
        candidates = model.candidates(
            basket, profile, k=rules.rules.candidates, within=engine.offerable(context.shelf)
        )
        decision = engine.decide(event, basket, candidates, context)
        latencies.append((time.perf_counter_ns() - start) / 1e6)
        offered += decision.offer is not None
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    bare_cpu0 = time.process_time()
    for feed in feeds:
        model.session.run(None, feed, model.run_options)
    bare_cpu = (time.process_time() - bare_cpu0) / len(feeds)
    bare_p50, bare_p99 = statistics.median(bare), _percentile(bare, 0.99)
    return [
        {
            "bench": "offers.decisions_per_s",
            "value": round(DECISIONS / elapsed, 1),
            "unit": "decisions/s",
            "baseline": round(1000.0 / statistics.mean(bare), 1),
            "offered": offered,
            "items": len(model.items),
            "decisions_per_cpu_s": round(len(work) / cpu, 1),
            "bare_calls_per_cpu_s": round(1.0 / bare_cpu, 1),
            "load_average_1min": round(os.getloadavg()[0], 2),
        },
        {
            "bench": "offers.decision_p50_ms",
            "value": round(statistics.median(latencies), 4),
            "unit": "ms",
            "baseline": round(bare_p50, 4),
        },
        {
            "bench": "offers.decision_p99_ms",
            "value": round(_percentile(latencies, 0.99), 4),
            "unit": "ms",
            "baseline": round(bare_p99, 4),
        },
    ]


if __name__ == "__main__":
    for row in main():
        print(row)
