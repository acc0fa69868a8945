"""The offer model's method: statistics from baskets, and the same scoring in numpy.

The score of item ``i`` for a shopper with current basket ``b`` (``B`` known items) and a profile
(``n`` past baskets) is a mixture of three probabilities that ``i`` is in the basket:

    lam   = basket_weight * B / (B + basket_shrink)                 (0 when the basket is empty)
    conf  = n / (n + profile_shrink)                                 (0 for an unknown shopper)
    cooc  = mean over j in b of  c(j,i) / (c(j) + damping)           (co-purchase with the basket)
    mine  = (1 - history_weight) * personal(i) + history_weight * near(i)
    score = lam * cooc + (1 - lam) * (conf * mine + (1 - conf) * popularity(i))

``personal(i)`` is the shopper's time-decayed repurchase frequency (share of past baskets holding
``i``, older baskets weighted by ``decay**age``), ``near(i)`` the same co-purchase score as ``cooc``
taken over the shopper's 25 strongest past products weighted by ``personal`` (what people who buy what this
shopper buys also buy), ``popularity(i)`` the share of all baskets holding ``i``. ``c(j,i)`` counts baskets holding both, kept for the ``neighbours`` strongest ``i`` per ``j``.
Nothing here is specific to one data set: the few mixing constants are chosen at build time on the
latest part of the given training data (see ``models.offers.tuning``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from edge.offers.profile import Profile, compute_profile
from models.offers.transactions import Basket

HISTORY_ITEMS = 25  # strongest profile products whose co-purchases feed near(i)


@dataclass(frozen=True, slots=True)
class Params:
    """Constants of the method (stored in the ONNX graph and the manifest)."""

    decay: float = 0.8
    profile_shrink: float = 1.0
    basket_weight: float = 0.7
    basket_shrink: float = 1.0
    history_weight: float = 0.0
    damping: float = 5.0
    neighbours: int = 100
    min_item_baskets: int = 2
    max_pair_items: int = 100
    min_support: int = 30

    def as_dict(self) -> dict[str, float | int]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class Statistics:
    """What the build learns from baskets; index ``i`` of every array is ``items[i]``."""

    items: list[str]
    item_baskets: np.ndarray  # int64 [N]: baskets holding the item
    popularity: np.ndarray  # float32 [N]
    nbr_idx: np.ndarray  # int64 [N, K], padded with N
    nbr_count: np.ndarray  # float32 [N, K]: baskets holding both
    n_baskets: int
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {item: i for i, item in enumerate(self.items)}

    @property
    def size(self) -> int:
        return len(self.items)


Progress = Callable[[int], None]


def _noop(_: int) -> None:
    return None


def vocabulary(baskets: Sequence[Basket], min_item_baskets: int) -> tuple[list[str], np.ndarray]:
    counts: Counter[str] = Counter()
    for basket in baskets:
        counts.update(basket.items)
    kept = sorted(
        (item for item, c in counts.items() if c >= min_item_baskets), key=lambda i: (-counts[i], i)
    )
    return kept, np.array([counts[i] for i in kept], dtype=np.int64)


def _encode(baskets: Sequence[Basket], index: dict[str, int], cap: int) -> list[np.ndarray]:
    encoded = []
    for basket in baskets:
        idx = [index[i] for i in basket.items if i in index]
        if len(idx) > cap:  # very large (wholesale) baskets: a deterministic spread of their items
            idx = idx[:: -(-len(idx) // cap)][:cap]
        encoded.append(np.array(idx, dtype=np.int64))
    return encoded


def _merge(keys_all: list[np.ndarray], counts_all: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Sum the counts of equal pair keys over several (keys, counts) chunks."""
    if not keys_all:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    keys, inverse = np.unique(np.concatenate(keys_all), return_inverse=True)
    return keys, np.bincount(inverse, weights=np.concatenate(counts_all)).astype(np.float64)


def cooccurrence(
    encoded: Sequence[np.ndarray],
    n_items: int,
    k: int,
    progress: Progress = _noop,
    chunk: int = 500,
    compact_at: int = 10_000_000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-``k`` co-purchased items per item: (neighbour index [N,k], pair count [N,k], item count [N])."""
    keys_all: list[np.ndarray] = []
    counts_all: list[np.ndarray] = []
    for start in range(0, len(encoded), chunk):
        part = [e for e in encoded[start : start + chunk] if len(e)]
        progress(min(chunk, len(encoded) - start))
        if not part:
            continue
        lengths = np.array([len(e) for e in part], dtype=np.int64)
        flat = np.concatenate(part)
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        squares = lengths * lengths
        owner = np.repeat(np.arange(len(part)), squares)
        local = np.arange(int(squares.sum())) - np.repeat(np.cumsum(squares) - squares, squares)
        rows = flat[offsets[owner] + local // lengths[owner]]
        cols = flat[offsets[owner] + local % lengths[owner]]
        keys, counts = np.unique(rows * n_items + cols, return_counts=True)
        keys_all.append(keys)
        counts_all.append(counts.astype(np.float64))
        pending = sum(len(x) for x in keys_all)
        if len(keys_all) > 2 and pending > 3 * len(keys_all[0]) + compact_at:
            merged_keys, merged_counts = _merge(keys_all, counts_all)  # bounds memory on large data
            keys_all, counts_all = [merged_keys], [merged_counts]
    keys, counts = _merge(keys_all, counts_all)
    rows, cols = keys // n_items, keys % n_items
    item_count = np.zeros(n_items, dtype=np.float64)
    diagonal = rows == cols
    item_count[rows[diagonal]] = counts[diagonal]
    rows, cols, counts = rows[~diagonal], cols[~diagonal], counts[~diagonal]
    # Sort by row, then by count descending (ties: lower index = more popular first).
    order = np.lexsort((cols, -counts, rows))
    rows, cols, counts = rows[order], cols[order], counts[order]
    starts = np.searchsorted(rows, np.arange(n_items))
    rank = np.arange(len(rows)) - starts[rows]
    keep = rank < k
    nbr_idx = np.full((n_items, k), n_items, dtype=np.int64)
    nbr_count = np.zeros((n_items, k), dtype=np.float32)
    nbr_idx[rows[keep], rank[keep]] = cols[keep]
    nbr_count[rows[keep], rank[keep]] = counts[keep]
    return nbr_idx, nbr_count, item_count


def fit(baskets: Sequence[Basket], params: Params, progress: Progress = _noop) -> Statistics:
    """Learn popularity and co-purchase statistics from training baskets."""
    items, item_baskets = vocabulary(baskets, params.min_item_baskets)
    index = {item: i for i, item in enumerate(items)}
    encoded = _encode(baskets, index, params.max_pair_items)
    nbr_idx, nbr_count, _ = cooccurrence(encoded, len(items), params.neighbours, progress)
    popularity = (item_baskets / max(1, len(baskets))).astype(np.float32)
    return Statistics(items, item_baskets, popularity, nbr_idx, nbr_count, len(baskets))


Profiler = Callable[[Sequence[Sequence[str]]], Profile]


class Scorer:
    """The model's scoring in numpy (used to tune at build time; the ONNX graph computes the same).

    ``profiler`` builds a shopper's profile from their history as the central profiles job does
    (``models.offers.neighbours.TifuKnn.profile``); without it, the decayed repurchase profile."""

    def __init__(self, stats: Statistics, params: Params, profiler: Profiler | None = None) -> None:
        self.stats = stats
        self.params = params
        self.profiler = profiler
        n = stats.size
        denom = stats.item_baskets.astype(np.float64)[:, None] + params.damping
        self.nbr_w = (stats.nbr_count / denom).astype(np.float32)
        self.nbr_idx = stats.nbr_idx
        self.pop = stats.popularity.astype(np.float64)
        self.n = n

    def profile(self, history: Sequence[Sequence[str]]) -> Profile:
        if self.profiler is not None:
            return self.profiler(history)
        return compute_profile(history, self.params.decay)

    def scores(self, basket: Sequence[str], profile: Profile | None) -> np.ndarray:
        p, n = self.params, self.n
        idx = [self.stats.index[i] for i in dict.fromkeys(basket) if i in self.stats.index]
        cooc = np.zeros(n + 1, dtype=np.float64)
        if idx:
            np.add.at(cooc, self.nbr_idx[idx].ravel(), self.nbr_w[idx].ravel())
            cooc /= len(idx)
        lam = p.basket_weight * len(idx) / (len(idx) + p.basket_shrink)
        personal = np.zeros(n + 1, dtype=np.float64)
        near = np.zeros(n + 1, dtype=np.float64)
        conf = 0.0
        if profile is not None and profile.n_baskets > 0:
            conf = profile.n_baskets / (profile.n_baskets + p.profile_shrink)
            pairs = [
                (self.stats.index[i], w)
                for i, w in zip(profile.items, profile.weights, strict=True)
                if i in self.stats.index
            ]
            pairs.sort(key=lambda iw: -iw[1])
            if pairs:
                rows = np.array([j for j, _ in pairs], dtype=np.int64)
                weights = np.array([w for _, w in pairs], dtype=np.float64)
                np.add.at(personal, rows, weights)
                if p.history_weight > 0:
                    top, w_top = rows[:HISTORY_ITEMS], weights[:HISTORY_ITEMS]
                    np.add.at(near, self.nbr_idx[top].ravel(), (self.nbr_w[top] * w_top[:, None]).ravel())
                    near /= w_top.sum() + 1e-9
        mine = (1 - p.history_weight) * personal[:n] + p.history_weight * near[:n]
        score = lam * cooc[:n] + (1 - lam) * (conf * mine + (1 - conf) * self.pop)
        score[idx] = -1e9
        return score

    def rank(self, basket: Sequence[str], profile: Profile | None, k: int = 10) -> list[str]:
        score = self.scores(basket, profile)
        k = min(k, self.n)
        top = np.argpartition(-score, k - 1)[:k]
        top = top[np.lexsort((top, -score[top]))]
        return [self.stats.items[i] for i in top if score[i] > -1e8]
