"""Customer vectors after TIFU-KNN (Hu et al., SIGIR 2020), written once for two users.

A customer is the time-decayed average of their basket vectors, in groups of ``group_size`` baskets
(decay ``within_decay`` inside a group, ``group_decay`` across groups); the prediction blends it
with the mean vector of the ``neighbours`` nearest training customers (Euclidean distance, as in the
authors' code): ``alpha * own + (1 - alpha) * neighbours``.

* ``models.offers.nbr_baselines`` ranks by this prediction: the TIFU-KNN baseline.
* The offer model's shopper profiles are this prediction's strongest products
  (:meth:`TifuKnn.profile`; re-ranked where the build kept a re-ranker, ``models.offers.rerank``),
  built centrally where every customer's history is at hand; the gateway receives only the profile.

Pure numpy/scipy, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from edge.offers.profile import MAX_PROFILE_ITEMS, Profile
from models.offers.evaluation import histories
from models.offers.repeat import RepeatModule, repeat_rates
from models.offers.rerank import ItemFacts, Reranker, candidate_features, trend
from models.offers.transactions import Basket


class Vocabulary:
    """Training products by basket count (most bought first, ties by id) and their popularity."""

    def __init__(self, train: Sequence[Basket]) -> None:
        counts: dict[str, int] = {}
        for basket in train:
            for item in basket.items:
                counts[item] = counts.get(item, 0) + 1
        self.items = sorted(counts, key=lambda i: (-counts[i], i))
        self.index = {item: i for i, item in enumerate(self.items)}
        self.popularity = np.array([counts[i] for i in self.items], dtype=np.float64) / max(1, len(train))

    def encode(self, basket: Sequence[str]) -> np.ndarray:
        return np.fromiter((self.index[i] for i in dict.fromkeys(basket) if i in self.index), dtype=np.int64)


@dataclass(frozen=True, slots=True)
class TifuParams:
    """TIFU-KNN's constants; the defaults are the authors' for Dunnhumby."""

    group_size: int = 7
    within_decay: float = 0.9
    group_decay: float = 0.7
    neighbours: int = 300
    alpha: float = 0.7
    # Not TIFU-KNN's, for the offer model's profiles only (0 = plain TIFU-KNN, as the baseline):
    # each product weighed by its repeatability to this power, and the customer's own share
    # ``alpha * n / (n + alpha_shrink)`` after n baskets (few baskets: lean on the neighbours).
    repeat_power: float = 0.0
    alpha_shrink: float = 0.0
    # and blended with the repeat module's probability that each past product is bought again
    # (``models.offers.repeat``): ``(1 - repeat_weight) * prediction + repeat_weight * repeat``.
    repeat_weight: float = 0.0
    # and the prediction's strongest products re-ranked by a logistic model fitted at build time
    # (``models.offers.rerank``; None: ranked by the prediction itself)
    reranker: Reranker | None = None

    def as_dict(self) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in self.__slots__}
        values["reranker"] = self.reranker.as_dict() if self.reranker else None
        return values

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TifuParams:
        """From :meth:`as_dict` (a manifest's ``profiles`` block without its ``method``)."""
        values = dict(data)
        block = values.pop("reranker", None)
        return cls(**values, reranker=Reranker.from_dict(block) if block is not None else None)


def tifu_weights(n_baskets: int, p: TifuParams) -> np.ndarray:
    """Weight of each past basket (oldest first) in the customer's vector.

    Groups of ``group_size`` are cut from the most recent basket back (the oldest group may be
    short); basket ``j`` of an ``n_g``-basket group weighs ``within_decay**(n_g-1-j) / n_g`` and the
    group ``g`` of ``K`` weighs ``group_decay**(K-1-g) / K``.
    """
    if n_baskets == 0:
        return np.zeros(0)
    age = np.arange(n_baskets)[::-1]  # 0 for the most recent basket
    group_age, pos_from_end = age // p.group_size, age % p.group_size
    n_groups = int(group_age.max()) + 1
    sizes = np.full(n_groups, p.group_size)
    sizes[-1] = n_baskets - p.group_size * (n_groups - 1)
    within = p.within_decay**pos_from_end / sizes[group_age]
    across = p.group_decay**group_age / n_groups
    result: np.ndarray = within * across
    return result


@dataclass(frozen=True, slots=True)
class Prediction:
    """A customer's prediction in parts: ``alpha * own + (1 - alpha) * near``."""

    own: np.ndarray
    near: np.ndarray
    alpha: float


class TifuKnn:
    """The training customers' vectors, and the blended prediction for any history."""

    def __init__(self, train: Sequence[Basket], params: TifuParams = TifuParams()) -> None:
        self.vocab = Vocabulary(train)
        self.params = params
        self._histories = [self._encode_history(h) for h in histories(train).values()]
        self.repeatability = repeat_rates(self._histories, len(self.vocab.items))
        times = np.fromiter((b.t for b in train), dtype=np.float64, count=len(train))
        self.facts = ItemFacts(
            self.repeatability,
            self.vocab.popularity,
            trend(times, [self.vocab.encode(b.items) for b in train], len(self.vocab.items)),
        )
        self._repeat: RepeatModule | None = None
        self._build_matrix()

    def _encode_history(self, history: Sequence[Sequence[str]]) -> list[np.ndarray]:
        return [e for e in (self.vocab.encode(b) for b in history) if len(e)]

    def _build_matrix(self) -> None:
        rows, cols, vals = [], [], []
        for r, baskets in enumerate(self._histories):
            w = tifu_weights(len(baskets), self.params)
            for basket, weight in zip(baskets, w, strict=True):
                rows.append(np.full(len(basket), r))
                cols.append(basket)
                vals.append(np.full(len(basket), weight))
        shape = (len(self._histories), len(self.vocab.items))
        if rows:
            coords = (np.concatenate(rows), np.concatenate(cols))
            matrix = sparse.coo_matrix((np.concatenate(vals), coords), shape=shape).tocsr()
        else:
            matrix = sparse.csr_matrix(shape)
        self.users = matrix
        self.users_t = matrix.T.tocsr()
        self.norms2 = np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel()

    def with_params(self, params: TifuParams) -> TifuKnn:
        """The same customers under other constants (the matrix is reused when only the neighbour
        count or the blend changes)."""
        clone = object.__new__(TifuKnn)
        clone.vocab, clone.params, clone._histories = self.vocab, params, self._histories
        clone.repeatability, clone.facts = self.repeatability, self.facts
        clone._repeat = self.repeat if params.repeat_weight else self._repeat  # learnt once, shared
        same = (params.group_size, params.within_decay, params.group_decay) == (
            self.params.group_size,
            self.params.within_decay,
            self.params.group_decay,
        )
        if same:
            clone.users, clone.users_t, clone.norms2 = self.users, self.users_t, self.norms2
        else:
            clone._build_matrix()
        return clone

    @property
    def repeat(self) -> RepeatModule:
        """The repeat module over the same customers (learnt on first use)."""
        if self._repeat is None:
            self._repeat = RepeatModule(self._histories, len(self.vocab.items))
        return self._repeat

    def vector(self, history: Sequence[Sequence[str]]) -> np.ndarray:
        return self._own(history)[0]

    def _own(self, history: Sequence[Sequence[str]]) -> tuple[np.ndarray, int]:
        """The customer's own vector and the number of baskets with a known product behind it."""
        baskets = self._encode_history(history)
        u = np.zeros(len(self.vocab.items))
        for basket, weight in zip(baskets, tifu_weights(len(baskets), self.params), strict=True):
            u[basket] += weight
        return u, len(baskets)

    def predict(self, history: Sequence[Sequence[str]]) -> np.ndarray:
        """``alpha * own + (1 - alpha) * mean of the nearest customers`` (zeros without history)."""
        return self.combine(self.predict_parts(history))

    def predict_parts(self, history: Sequence[Sequence[str]]) -> Prediction:
        """The prediction's parts: the customer's own vector, the mean vector of the nearest
        customers, and the own part's share. The customer's own training vector (distance 0) is not
        counted as a neighbour."""
        p = self.params
        u, n = self._own(history)
        near = np.zeros(len(u))
        if not u.any():
            return Prediction(u, near, 1.0)
        alpha = p.alpha * n / (n + p.alpha_shrink)
        dist2 = self.norms2 + float(np.square(u).sum()) - 2.0 * (self.users @ u)  # no BLAS for one dot
        dist2[dist2 <= 1e-12] = np.inf
        k = min(p.neighbours, int(np.isfinite(dist2).sum()))
        if k > 0:
            nearest = np.argpartition(dist2, k - 1)[:k]
            share = np.zeros(len(dist2))
            share[nearest] = 1.0 / k
            near = self.users_t @ share  # the neighbours' mean, in one sparse product
        return Prediction(u, near, alpha)

    @staticmethod
    def combine(parts: Prediction) -> np.ndarray:
        result: np.ndarray = parts.alpha * parts.own + (1.0 - parts.alpha) * parts.near
        return result

    def profile(self, history: Sequence[Sequence[str]], max_items: int = MAX_PROFILE_ITEMS) -> Profile:
        """The prediction's strongest products as the gateway's profile (weights in [0, 1]),
        each weighed by its repeatability ** ``repeat_power`` and blended with the repeat module's
        probability by ``repeat_weight``; with a re-ranker, its ``candidates`` strongest ordered and
        weighed by the re-ranker's probability instead."""
        return self.profile_from(self.predict_parts(history), history, max_items)

    def profile_from(
        self, parts: Prediction, history: Sequence[Sequence[str]], max_items: int = MAX_PROFILE_ITEMS
    ) -> Profile:
        """:meth:`profile` from already computed :meth:`predict_parts` (they do not depend on
        ``repeat_power``, ``repeat_weight`` or the re-ranker: tuning those reuses them)."""
        p = self.params
        encoded = self._encode_history(history) if p.repeat_weight or p.reranker else []
        pred = self._adjusted(parts, encoded)
        n = sum(1 for b in history if b)
        positive = np.flatnonzero(pred > 0)
        if n == 0 or len(positive) == 0:
            return Profile((), (), n)
        if p.reranker is not None:
            cand, features = self.candidates(pred, parts, encoded, p.reranker.candidates)
            weight = np.zeros(len(pred))
            weight[cand] = p.reranker.probability(features)
            pred, positive = weight, cand
        top = positive[np.lexsort((positive, -pred[positive]))][:max_items]
        items = tuple(self.vocab.items[i] for i in top)
        return Profile(items, tuple(float(min(1.0, pred[i])) for i in top), n)

    def _adjusted(self, parts: Prediction, encoded: Sequence[np.ndarray]) -> np.ndarray:
        """The prediction weighed by repeatability and blended with the repeat module."""
        p = self.params
        pred = self.combine(parts)
        if p.repeat_power:
            pred = pred * self.repeatability**p.repeat_power
        if p.repeat_weight:
            held, probability, _ = self.repeat.probability(encoded)
            pred = (1.0 - p.repeat_weight) * pred
            pred[held] += p.repeat_weight * probability
        return pred

    def rerank_rows(
        self, parts: Prediction, history: Sequence[Sequence[str]], candidates: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The re-ranker's candidates and feature rows for one history, as :meth:`profile_from`
        computes them (what the re-ranker is fitted on at build time)."""
        encoded = self._encode_history(history)
        return self.candidates(self._adjusted(parts, encoded), parts, encoded, candidates)

    def candidates(
        self, pred: np.ndarray, parts: Prediction, encoded: Sequence[np.ndarray], candidates: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The re-ranker's candidates among the products with a positive prediction, and their
        feature rows (``models.offers.rerank.candidate_features``)."""
        return candidate_features(pred, parts.own, parts.near, encoded, self.facts, candidates)
