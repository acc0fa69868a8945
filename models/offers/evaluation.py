"""Offline evaluation: time-based split, the two tasks, the metrics and the baselines.

Tasks (all targets restricted to products seen in the training period, since no method can
recommend a product it has never seen; the same queries go to every ranker):

* basket completion: in each test basket with >= 2 known products, a deterministic random half
  (at least one) is hidden; the ranker gets the visible rest and the shopper's training history
  (none for guests) and must find the hidden products;
* next basket: for each customer with history in the training period and a basket in the test
  period, the ranker gets the history and an empty basket and must find the products of the
  customer's first test basket.

Metrics at ``k``: Recall (hits / targets), NDCG (binary gains), HR (any hit).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from models.offers.transactions import Basket

Ranker = Callable[[Sequence[str], Sequence[Sequence[str]], int], list[str]]


@dataclass(frozen=True, slots=True)
class Query:
    basket: tuple[str, ...]
    history: tuple[tuple[str, ...], ...]
    targets: frozenset[str]


@dataclass(frozen=True, slots=True)
class Scores:
    recall: float
    ndcg: float
    hr: float
    queries: int


def split_by_time(baskets: Sequence[Basket], test_share: float) -> tuple[list[Basket], list[Basket]]:
    """Earliest ``1 - test_share`` of the time span for training, the rest for testing."""
    ordered = sorted(baskets, key=lambda b: (b.t, b.basket_id))
    start, end = ordered[0].t, ordered[-1].t
    cutoff = end - (end - start) * test_share
    return [b for b in ordered if b.t < cutoff], [b for b in ordered if b.t >= cutoff]


def histories(train: Sequence[Basket]) -> dict[str, list[tuple[str, ...]]]:
    result: dict[str, list[tuple[str, ...]]] = {}
    for basket in train:
        if basket.customer_id:
            result.setdefault(basket.customer_id, []).append(basket.items)
    return result


def _rng(key: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))


def completion_queries(
    train: Sequence[Basket], test: Sequence[Basket], limit: int | None = None
) -> list[Query]:
    known = {i for b in train for i in b.items}
    hist = histories(train)
    queries = []
    for basket in test:
        items = [i for i in basket.items if i in known]
        if len(items) < 2:
            continue
        _rng(basket.basket_id).shuffle(items)
        hidden = max(1, len(items) // 2)
        history = tuple(hist.get(basket.customer_id or "", ()))
        queries.append(Query(tuple(items[hidden:]), history, frozenset(items[:hidden])))
    if limit is not None and len(queries) > limit:
        queries = _rng("completion-sample").sample(queries, limit)
    return queries


def next_basket_queries(
    train: Sequence[Basket], test: Sequence[Basket], limit: int | None = None
) -> list[Query]:
    known = {i for b in train for i in b.items}
    hist = histories(train)
    seen: set[str] = set()
    queries = []
    for basket in test:
        customer = basket.customer_id
        if not customer or customer in seen or customer not in hist:
            continue
        seen.add(customer)
        targets = frozenset(i for i in basket.items if i in known)
        if targets:
            queries.append(Query((), tuple(hist[customer]), targets))
    if limit is not None and len(queries) > limit:
        queries = _rng("next-basket-sample").sample(queries, limit)
    return queries


def query_scores(
    ranker: Ranker, queries: Sequence[Query], k: int = 10, tick: Callable[[], None] | None = None
) -> np.ndarray:
    """Per query: Recall, NDCG and HR at ``k`` (float64 [len(queries), 3])."""
    result = np.zeros((len(queries), 3))
    for row, q in enumerate(queries):
        if tick is not None:
            tick()
        ranked = ranker(q.basket, q.history, k)[:k]
        hits = [1.0 if item in q.targets else 0.0 for item in ranked]
        ideal = sum(1.0 / math.log2(r + 2) for r in range(min(k, len(q.targets))))
        result[row, 0] = sum(hits) / len(q.targets)
        result[row, 1] = sum(h / math.log2(r + 2) for r, h in enumerate(hits)) / ideal
        result[row, 2] = 1.0 if any(hits) else 0.0
    return result


def score(
    ranker: Ranker, queries: Sequence[Query], k: int = 10, tick: Callable[[], None] | None = None
) -> Scores:
    per_query = query_scores(ranker, queries, k, tick)
    recall, ndcg, hr = per_query.mean(axis=0) if len(queries) else (0.0, 0.0, 0.0)
    return Scores(float(recall), float(ndcg), float(hr), len(queries))


# ---------------------------------------------------------------------- baselines


def _fill(ranked: list[str], popular: Sequence[str], exclude: set[str], k: int) -> list[str]:
    taken = set(ranked) | exclude
    for item in popular:
        if len(ranked) >= k:
            break
        if item not in taken:
            ranked.append(item)
            taken.add(item)
    return ranked


class Baselines:
    """Popularity, personal top frequency and co-occurrence, from the same training baskets."""

    def __init__(self, train: Sequence[Basket]) -> None:
        counts: Counter[str] = Counter()
        self.pairs: dict[str, Counter[str]] = {}
        for basket in train:
            counts.update(basket.items)
        self.popular = [i for i, _ in counts.most_common()]
        for basket in train:
            items = (
                basket.items if len(basket.items) <= 100 else basket.items[:: -(-len(basket.items) // 100)]
            )
            for a in items:
                row = self.pairs.setdefault(a, Counter())
                row.update(items)
        for item, row in self.pairs.items():
            del row[item]

    def popularity(self, basket: Sequence[str], history: Sequence[Sequence[str]], k: int) -> list[str]:
        return _fill([], self.popular, set(basket), k)

    def personal_top(self, basket: Sequence[str], history: Sequence[Sequence[str]], k: int) -> list[str]:
        """The shopper's most frequent products (ties: most recent first), then popularity."""
        freq: Counter[str] = Counter()
        last: dict[str, int] = {}
        for t, past in enumerate(history):
            freq.update(past)
            for item in past:
                last[item] = t
        held = set(basket)
        mine = sorted((i for i in freq if i not in held), key=lambda i: (-freq[i], -last[i], i))[:k]
        return _fill(mine, self.popular, held, k)

    def cooccurrence(self, basket: Sequence[str], history: Sequence[Sequence[str]], k: int) -> list[str]:
        """Summed co-occurrence counts with the basket (the last past basket when it is empty)."""
        context = list(basket) or (list(history[-1]) if history else [])
        total: Counter[str] = Counter()
        for item in context:
            total.update(self.pairs.get(item, Counter()))
        held = set(basket)
        ranked = [i for i, _ in total.most_common() if i not in held][:k]
        return _fill(ranked, self.popular, held, k)
