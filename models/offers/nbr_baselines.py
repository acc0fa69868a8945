"""The strong published next-basket baselines, computed in the same run as the model.

* **TIFU-KNN** (Hu et al., SIGIR 2020): a customer is the time-decayed average of their basket
  vectors, in groups of ``group_size`` baskets (decay ``within_decay`` inside a group,
  ``group_decay`` across groups); the prediction is ``alpha * own + (1 - alpha) * mean of the
  neighbours``' vectors, the ``neighbours`` nearest training customers by Euclidean distance (as in
  the authors' code).
* **Repeat-explore** (after ReCANet, Ariannezhad et al., SIGIR 2022, and TREx, Li et al. 2023):
  a *repeat* module gives each product of the customer's history the probability that it is bought
  again, learned from the training customers by how often and how recently they bought it and how
  repeatable the product is; an *explore* module ranks products new to the customer by co-purchase
  with their history and basket. Repeat products above a threshold come first, then explore ones.

Both choose their constants on the latest part of the training period, as the model does
(``models.offers.tuning.VALIDATION_SHARE``), so the comparison is fair. Pure numpy/scipy, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from models.offers.evaluation import Query, Ranker, histories, next_basket_queries, score, split_by_time
from models.offers.method import Params, fit
from models.offers.neighbours import TifuKnn, TifuParams, Vocabulary
from models.offers.repeat import ITEM_PRIOR, RepeatModule
from models.offers.transactions import Basket

VALIDATION_SHARE = 0.15
TUNING_QUERIES = 800
MIN_QUERIES = 50


def _top(scores: np.ndarray, k: int, items: Sequence[str]) -> list[str]:
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    top = top[np.lexsort((top, -scores[top]))]
    return [items[i] for i in top if scores[i] > -1e8]


# ---------------------------------------------------------------------- TIFU-KNN


class TifuKnnRanker:
    """TIFU-KNN's ranking: the prediction, popularity for ties and for customers without history."""

    def __init__(self, knn: TifuKnn) -> None:
        self.knn = knn

    def rank(self, basket: Sequence[str], history: Sequence[Sequence[str]], k: int) -> list[str]:
        vocab = self.knn.vocab
        scores = self.knn.predict(history) + 1e-9 * vocab.popularity
        scores[vocab.encode(basket)] = -1e9
        return _top(scores, k, vocab.items)


TIFU_GRIDS: tuple[tuple[str, tuple[float, ...]], ...] = (
    ("alpha", (0.5, 0.7, 0.9, 1.0)),
    ("neighbours", (50, 300, 900)),
    ("group_decay", (0.5, 0.7, 0.9, 1.0)),
    ("within_decay", (0.8, 0.9, 1.0)),
    ("group_size", (3, 7, 14)),
)


def coordinate_search(
    start: TifuParams,
    grids: Sequence[tuple[str, Sequence[float]]],
    objective: Callable[[TifuParams], float],
    passes: int = 1,
) -> TifuParams:
    """``passes`` passes over ``grids``, keeping for each constant the value with the best
    ``objective`` (ties: the earlier value)."""
    best = start
    for name, values in list(grids) * passes:
        trials: list[tuple[float, int, TifuParams]] = []
        for value in values:
            candidate = replace(best, **{name: type(getattr(best, name))(value)})
            trials.append((objective(candidate), -len(trials), candidate))
        best = max(trials, key=lambda t: t[:2])[2]
    return best


def tune_tifu(train: Sequence[Basket]) -> TifuParams:
    """TIFU-KNN's constants chosen on the latest part of ``train``: coordinate search from the
    authors' defaults, Recall@10 on next-basket queries (the defaults with too few queries)."""
    fit_part, valid = split_by_time(train, VALIDATION_SHARE)
    queries = next_basket_queries(fit_part, valid, TUNING_QUERIES)
    if len(queries) < MIN_QUERIES:
        return TifuParams()
    knn = TifuKnn(fit_part, TifuParams())
    return coordinate_search(
        TifuParams(), TIFU_GRIDS, lambda p: _recall(TifuKnnRanker(knn.with_params(p)).rank, queries)
    )


def tifu_knn_baseline(train: Sequence[Basket]) -> tuple[Ranker, TifuParams]:
    """The TIFU-KNN baseline: constants tuned on ``train``'s latest part, fitted on all of it."""
    params = tune_tifu(train)
    return TifuKnnRanker(TifuKnn(train, params)).rank, params


def _recall(rank: Ranker, queries: Sequence[Query]) -> float:
    return score(rank, queries).recall


# ---------------------------------------------------------------------- repeat-explore


@dataclass(frozen=True, slots=True)
class RepeatExploreParams:
    threshold: float = 0.1  # repeat items with at least this probability come before explore items
    item_prior: float = ITEM_PRIOR  # pseudo-customers shrinking a product's repeat rate to the mean

    def as_dict(self) -> dict[str, float]:
        return {"threshold": self.threshold, "item_prior": self.item_prior}


class RepeatExplore:
    """Repeat module (frequency x recency x product repeatability) plus co-purchase exploration."""

    def __init__(self, train: Sequence[Basket], params: RepeatExploreParams = RepeatExploreParams()) -> None:
        self.vocab = Vocabulary(train)
        self.params = params
        hist = [[self.vocab.encode(b) for b in h] for h in histories(train).values()]
        self.repeat = RepeatModule(hist, len(self.vocab.items), params.item_prior)
        stats = fit(train, Params(min_item_baskets=1))  # the model's co-purchase counts, same order
        assert stats.items == self.vocab.items
        self.nbr_idx = stats.nbr_idx
        self.nbr_w = stats.nbr_count / (stats.item_baskets[:, None] + 1.0)

    def with_params(self, params: RepeatExploreParams) -> RepeatExplore:
        clone = object.__new__(RepeatExplore)
        for name in ("vocab", "repeat", "nbr_idx", "nbr_w"):
            setattr(clone, name, getattr(self, name))
        clone.params = params
        return clone

    def scores(self, basket: Sequence[str], history: Sequence[Sequence[str]]) -> np.ndarray:
        n = len(self.vocab.items)
        held = self.vocab.encode(basket)
        baskets = [e for e in (self.vocab.encode(b) for b in history) if len(e)]
        explore = np.zeros(n + 1)
        context_w = np.zeros(n + 1)
        repeat = np.full(n, -1.0)
        if baskets:
            items, probability, share = self.repeat.probability(baskets)
            repeat[items] = probability
            context_w[items] = share
        context_w[held] = 1.0
        ctx = np.flatnonzero(context_w[:n])
        if len(ctx):
            np.add.at(explore, self.nbr_idx[ctx].ravel(), (self.nbr_w[ctx] * context_w[ctx, None]).ravel())
            explore /= context_w[ctx].sum()
        explore = explore[:n] + 1e-6 * self.vocab.popularity
        # repeat items above the threshold first (by probability), then explore, then the rest
        above = repeat >= self.params.threshold
        below = (repeat >= 0) & ~above
        result = np.where(above, 2.0 + repeat, explore)
        result[below] = 1e-3 * explore[below] + 1e-6 * repeat[below]
        result[held] = -1e9
        return result

    def rank(self, basket: Sequence[str], history: Sequence[Sequence[str]], k: int) -> list[str]:
        return _top(self.scores(basket, history), k, self.vocab.items)


def tune_repeat_explore(train: Sequence[Basket]) -> RepeatExploreParams:
    """The repeat threshold chosen on the latest part of ``train`` (0: every repeat product first)."""
    fit_part, valid = split_by_time(train, VALIDATION_SHARE)
    queries = next_basket_queries(fit_part, valid, TUNING_QUERIES)
    best = RepeatExploreParams()
    if len(queries) < MIN_QUERIES:
        return best
    model = RepeatExplore(fit_part, best)
    trials = []
    for threshold in (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5):
        candidate = replace(best, threshold=threshold)
        trials.append((_recall(model.with_params(candidate).rank, queries), candidate))
    return max(trials, key=lambda t: t[0])[1]


def repeat_explore_baseline(train: Sequence[Basket]) -> tuple[Ranker, RepeatExploreParams]:
    """The repeat-explore baseline: threshold tuned on ``train``'s latest part, fitted on all of it."""
    params = tune_repeat_explore(train)
    return RepeatExplore(train, params).rank, params
