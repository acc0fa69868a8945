"""The repeat module (after ReCANet, Ariannezhad et al., SIGIR 2022): how likely a customer is to buy
a product of their history again, written once for the repeat-explore baseline and the offer model's
profiles.

From the training customers (their last ``TARGETS_PER_CUSTOMER`` baskets, each from the baskets
before it) it learns the share of past products bought again by how often the customer bought
the product (share of their baskets, binned by ``FREQ_EDGES``) and how recently (baskets since,
binned by ``RECENCY_EDGES``); a product's probability is that share times the product's
repeatability (share of its buyers who bought it twice or more, relative to the average product).

Pure numpy, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FREQ_EDGES = np.array([0.05, 0.1, 0.2, 0.35, 0.5, 0.75])  # share of past baskets with the item
RECENCY_EDGES = np.array([1, 2, 3, 5, 9, 17])  # baskets since it was last bought
TARGETS_PER_CUSTOMER = 3
ITEM_PRIOR = 5.0  # pseudo-buyers shrinking a product's repeat rate to the mean


def repeat_rates(hist: Sequence[Sequence[np.ndarray]], n: int, prior: float = ITEM_PRIOR) -> np.ndarray:
    """How repeatable each product is, relative to the average product: the share of its buyers who
    bought it in two baskets or more, shrunk towards the mean by ``prior`` pseudo-buyers."""
    buyers = np.zeros(n)
    repeaters = np.zeros(n)
    for baskets in hist:
        if baskets:
            counts = np.bincount(np.concatenate(baskets), minlength=n)
            buyers += counts > 0
            repeaters += counts > 1
    mean_rate = repeaters.sum() / max(1.0, buyers.sum())
    rates: np.ndarray = (repeaters + prior * mean_rate) / (buyers + prior) / max(mean_rate, 1e-9)
    return rates


def history_features(baskets: Sequence[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The customer's products (item indices), and for each its frequency and recency bin."""
    last = np.full(n, -1)
    counts = np.zeros(n)
    for t, basket in enumerate(baskets):
        counts[basket] += 1
        last[basket] = t
    items = np.flatnonzero(counts)
    freq = np.searchsorted(FREQ_EDGES, counts[items] / len(baskets), side="right")
    recency = np.searchsorted(RECENCY_EDGES, len(baskets) - last[items], side="right")
    return items, freq, recency


class RepeatModule:
    """The repeat table (frequency bin x recency bin) and each product's repeatability."""

    def __init__(self, hist: Sequence[Sequence[np.ndarray]], n: int, item_prior: float = ITEM_PRIOR) -> None:
        self.n = n
        self.item_rate = repeat_rates(hist, n, item_prior)
        shape = (len(FREQ_EDGES) + 1, len(RECENCY_EDGES) + 1)
        hits, seen = np.zeros(shape), np.zeros(shape)
        for baskets in hist:
            for cut in range(max(1, len(baskets) - TARGETS_PER_CUSTOMER), len(baskets)):
                items, freq, recency = history_features(baskets[:cut], n)
                bought = np.isin(items, baskets[cut])
                np.add.at(seen, (freq, recency), 1.0)
                np.add.at(hits, (freq, recency), bought.astype(np.float64))
        overall = hits.sum() / max(1.0, seen.sum())
        self.table: np.ndarray = (hits + 2.0 * overall) / (seen + 2.0)  # shrunk towards the overall rate

    def probability(self, baskets: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For a history of encoded baskets (oldest first): its products, the probability that each
        is bought again (at most 1), and the table's share for each (without repeatability)."""
        if not baskets:
            empty = np.zeros(0)
            return empty.astype(np.int64), empty, empty
        items, freq, recency = history_features(baskets, self.n)
        share = self.table[freq, recency]
        return items, np.minimum(1.0, share * self.item_rate[items]), share
