"""Choosing the mixing constants on the given data itself (a method, not a fit to one data set).

The latest ``VALIDATION_SHARE`` of the training period is held out; statistics are fitted on the
rest. The objective is always the model's own Recall@10 + NDCG@10. First the shopper profiles'
constants (TIFU-KNN's, see ``models.offers.neighbours``, plus repeatability and the customer's own
share): a gated coordinate pass on next-basket queries from TIFU-KNN's own choice and from
personal frequency, the profiles ranked in their own order (the smallest ``profile_shrink``);
then whether a re-ranker (``models.offers.rerank``) beats them, cross-fitted; then a small grid
task by task: ``profile_shrink`` and ``history_weight`` on next-basket queries (they alone matter
with an empty basket), then ``basket_weight`` and ``basket_shrink`` on basket completion queries.
With too few validation queries the defaults stay.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from rich.progress import Progress

from edge.offers.profile import Profile
from models.offers.evaluation import (
    Query,
    completion_queries,
    next_basket_queries,
    query_scores,
    split_by_time,
)
from models.offers.method import Params, Profiler, Scorer, fit
from models.offers.nbr_baselines import TIFU_GRIDS, tune_tifu
from models.offers.neighbours import Prediction, TifuKnn, TifuParams
from models.offers.rerank import CANDIDATES, fit_reranker
from models.offers.transactions import Basket

VALIDATION_SHARE = 0.15
MIN_QUERIES = 50
MAX_QUERIES = 1500
PROFILE_SHRINKS = (0.05, 0.25, 1.0, 4.0)  # > 0: the graph divides by n + shrink
BASKET_WEIGHTS = (0.3, 0.5, 0.7, 0.85, 0.95)
BASKET_SHRINKS = (0.5, 2.0, 8.0)
HISTORY_WEIGHTS = (0.0, 0.1, 0.25, 0.5)
REPEAT_POWERS = (0.0, 0.5, 1.0, 2.0, 3.0)
ALPHA_SHRINKS = (0.0, 1.0, 4.0)
REPEAT_WEIGHTS = (0.0, 0.1, 0.25, 0.5, 1.0)
# the profiles' search runs from TIFU-KNN's own choice and from the customer's plain purchase
# frequency (one group of equal baskets, no neighbours: personal top frequency's ranking)
PERSONAL_FREQUENCY = TifuParams(group_size=1_000_000, within_decay=1.0, group_decay=1.0, alpha=1.0)
Z_MOVE = 1.5  # standard errors of validation gain needed to move a constant from its current value
PROFILE_QUERIES = 800  # next-basket queries for the profiles' constants (each point rebuilds profiles)


def _per_query(scorer: Scorer, queries: Sequence[Query]) -> np.ndarray:
    """The objective per query: Recall@10 + NDCG@10 (which products, and in what order)."""

    def ranker(basket: Sequence[str], history: Sequence[Sequence[str]], k: int) -> list[str]:
        return scorer.rank(basket, scorer.profile(history) if history else None, k)

    per_query = query_scores(ranker, queries)
    result: np.ndarray = per_query[:, 0] + per_query[:, 1]
    return result


def _recall(scorer: Scorer, queries: Sequence[Query]) -> float:
    return float(_per_query(scorer, queries).mean()) if queries else 0.0


def _gain(candidate: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Mean paired gain of ``candidate`` over ``current`` on the same queries, and its standard error."""
    diff = candidate - current
    if len(diff) < 2:
        return float(diff.mean()) if len(diff) else 0.0, 0.0
    return float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(len(diff)))


def gated_search(
    starts: Sequence[TifuParams],
    grids: Sequence[tuple[str, Sequence[float]]],
    objective: Callable[[TifuParams], np.ndarray],
    z: float = Z_MOVE,
) -> tuple[TifuParams, TifuParams, list[dict[str, Any]]]:
    """A coordinate pass over ``grids`` from each of ``starts``, keeping the pass that ends with
    the best mean per-query ``objective`` (the earlier start on ties). In a pass a constant takes
    the grid value with the best mean ``objective`` only when its gain over the current value
    exceeds ``z`` standard errors (paired, on the same queries); otherwise it keeps its value.
    Returns the start and the constants of the kept pass, and its moves with gain and standard
    error."""
    memo: dict[TifuParams, np.ndarray] = {}

    def values(candidate: TifuParams) -> np.ndarray:
        if candidate not in memo:
            memo[candidate] = objective(candidate)
        return memo[candidate]

    def one_pass(start: TifuParams) -> tuple[TifuParams, list[dict[str, Any]]]:
        best, moves = start, []
        for name, grid in grids:
            current = values(best)
            trials = []
            for value in grid:
                candidate = replace(best, **{name: type(getattr(best, name))(value)})
                trials.append((*_gain(values(candidate), current), candidate))
            gain, se, candidate = max(trials, key=lambda t: t[0])
            if candidate != best and gain > 0 and gain > z * se:
                moves.append(
                    {
                        "constant": name,
                        "value": getattr(candidate, name),
                        "gain": round(gain, 4),
                        "se": round(se, 4),
                    }
                )
                best = candidate
        return best, moves

    passes = [(start, *one_pass(start)) for start in starts]
    means = [float(values(best).mean()) for _, best, _ in passes]
    return passes[max(range(len(passes)), key=lambda i: (means[i], -i))]


def _cached(profiler: Profiler) -> Profiler:
    """The same queries go through every grid point: build each history's profile once."""
    memo: dict[int, tuple[Sequence[Sequence[str]], Profile]] = {}

    def profile(history: Sequence[Sequence[str]]) -> Profile:
        hit = memo.get(id(history))
        if hit is None or hit[0] is not history:
            hit = memo[id(history)] = (history, profiler(history))
        return hit[1]

    return profile


def rerank_stage(
    knn: TifuKnn, bases: Sequence[TifuParams], stats: Any, params: Params, queries: Sequence[Query]
) -> tuple[TifuParams, dict[str, Any]]:
    """The profiles' constants with or without a re-ranker (``models.offers.rerank``).

    ``bases[0]`` are the profiles chosen so far; each base's prediction is re-ranked by a logistic
    model fitted on one half of ``queries`` and judged on the other, both ways (no query judges a
    fit it was in). A re-ranked base is admissible when it beats that base itself by more than
    ``Z_MOVE`` standard errors, paired per query; of the chosen profiles and the admissible
    re-ranked bases, the best mean on ``queries`` is kept (a re-ranker then fitted on all of them).
    ``params`` rank the profiles (the caller's: the profile's own order, as in the search before)."""
    current = bases[0]
    fold = np.arange(len(queries)) % 2
    halves = [[q for q, f in zip(queries, fold, strict=True) if f == k] for k in (0, 1)]
    chosen = float(_per_query(Scorer(stats, params, knn.with_params(current).profile), queries).mean())
    best: tuple[float, TifuParams, str, list[tuple[np.ndarray, np.ndarray]]] = (chosen, current, "", [])
    trials: list[dict[str, Any]] = []
    for base in dict.fromkeys(bases):
        label = "profiles chosen" if base == current else "TIFU-KNN's own choice"
        model = knn.with_params(replace(base, reranker=None))
        parts: dict[int, Prediction] = {}
        rows: list[tuple[np.ndarray, np.ndarray]] = []
        for q in queries:
            parts[id(q.history)] = part = model.predict_parts(q.history)
            cand, features = model.rerank_rows(part, q.history, CANDIDATES)
            targets = [model.vocab.index[i] for i in q.targets if i in model.vocab.index]
            rows.append((features, np.isin(cand, targets).astype(np.float64)))
        # each half's re-ranker is fitted on the other half's rows
        fit_rows = [_stack([r for r, f in zip(rows, fold, strict=True) if f != k]) for k in (0, 1)]
        if any(len(np.unique(bought)) < 2 for _, bought in fit_rows):
            trials.append(
                {"base": label, "skipped": "a half of the queries has no bought or no unbought candidate"}
            )
            continue
        before = _per_query(Scorer(stats, params, _known(model, parts)), queries)
        after = np.zeros(len(queries))
        for k in (0, 1):
            reranked = _known(model.with_params(replace(base, reranker=fit_reranker(*fit_rows[k]))), parts)
            after[fold == k] = _per_query(Scorer(stats, params, reranked), halves[k])
        gain, se = _gain(after, before)
        admissible = gain > 0 and gain > Z_MOVE * se
        mean = float(after.mean())
        trials.append(
            {
                "base": label,
                "gain": round(gain, 4),
                "se": round(se, 4),
                "admissible": admissible,
                "recall+ndcg@10": round(mean, 4),
            }
        )
        if admissible and mean > best[0]:
            best = (mean, base, label, rows)
    _, base, label, rows = best
    report: dict[str, Any] = {
        "queries": len(queries),
        "chosen_recall+ndcg@10": round(chosen, 4),
        "trials": trials,
        "kept": bool(rows),
    }
    if not rows:
        return current, report
    report["base"] = label
    return replace(base, reranker=fit_reranker(*_stack(rows))), report


def _known(model: TifuKnn, parts: dict[int, Prediction]) -> Profiler:
    """``model``'s profiles from predictions already made for these histories."""

    def profile(history: Sequence[Sequence[str]]) -> Profile:
        return model.profile_from(parts[id(history)], history)

    return profile


def _stack(rows: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.vstack([x for x, _ in rows]), np.concatenate([y for _, y in rows])


def tune_params(
    baskets: Sequence[Basket], params: Params, bar: Progress
) -> tuple[Params, TifuParams, dict[str, Any]]:
    """The mixing constants and the profiles' neighbour constants, chosen on validation queries."""
    train, valid = split_by_time(baskets, VALIDATION_SHARE)
    nb = next_basket_queries(train, valid, MAX_QUERIES)
    bc = completion_queries(train, valid, MAX_QUERIES)
    report: dict[str, Any] = {
        "tuned": False,
        "validation_share": VALIDATION_SHARE,
        "next_basket_queries": len(nb),
        "completion_queries": len(bc),
    }
    if len(train) < 2 or (len(nb) < MIN_QUERIES and len(bc) < MIN_QUERIES):
        report["reason"] = "too few validation queries; defaults kept"
        return params, TifuParams(), report
    task = bar.add_task("tuning: statistics", total=len(train))
    stats = fit(train, params, lambda n: bar.advance(task, n))
    best = params
    in_order = replace(params, profile_shrink=PROFILE_SHRINKS[0], history_weight=0.0)  # profile order
    tifu = TifuParams()
    knn = TifuKnn(train, tifu)
    if len(nb) >= MIN_QUERIES:
        task = bar.add_task("tuning: TIFU-KNN's own choice", total=1)
        tifu = tune_tifu(baskets)  # the same split; the model's search starts from it
        bar.advance(task)
        grids = (
            ("repeat_weight", REPEAT_WEIGHTS),
            *TIFU_GRIDS,
            ("repeat_power", REPEAT_POWERS),
            ("alpha_shrink", ALPHA_SHRINKS),
        )
        task = bar.add_task("tuning: profiles", total=2 * sum(len(v) for _, v in grids))
        profile_queries = nb[:PROFILE_QUERIES]
        predictions: dict[tuple[Any, ...], dict[int, Prediction]] = {}

        def objective(candidate: TifuParams) -> np.ndarray:
            bar.advance(task)
            model = knn.with_params(candidate)
            # the prediction does not depend on repeat_power / repeat_weight: reuse it across them
            key = tuple(
                v for k, v in candidate.as_dict().items() if k not in ("repeat_power", "repeat_weight")
            )
            if key not in predictions:
                predictions.clear()  # one set at a time (queries x products floats)
                predictions[key] = {}
            cache = predictions[key]

            def profile(history: Sequence[Sequence[str]]) -> Profile:
                if id(history) not in cache:
                    cache[id(history)] = model.predict_parts(history)
                return model.profile_from(cache[id(history)], history)

            return _per_query(Scorer(stats, in_order, profile), profile_queries)

        own_choice = tifu
        start, tifu, moves = gated_search((tifu, PERSONAL_FREQUENCY), grids, objective)
        report["profile_start"] = "personal frequency" if start == PERSONAL_FREQUENCY else "tifu-knn"
        report["profile_moves"] = moves
        task = bar.add_task("tuning: re-ranker", total=1)
        tifu, report["reranker"] = rerank_stage(knn, (tifu, own_choice), stats, in_order, nb)
        bar.advance(task)
    profiler = _cached(knn.with_params(tifu).profile)
    report["profiles"] = tifu.as_dict()
    if len(nb) >= MIN_QUERIES:
        # from the plain profile (the smallest shrink, no co-purchase over the history), moved
        # only by a gain beyond Z_MOVE standard errors
        grid = list(itertools.product(PROFILE_SHRINKS, HISTORY_WEIGHTS))
        task = bar.add_task("tuning: next basket", total=len(grid))
        per_point = []
        for shrink, weight in grid:
            candidate = replace(best, profile_shrink=shrink, history_weight=weight)
            per_point.append((_per_query(Scorer(stats, candidate, profiler), nb), candidate))
            bar.advance(task)
        plain = per_point[0][0]
        gain, se, chosen = max(((*_gain(v, plain), c) for v, c in per_point), key=lambda t: t[0])
        best = chosen if gain > Z_MOVE * se else per_point[0][1]
        report["next_basket_gain"] = {"gain": round(gain, 4), "se": round(se, 4)}
        report["next_basket_recall+ndcg@10"] = round(
            float(plain.mean()) + (gain if best is chosen else 0.0), 4
        )
    if len(bc) >= MIN_QUERIES:
        grid2 = list(itertools.product(BASKET_WEIGHTS, BASKET_SHRINKS))
        task = bar.add_task("tuning: basket completion", total=len(grid2))
        results = []
        for weight, shrink in grid2:
            candidate = replace(best, basket_weight=weight, basket_shrink=shrink)
            results.append((_recall(Scorer(stats, candidate, profiler), bc), candidate))
            bar.advance(task)
        best_recall, best = max(results, key=lambda r: r[0])
        report["completion_recall+ndcg@10"] = round(best_recall, 4)
    report["tuned"] = True
    return best, tifu, report
