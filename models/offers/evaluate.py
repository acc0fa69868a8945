"""``evaluate``: build the model on the earlier part of the data and score it on the later part,
next to popularity, personal top frequency and co-occurrence baselines computed in the same run."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from edge.offers.model import OfferModel
from models.offers.build import build_from_baskets
from models.offers.evaluation import (
    Baselines,
    Query,
    Ranker,
    Scores,
    completion_queries,
    next_basket_queries,
    score,
    split_by_time,
)
from models.offers.nbr_baselines import repeat_explore_baseline, tifu_knn_baseline
from models.offers.profiles import profiler_for
from models.offers.transactions import Basket, read_transactions

TASKS = ("basket completion", "next basket")


@dataclass(frozen=True, slots=True)
class Evaluation:
    results: dict[str, dict[str, Scores]]  # task -> ranker -> scores
    train_baskets: int
    test_baskets: int
    model_dir: Path | None  # where the evaluated model was kept; None: built in a deleted temporary directory
    params: dict[str, Any]  # the constants chosen on the validation split: model, profiles, baselines

    def model_ahead(self, metric: str = "recall") -> dict[str, bool]:
        ahead = {}
        for task, by_ranker in self.results.items():
            model = getattr(by_ranker["model"], metric)
            ahead[task] = all(model > getattr(s, metric) for name, s in by_ranker.items() if name != "model")
        return ahead

    def as_dict(self) -> dict[str, Any]:
        return {
            "train_baskets": self.train_baskets,
            "test_baskets": self.test_baskets,
            "params": self.params,
            "results": {
                task: {
                    name: {"recall@10": s.recall, "ndcg@10": s.ndcg, "hr@10": s.hr, "queries": s.queries}
                    for name, s in by_ranker.items()
                }
                for task, by_ranker in self.results.items()
            },
            "model_ahead_on_recall@10": self.model_ahead("recall"),
            "model_ahead_on_ndcg@10": self.model_ahead("ndcg"),
        }


def model_ranker(model: OfferModel, train: Sequence[Basket]) -> Ranker:
    """The gateway's model with the profiles the central job would ship for these customers."""
    profiler = profiler_for(model, train)

    def rank(basket: Sequence[str], history: Sequence[Sequence[str]], k: int) -> list[str]:
        return model.rank(basket=list(basket), profile=profiler(history) if history else None, k=k)

    return rank


def evaluate(
    transactions: str | Path | Sequence[Basket],
    test_share: float = 0.1,
    k: int = 10,
    max_queries: int | None = None,
    tune: bool = True,
    model_dir: Path | None = None,
    show_progress: bool = False,
) -> Evaluation:
    """Build on the earlier part of ``transactions``, score the model and the baselines on the rest.
    The model is built in ``model_dir`` (kept) or else in a temporary directory that is deleted once
    the model is loaded, also when the build fails."""
    if isinstance(transactions, str | Path):
        baskets, source = read_transactions(transactions), Path(transactions).name
    else:
        baskets, source = list(transactions), "baskets"
    train, test = split_by_time(baskets, test_share)
    with ExitStack() as stack:  # without model_dir, the model lives in a temporary directory, gone after
        out = model_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="offer-eval-")))
        result = build_from_baskets(train, out, tune=tune, show_progress=show_progress, source=source)
        model = OfferModel.load(out)
    base = Baselines(train)
    tifu_rank, tifu_params = tifu_knn_baseline(train)
    rex_rank, rex_params = repeat_explore_baseline(train)
    rankers: dict[str, Ranker] = {
        "model": model_ranker(model, train),
        "popularity": base.popularity,
        "personal top frequency": base.personal_top,
        "co-occurrence": base.cooccurrence,
        "TIFU-KNN": tifu_rank,
        "repeat-explore": rex_rank,
    }
    queries: dict[str, list[Query]] = {
        "basket completion": completion_queries(train, test, max_queries),
        "next basket": next_basket_queries(train, test, max_queries),
    }
    results: dict[str, dict[str, Scores]] = {task: {} for task in TASKS}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not show_progress) as bar:
        for task in TASKS:
            for name, ranker in rankers.items():
                progress = bar.add_task(f"{task}: {name}", total=len(queries[task]))
                results[task][name] = score(ranker, queries[task], k, partial(bar.advance, progress))
    params = {
        "model": result.manifest["params"],
        "profiles": result.manifest["profiles"],
        "tuning": result.manifest["tuning"],
        "TIFU-KNN": tifu_params.as_dict(),
        "repeat-explore": rex_params.as_dict(),
    }
    return Evaluation(results, len(train), len(test), model_dir, params)
