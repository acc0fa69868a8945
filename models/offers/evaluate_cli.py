"""``shelf-models evaluate``: time-based split, model vs baselines at 10.

The data: ``--transactions TX.csv``, or straight from a source file (``--online-retail``,
``--complete-journey``), or a synthetic chain (``--synthetic repeat|explore``, see
``models.offers.synthetic``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from models.offers.evaluate import evaluate
from models.offers.synthetic import SHAPES, synthetic_baskets
from models.offers.transactions import (
    Basket,
    TransactionsError,
    complete_journey_baskets,
    online_retail_baskets,
    read_transactions,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--transactions", type=Path, help="TX.csv (see models/README.md).")
    data.add_argument("--online-retail", type=Path, help="UCI Online Retail's online_retail.csv.gz.")
    data.add_argument(
        "--complete-journey",
        type=Path,
        help="The Complete Journey's transactions (completejourney_transactions_sample.csv.gz).",
    )
    data.add_argument("--synthetic", choices=sorted(SHAPES), help="A synthetic grocery chain of this shape.")
    parser.add_argument(
        "--max-baskets", type=int, default=None, help="Keep the earliest N baskets only (all by default)."
    )
    parser.add_argument(
        "--test-share", type=float, default=0.1, help="Latest share of the time span to test on."
    )
    parser.add_argument("--max-queries", type=int, default=None, help="Sample at most N queries per task.")
    parser.add_argument("--no-tune", action="store_true", help="Keep the default mixing constants.")
    parser.add_argument("--model-dir", type=Path, default=None, help="Keep the evaluated model here.")
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures as JSON.")


def baskets_from_args(args: argparse.Namespace) -> list[Basket]:
    if args.synthetic:
        baskets = synthetic_baskets(args.synthetic)
    elif args.online_retail:
        baskets = online_retail_baskets(args.online_retail, max_baskets=args.max_baskets)
    elif args.complete_journey:
        baskets = complete_journey_baskets(args.complete_journey)
    else:
        baskets = read_transactions(args.transactions, max_baskets=args.max_baskets)
    if args.max_baskets is not None:
        baskets = sorted(baskets, key=lambda b: (b.t, b.basket_id))[: args.max_baskets]
    if not baskets:
        raise ValueError("no baskets in the given data")
    return baskets


def run(args: argparse.Namespace) -> int:
    try:
        ev = evaluate(
            baskets_from_args(args),
            test_share=args.test_share,
            max_queries=args.max_queries,
            tune=not args.no_tune,
            model_dir=args.model_dir,
            show_progress=True,
        )
    except (OSError, TransactionsError, ValueError) as exc:
        print(f"shelf-models evaluate: {exc}")
        return 1
    console = Console()
    console.print(f"train {ev.train_baskets} baskets, test {ev.test_baskets} baskets")
    for part, constants in ev.params.items():
        console.print(f"chosen on the validation split: {part} {_compact(constants)}")
    for task, by_ranker in ev.results.items():
        table = Table(title=f"{task} ({next(iter(by_ranker.values())).queries} queries)")
        for column in ("ranker", "Recall@10", "NDCG@10", "HR@10"):
            table.add_column(column)
        for name, s in by_ranker.items():
            table.add_row(name, f"{s.recall:.4f}", f"{s.ndcg:.4f}", f"{s.hr:.4f}")
        console.print(table)
    for metric in ("recall", "ndcg"):
        ahead = ev.model_ahead(metric)
        console.print(
            f"model ahead of every baseline on {metric}@10: "
            + ", ".join(f"{t}: {v}" for t, v in ahead.items())
        )
    if args.json:
        args.json.write_text(json.dumps(ev.as_dict(), indent=1) + "\n", encoding="utf-8")
    return 0


def _compact(constants: Any) -> Any:
    """A re-ranker's 3 x 14 numbers (the --json has them) shown as its strongest features."""
    if not isinstance(constants, dict):
        return constants
    result = {key: _compact(value) for key, value in constants.items()}
    block = constants.get("reranker")
    if isinstance(block, dict) and "coef" in block:
        top = sorted(zip(block["coef"], block["features"], strict=True), key=lambda cf: -abs(cf[0]))[:4]
        result["reranker"] = "logistic, strongest (standardised): " + ", ".join(
            f"{name} {coef:+.2f}" for coef, name in top
        )
    return result
