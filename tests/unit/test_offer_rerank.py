"""The profiles' re-ranker: the trend, the coefficients' block in a manifest, the re-ranked
profile, and the build keeping a re-ranker only where it beats the plain prediction."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from models.offers.build import build_from_baskets, profile_params
from models.offers.evaluation import histories
from models.offers.neighbours import TifuKnn, TifuParams
from models.offers.rerank import (
    FEATURES,
    Reranker,
    RerankerError,
    candidate_features,
    fit_reranker,
    trend,
)
from models.offers.transactions import Basket

DAY = 86_400.0


def test_trend_rises_for_products_bought_lately_and_falls_for_old_ones() -> None:
    times = np.arange(100) * DAY  # one basket a day for 100 days
    # 0: every basket; 1: only the last 20 days; 2: only the first 50 days
    encoded = [np.array([0] + ([1] if t >= 80 else []) + ([2] if t < 50 else [])) for t in range(100)]
    result = trend(times, encoded, 4)
    assert result[0] == pytest.approx(0.0)
    assert result[1] > 0.5 and result[2] < -0.5
    assert result[3] == pytest.approx(0.0)  # never bought: no trend
    assert trend(np.zeros(0), [], 3).tolist() == [0.0, 0.0, 0.0]


def _reranker(coef: dict[str, float], intercept: float = 0.0) -> Reranker:
    ones = tuple(1.0 for _ in FEATURES)
    return Reranker(tuple(0.0 for _ in FEATURES), ones, tuple(coef.get(f, 0.0) for f in FEATURES), intercept)


def test_reranker_block_round_trips_and_malformed_blocks_are_refused_by_name() -> None:
    rng = np.random.default_rng(3)
    features = rng.normal(size=(400, len(FEATURES)))
    bought = (features[:, 0] + 0.3 * rng.normal(size=400) > 0).astype(float)
    fitted = fit_reranker(features, bought)
    assert Reranker.from_dict(fitted.as_dict()) == fitted
    assert fitted.coef[0] > 1.0  # it found the informative feature
    params = TifuParams(alpha=0.5, reranker=fitted)
    assert TifuParams.from_dict(params.as_dict()) == params
    block = fitted.as_dict()
    cases = {
        "features": {**block, "features": [*FEATURES[:-1]]},
        "14 numbers": {**block, "coef": block["coef"][:-1]},
        "scale must be positive": {**block, "scale": [0.0] * len(FEATURES)},
        "non-numeric": {**block, "intercept": "high"},
        "expected an object": [1, 2],
    }
    for reason, bad in cases.items():
        with pytest.raises(RerankerError, match=reason):
            Reranker.from_dict(bad)
    manifest = {"profiles": {"method": "tifu-knn", **replace(params, reranker=None).as_dict()}}
    manifest["profiles"]["reranker"] = {**block, "coef": ["x"] * len(FEATURES)}
    with pytest.raises(RerankerError, match=r"profiles\.reranker"):
        profile_params(manifest)


def _baskets(by_customer: dict[str, list[tuple[float, list[str]]]]) -> list[Basket]:
    result = [
        Basket(f"{c}-{k}", c, t, tuple(items), 1.0)
        for c, visits in by_customer.items()
        for k, (t, items) in enumerate(visits)
    ]
    return sorted(result, key=lambda b: (b.t, b.basket_id))


def test_a_reranked_profile_orders_the_candidates_by_probability() -> None:
    # everyone buys milk; 'bread' was bought long ago, 'mulled wine' only in the last days
    visits = {
        f"c{i}": [(d * DAY + i, ["milk", "bread"] if d < 30 else ["milk"]) for d in range(0, 60, 5)]
        for i in range(8)
    }
    visits["late"] = [(55 * DAY, ["milk", "mulled wine"]), (58 * DAY, ["milk", "mulled wine"])]
    train = _baskets(visits)
    history = [("milk", "bread"), ("milk", "bread"), ("milk",)]
    knn = TifuKnn(train, TifuParams(neighbours=20, alpha=0.5))
    plain = knn.profile(history)
    assert plain.items[:2] == ("milk", "bread")
    by_trend = knn.with_params(TifuParams(neighbours=20, alpha=0.5, reranker=_reranker({"trend": 2.0})))
    profile = by_trend.profile(history)
    assert set(profile.items) == set(plain.items)  # the same candidates, ordered anew
    # 'mulled wine' (neighbours only; bought lately) first, 'bread' (bought earlier on) last
    assert profile.items[0] == "mulled wine" and profile.items[-1] == "bread"
    parts = knn.predict_parts(history)
    cand, rows = by_trend.rerank_rows(parts, history, 60)
    expected = {
        knn.vocab.items[c]: 1 / (1 + np.exp(-2.0 * row[FEATURES.index("trend")]))
        for c, row in zip(cand, rows, strict=True)
    }
    assert dict(zip(profile.items, profile.weights, strict=True)) == pytest.approx(expected)
    assert by_trend.profile([]).items == ()  # no history: no profile, as without a re-ranker


def test_candidate_features_describe_the_history() -> None:
    facts_knn = TifuKnn(_baskets({"a": [(0.0, ["x", "y"]), (DAY, ["x"])], "b": [(2 * DAY, ["y", "z"])]}))
    encoded = [facts_knn.vocab.encode(b) for b in (("x", "y"), ("x",))]
    n = len(facts_knn.vocab.items)
    pred = np.linspace(1.0, 0.5, n)
    cand, rows = candidate_features(pred, pred, np.zeros(n), encoded, facts_knn.facts, 2)
    assert len(cand) == 2 and rows.shape == (2, len(FEATURES))
    column = {name: rows[:, k] for k, name in enumerate(FEATURES)}
    x, y = facts_knn.vocab.index["x"], facts_knn.vocab.index["y"]
    by_item = {int(c): k for k, c in enumerate(cand)}
    assert column["basket_share"][by_item[x]] == 1.0 and column["basket_share"][by_item[y]] == 0.5
    assert column["in_last_basket"][by_item[x]] == 1.0 and column["in_last_basket"][by_item[y]] == 0.0
    assert column["log_rank"].tolist() == [0.0, pytest.approx(np.log(2))]


def _seasonal_chain(customers: int = 240, days: int = 200) -> list[Basket]:
    """Staples all year; from day 150 a seasonal range that every customer's neighbours buy more
    and more of (so only the trend tells it apart from old favourites)."""
    rng = np.random.default_rng(7)
    staples = [f"s{k}" for k in range(40)]
    season = [f"x{k}" for k in range(12)]
    old = [f"o{k}" for k in range(12)]
    visits: dict[str, list[tuple[float, list[str]]]] = {}
    for c in range(customers):
        mine = list(rng.choice(staples, 6, replace=False))
        days_visited = np.sort(rng.choice(days, 14, replace=False))
        trips = []
        for d in days_visited:
            items = [s for s in mine if rng.random() < 0.5]
            pool = season if d >= 150 and rng.random() < (d - 140) / 60 else old if d < 120 else []
            items += list(rng.choice(pool, 3, replace=False)) if pool else []
            trips.append((float(d) * DAY + c, items or [mine[0]]))
        visits[f"c{c}"] = trips
    return _baskets(visits)


def test_the_build_keeps_a_reranker_where_the_trend_wins_and_records_it(tmp_path: Path) -> None:
    baskets = _seasonal_chain()
    result = build_from_baskets(baskets, tmp_path / "model")
    report = result.manifest["tuning"]["reranker"]
    assert report["kept"] is True, report
    kept = next(t for t in report["trials"] if t["base"] == report["base"])
    assert kept["admissible"] and kept["gain"] > 1.5 * kept["se"], report
    params = profile_params(result.manifest)
    assert params is not None and params.reranker is not None
    assert params.reranker.coef[FEATURES.index("trend")] > 0  # seasonal products ranked up
    # the shipped profiles put the seasonal range before last year's range for every shopper who
    # bought both (the plain prediction does not)
    knn = TifuKnn(baskets, params)
    plain = knn.with_params(replace(params, reranker=None))

    def first(items: tuple[str, ...], range_: str) -> int:
        return next((k for k, item in enumerate(items) if item.startswith(range_)), 10**6)

    both = [
        h for h in histories(baskets).values() if max(first(plain.profile(h).items, r) for r in "xo") < 10**6
    ]
    reranked = sum(first(knn.profile(h).items, "x") < first(knn.profile(h).items, "o") for h in both)
    unranked = sum(first(plain.profile(h).items, "x") < first(plain.profile(h).items, "o") for h in both)
    assert len(both) > 100 and reranked == len(both) > unranked


def test_evaluate_prints_a_reranker_as_its_strongest_features() -> None:
    from models.offers.evaluate_cli import _compact

    block = _reranker({"trend": 2.0, "log_prediction": -1.0}).as_dict()
    shown = _compact({"profiles": {"alpha": 0.5, "reranker": block}, "tuning": {"reranker": {"kept": True}}})
    assert shown["profiles"]["alpha"] == 0.5 and shown["tuning"] == {"reranker": {"kept": True}}
    assert shown["profiles"]["reranker"].startswith(
        "logistic, strongest (standardised): trend +2.00, log_prediction -1.00"
    )


def test_no_reranker_is_fitted_without_bought_candidates() -> None:
    from models.offers.evaluation import Query
    from models.offers.method import Params, fit
    from models.offers.tuning import rerank_stage

    baskets = _seasonal_chain(customers=60)
    knn = TifuKnn(baskets, TifuParams())
    # every target is a product nobody bought before: no candidate is ever bought
    queries = [Query((), tuple(h), frozenset({"never-seen"})) for h in list(histories(baskets).values())[:40]]
    chosen, report = rerank_stage(
        knn, (TifuParams(), TifuParams(alpha=0.5)), fit(baskets, Params()), Params(), queries
    )
    assert chosen == TifuParams() and report["kept"] is False
    assert [t["skipped"] for t in report["trials"]] == [
        "a half of the queries has no bought or no unbought candidate"
    ] * 2
