"""``shelf-models build --transactions TX.csv --out DIR``: train the offer model, write ONNX + manifest."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from models.offers.build import BuildResult, build, build_from_baskets
from models.offers.transactions import TransactionsError, online_retail_baskets


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--transactions", type=Path, help="TX.csv (see models/README.md).")
    source.add_argument(
        "--online-retail",
        type=Path,
        help="Read online_retail.csv.gz directly (same filtering as the converter).",
    )
    parser.add_argument("--out", required=True, type=Path, help="Directory to write the model into.")
    parser.add_argument(
        "--max-baskets",
        type=int,
        default=None,
        help="Use only the earliest N baskets (quick demo/test model).",
    )
    parser.add_argument(
        "--no-tune",
        action="store_true",
        help="Keep the default mixing constants (skip the validation search).",
    )
    parser.add_argument("--quiet", action="store_true", help="No progress bar.")
    parser.add_argument(
        "--engine",
        choices=("local", "spark"),
        default="local",
        help="local: one Python process; spark: Spark (local mode, or the cluster under spark-submit); "
        "--transactions may then be CSV or Parquet, a file or a partitioned folder.",
    )
    parser.add_argument(
        "--params-from",
        type=Path,
        default=None,
        help="With --engine spark: take the mixing constants from this earlier (tuned) model directory.",
    )


def run(args: argparse.Namespace) -> int:
    if args.engine == "spark":
        return _run_spark(args)
    try:
        if args.online_retail is not None:
            baskets = online_retail_baskets(args.online_retail, max_baskets=args.max_baskets)
            result = build_from_baskets(
                baskets,
                args.out,
                tune=not args.no_tune,
                show_progress=not args.quiet,
                source=args.online_retail.name,
            )
        else:
            result = build(
                args.transactions,
                args.out,
                max_baskets=args.max_baskets,
                tune=not args.no_tune,
                show_progress=not args.quiet,
            )
    except (OSError, TransactionsError, ValueError) as exc:
        print(f"shelf-models build: {exc}")
        return 1
    _print_built(result, "")
    return 0


def _run_spark(args: argparse.Namespace) -> int:
    if args.transactions is None or args.max_baskets is not None:
        print(
            "shelf-models build: --engine spark takes --transactions (no --online-retail, no --max-baskets)"
        )
        return 2
    from models.jobs.build_job import build_spark, params_from, profiles_from

    try:
        params, tifu = params_from(args.params_from), profiles_from(args.params_from)
        result = build_spark(args.transactions, args.out, params, tifu=tifu)
    except (OSError, TransactionsError, ValueError, KeyError) as exc:
        print(f"shelf-models build: {exc}")
        return 1
    _print_built(result, " (spark)")
    return 0


def _print_built(result: BuildResult, engine: str) -> None:
    """What the technician reads after a build (either engine)."""
    m = result.manifest
    print(
        f"offer model {m['model_version']} written to {result.directory}{engine}: {len(m['items'])} products, "
        f"{m['training']['baskets']} baskets, {m['files']['offer_model.onnx']['bytes']} bytes"
    )
    print("params: " + json.dumps(m["params"]))
