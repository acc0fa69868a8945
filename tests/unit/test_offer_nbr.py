"""Next-basket baselines (TIFU-KNN, repeat-explore), the synthetic chains and what evaluate reports."""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from models.offers.evaluate import evaluate
from models.offers.evaluate_cli import add_arguments, baskets_from_args
from models.offers.evaluation import histories
from models.offers.nbr_baselines import RepeatExplore, RepeatExploreParams, TifuKnnRanker
from models.offers.neighbours import TifuKnn, TifuParams, tifu_weights
from models.offers.synthetic import synthetic_baskets
from models.offers.transactions import Basket
from models.offers.tuning import gated_search


def _baskets(by_customer: dict[str, list[list[str]]]) -> list[Basket]:
    result: list[Basket] = []
    for c, baskets in by_customer.items():
        for t, items in enumerate(baskets):
            result.append(Basket(f"{c}-{t}", c, 1000.0 * t + len(result), tuple(items), 1.0))
    return sorted(result, key=lambda b: b.t)


def test_tifu_weights_groups_from_the_latest_basket_back() -> None:
    p = TifuParams(group_size=2, within_decay=0.5, group_decay=0.5)
    # 3 baskets: groups [b0] and [b1, b2]; b1 decays once inside its group; group 0 decays once.
    assert np.allclose(tifu_weights(3, p), [0.5 / 2 * 1.0, 1.0 / 2 * 0.5 / 2, 1.0 / 2 * 1.0 / 2])
    assert np.allclose(tifu_weights(1, p), [1.0])
    assert tifu_weights(0, p).size == 0


def test_tifu_knn_blends_the_nearest_other_customer_not_itself() -> None:
    train = _baskets({"A": [["a", "b"]], "B": [["a", "c"]], "C": [["d"]]})
    knn = TifuKnn(train, TifuParams(neighbours=1, alpha=0.5))
    pred = dict(zip(knn.vocab.items, knn.predict([("a", "b")]), strict=True))
    # A itself (distance 0) is skipped; B (distance sqrt 2) is nearer than C (sqrt 3).
    assert pred == pytest.approx({"a": 1.0, "b": 0.5, "c": 0.5, "d": 0.0})
    ranked = TifuKnnRanker(knn).rank(["a"], [("a", "b")], 3)
    assert ranked[:2] == ["b", "c"] and "a" not in ranked
    assert not knn.predict([]).any()


def test_tifu_profile_shrinks_the_own_share_for_short_histories() -> None:
    train = _baskets({"A": [["a", "b"]], "B": [["a", "c"]], "C": [["d"]]})
    plain = TifuKnn(train, TifuParams(neighbours=1, alpha=0.5))
    shrunk = plain.with_params(TifuParams(neighbours=1, alpha=0.5, alpha_shrink=1.0))
    pred = dict(zip(shrunk.vocab.items, shrunk.predict([("a", "b")]), strict=True))
    assert pred == pytest.approx({"a": 1.0, "b": 0.25, "c": 0.75, "d": 0.0})  # alpha 0.5 * 1/(1+1)
    profile = plain.profile([("a", "b")])
    assert profile.items[0] == "a" and profile.n_baskets == 1 and "d" not in profile.items


def test_repeat_explore_puts_repeat_products_first_then_co_purchases() -> None:
    regulars = {f"r{i}": [["milk", "bread"], ["milk"], ["milk", "eggs"], ["milk"]] for i in range(6)}
    tea = {f"t{i}": [["tea"], ["tea"], ["tea"]] for i in range(8)}
    model = RepeatExplore(_baskets({**regulars, **tea}), RepeatExploreParams(threshold=0.0))
    ranked = model.rank([], [("milk",), ("milk",)], 4)
    assert ranked[0] == "milk"  # bought in every past basket: repeat
    assert set(ranked[1:3]) == {"bread", "eggs"}  # explore: co-purchased with milk, before tea
    assert ranked[3] == "tea"  # the most popular product comes only after
    assert "milk" not in model.rank(["milk"], [("milk",)], 4)  # the basket's products are excluded


def test_synthetic_shapes_are_deterministic_and_differ_in_repeats() -> None:
    small = {"customers": 200}
    repeat = synthetic_baskets("repeat", **small)
    assert repeat == synthetic_baskets("repeat", **small)

    def repeat_share(baskets: list[Basket]) -> float:
        again = total = 0
        for past in histories(baskets).values():
            seen: set[str] = set()
            for items in past:
                if seen:
                    again += sum(i in seen for i in items)
                    total += len(items)
                seen.update(items)
        return again / total

    assert repeat_share(repeat) > 0.5 > 0.2 > repeat_share(synthetic_baskets("explore", **small))


def test_evaluate_reports_every_ranker_and_the_chosen_constants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the run's temporary model goes
    baskets = synthetic_baskets("repeat", customers=250, products=300, mission_count=15, mission_size=15)
    ev = evaluate(baskets, max_queries=60)
    assert ev.model_dir is None and list(tmp_path.iterdir()) == []  # the temporary model is gone
    for task in ("basket completion", "next basket"):
        assert set(ev.results[task]) == {
            "model",
            "popularity",
            "personal top frequency",
            "co-occurrence",
            "TIFU-KNN",
            "repeat-explore",
        }
    assert ev.params["tuning"]["tuned"] is True
    assert ev.params["profiles"]["method"] == "tifu-knn"
    assert {"alpha", "neighbours", "repeat_power", "alpha_shrink"} <= set(ev.params["profiles"])
    assert {"alpha", "neighbours", "group_size"} <= set(ev.params["TIFU-KNN"])
    assert "threshold" in ev.params["repeat-explore"]
    assert {"basket_weight", "profile_shrink"} <= set(ev.params["model"])
    figures = ev.as_dict()
    assert set(figures["model_ahead_on_ndcg@10"]) == {"basket completion", "next basket"}


def test_evaluate_leaves_no_temporary_model_behind_when_it_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    baskets = synthetic_baskets("repeat", customers=20, products=30, mission_count=3, mission_size=5)
    with pytest.raises(ValueError, match="no baskets to build from"):
        evaluate(baskets, test_share=1.0)  # everything to test: nothing to build the model from
    assert list(tmp_path.iterdir()) == []
    kept = tmp_path / "kept"
    ev = evaluate(baskets, max_queries=5, tune=False, model_dir=kept)
    assert ev.model_dir == kept and (kept / "manifest.json").is_file()  # --model-dir: kept


def test_evaluate_command_takes_one_data_source() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args([])  # no data
    with pytest.raises(SystemExit):
        parser.parse_args(["--synthetic", "repeat", "--transactions", "tx.csv"])
    args = parser.parse_args(["--synthetic", "explore", "--max-baskets", "500"])
    baskets = baskets_from_args(args)
    assert len(baskets) == 500 and baskets == sorted(baskets, key=lambda b: (b.t, b.basket_id))


def test_profile_blends_the_repeat_probability_by_its_weight() -> None:
    regulars = {f"r{i}": [["milk", "bread"], ["milk"], ["milk", "eggs"], ["milk"]] for i in range(6)}
    knn = TifuKnn(_baskets(regulars), TifuParams(neighbours=2, alpha=0.5))
    history = [("milk", "bread"), ("milk",)]
    plain = knn.profile(history)
    assert knn.with_params(TifuParams(neighbours=2, alpha=0.5, repeat_weight=0.0)).profile(history) == plain
    repeat_only = knn.with_params(TifuParams(neighbours=2, alpha=0.5, repeat_weight=1.0)).profile(history)
    # only the customer's own products, weighed by the repeat module's probability
    items, probability, _ = knn.repeat.probability([knn.vocab.encode(b) for b in history])
    expected = {knn.vocab.items[i]: p for i, p in zip(items, probability, strict=True)}
    assert dict(zip(repeat_only.items, repeat_only.weights, strict=True)) == pytest.approx(expected)
    assert repeat_only.items[0] == "milk" and "eggs" not in repeat_only.items
    assert repeat_only.n_baskets == plain.n_baskets == 2


def test_gated_search_moves_a_constant_only_for_a_clear_validation_gain() -> None:
    rng = np.random.default_rng(1)
    noise = rng.normal(0.0, 1.0, 400)

    def objective(p: TifuParams) -> np.ndarray:
        # alpha 0.9 is clearly better, 0.7 a little; any neighbour count is the same up to noise
        clear = {0.9: 0.5, 0.7: 0.1}.get(p.alpha, 0.0)
        jitter = 0.02 * rng.normal(0.0, 1.0, 400) if p.neighbours != 300 else 0.0
        return noise + clear + jitter

    start = TifuParams(alpha=0.7, neighbours=300)
    worse = TifuParams(alpha=0.5, neighbours=300)
    grids = [("alpha", (0.5, 0.7, 0.9)), ("neighbours", (50, 300, 900))]
    chosen, best, moves = gated_search([start, worse], grids, objective)
    assert chosen == start  # both passes end at alpha 0.9; the earlier start on ties
    assert best == replace(start, alpha=0.9)
    assert [m["constant"] for m in moves] == ["alpha"]
