"""``shelf-models evaluate --transactions TX.csv``: time-based split, model vs baselines at 10."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from models.offers.evaluate import evaluate
from models.offers.transactions import TransactionsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--transactions", required=True, type=Path, help="TX.csv (see models/README.md).")
    parser.add_argument(
        "--test-share", type=float, default=0.1, help="Latest share of the time span to test on."
    )
    parser.add_argument("--max-queries", type=int, default=None, help="Sample at most N queries per task.")
    parser.add_argument("--no-tune", action="store_true", help="Keep the default mixing constants.")
    parser.add_argument("--model-dir", type=Path, default=None, help="Keep the evaluated model here.")
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures as JSON.")


def run(args: argparse.Namespace) -> int:
    try:
        ev = evaluate(
            args.transactions,
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
    console.print(f"train {ev.train_baskets} baskets, test {ev.test_baskets} baskets; params {ev.params}")
    for task, by_ranker in ev.results.items():
        table = Table(title=f"{task} ({next(iter(by_ranker.values())).queries} queries)")
        for column in ("ranker", "Recall@10", "NDCG@10", "HR@10"):
            table.add_column(column)
        for name, s in by_ranker.items():
            table.add_row(name, f"{s.recall:.4f}", f"{s.ndcg:.4f}", f"{s.hr:.4f}")
        console.print(table)
    ahead = ev.model_ahead()
    console.print(
        "model ahead of every baseline on Recall@10: " + ", ".join(f"{t}: {v}" for t, v in ahead.items())
    )
    if args.json:
        args.json.write_text(json.dumps(ev.as_dict(), indent=1) + "\n", encoding="utf-8")
    return 0
