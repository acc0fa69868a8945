"""The profile's re-ranker: a logistic model over a shopper's strongest candidate products.

The neighbour prediction (``models.offers.neighbours.TifuKnn``) names the candidates, its
``candidates`` strongest products; the re-ranker gives each the probability that it is in the
shopper's next basket, from what the prediction is made of and what it leaves out:

* the prediction, its own part (the shopper's decayed basket vector) and its neighbours' part;
* the shopper's history: share and count of baskets with the product, whether they bought it at
  all, baskets since they last did (and whether that was the last basket), how many baskets they
  have (also crossed with "bought it");
* the product: how repeatable it is, how popular, and its **trend**: its share of the baskets of
  the last ``TREND_DAYS`` days against its share of all of them (a seasonal range rises before the
  season, a discontinued one falls);
* the candidate's rank in the prediction.

Its coefficients are fitted at build time on the validation split (``models.offers.tuning``) and
kept only when they beat the plain prediction there; they travel in the manifest's ``profiles``
block, so the central profiles jobs (local and Spark) score with the same numbers. Scoring is a
dot product: pure numpy, no I/O. Fitting uses scikit-learn's ``LogisticRegression``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

FEATURES = (
    "log_prediction",
    "log_own",
    "log_neighbours",
    "basket_share",
    "log_baskets_with",
    "bought",
    "log_baskets_since",
    "in_last_basket",
    "log_repeatability",
    "log_popularity",
    "log_history_baskets",
    "bought_x_log_history_baskets",
    "log_rank",
    "trend",
)
CANDIDATES = 60  # strongest products of the prediction that the re-ranker orders
TREND_DAYS = 28.0  # recent window of the trend, before the latest basket of the data
TREND_FLOOR = 0.01  # share added to both sides of the trend ratio (rare products: no trend)
FLOOR = 1e-4  # added before the logarithm of a prediction part
C = 0.1  # inverse L2 strength of the logistic fit (on standardised features)
DAY = 86_400.0


class RerankerError(ValueError):
    """A re-ranker that cannot be used as given (a manifest's block of the wrong shape)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"profiles.reranker: {reason}")
        self.reason = reason


def trend(
    times: np.ndarray, encoded: Sequence[np.ndarray], n_items: int, days: float = TREND_DAYS
) -> np.ndarray:
    """Each product's log ratio of its share of the last ``days`` days' baskets to its share of
    all baskets (``times``: each basket's time in seconds; ``encoded``: its product indices)."""
    if not len(encoded):
        return np.zeros(n_items)
    recent = times >= times.max() - days * DAY
    every = np.bincount(np.concatenate(encoded), minlength=n_items)
    lately = [b for b, r in zip(encoded, recent, strict=True) if r]
    late = np.bincount(np.concatenate(lately), minlength=n_items) if lately else np.zeros(n_items)
    share_all = every / len(encoded)
    share_late = late / max(1, len(lately))
    result: np.ndarray = np.log((share_late + TREND_FLOOR) / (share_all + TREND_FLOOR))
    return result


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What the re-ranker knows of every product of the vocabulary."""

    repeatability: np.ndarray
    popularity: np.ndarray
    trend: np.ndarray


def candidate_features(
    pred: np.ndarray,
    own: np.ndarray,
    near: np.ndarray,
    baskets: Sequence[np.ndarray],
    facts: ItemFacts,
    candidates: int = CANDIDATES,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``candidates`` strongest products with a positive ``pred`` (ties: more popular first,
    then index) and their feature rows (float64 [len, len(FEATURES)]). ``own`` and ``near`` are
    the prediction's two parts, ``baskets`` the shopper's encoded history (oldest first). Only the
    positive products are sorted (a few hundred of a catalogue of tens of thousands)."""
    n = len(pred)
    positive = np.flatnonzero(pred > 0)
    cand = positive[np.lexsort((positive, -facts.popularity[positive], -pred[positive]))][:candidates]
    counts = np.zeros(n)
    last = np.full(n, -1)
    for t, basket in enumerate(baskets):
        counts[basket] += 1
        last[basket] = t
    history = max(1, len(baskets))
    held = counts[cand] > 0
    since = np.where(held, history - last[cand], 0)
    log_history = np.log1p(history)
    features = np.column_stack(
        [
            np.log(pred[cand] + FLOOR),
            np.log(own[cand] + FLOOR),
            np.log(near[cand] + FLOOR),
            counts[cand] / history,
            np.log1p(counts[cand]),
            held.astype(np.float64),
            np.log1p(since),
            (since == 1).astype(np.float64),
            np.log(np.maximum(facts.repeatability[cand], FLOOR)),
            np.log(facts.popularity[cand]),
            np.full(len(cand), log_history),
            held * log_history,
            np.log1p(np.arange(len(cand))),
            facts.trend[cand],
        ]
    )
    return cand, features


@dataclass(frozen=True, slots=True)
class Reranker:
    """Standardisation and logistic coefficients, one per name of ``FEATURES``."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    candidates: int = CANDIDATES

    def probability(self, features: np.ndarray) -> np.ndarray:
        z = ((features - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.coef)
        result: np.ndarray = 1.0 / (1.0 + np.exp(-(z + self.intercept)))
        return result

    def as_dict(self) -> dict[str, Any]:
        return {
            "features": list(FEATURES),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "candidates": self.candidates,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Reranker:
        """From a manifest's block; refuses one written for other features, or malformed."""
        if not isinstance(data, dict):
            raise RerankerError(f"expected an object, got {type(data).__name__}")
        if data.get("features") != list(FEATURES):
            raise RerankerError(
                f"features {data.get('features')!r} are not this version's {list(FEATURES)!r}"
            )
        try:
            vectors = [tuple(float(v) for v in data[k]) for k in ("mean", "scale", "coef")]
            intercept, candidates = float(data["intercept"]), int(data["candidates"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RerankerError(f"missing or non-numeric field ({exc})") from exc
        if any(len(v) != len(FEATURES) for v in vectors):
            raise RerankerError(f"mean, scale and coef need {len(FEATURES)} numbers each")
        if any(s <= 0 or not np.isfinite(s) for s in vectors[1]) or not np.all(np.isfinite(vectors[2])):
            raise RerankerError("scale must be positive and coefficients finite")
        if candidates < 1:
            raise RerankerError("candidates must be positive")
        mean, scale, coef = vectors
        return cls(mean, scale, coef, intercept, candidates)


def fit_reranker(features: np.ndarray, bought: np.ndarray, candidates: int = CANDIDATES) -> Reranker:
    """Logistic regression of ``bought`` (0/1 per candidate row) on standardised ``features``."""
    from sklearn.linear_model import LogisticRegression  # build-time only

    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=C, max_iter=5000)
    model.fit((features - mean) / scale, bought)
    return Reranker(
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in model.coef_[0]),
        float(model.intercept_[0]),
        candidates,
    )
