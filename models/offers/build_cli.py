"""``shelf-models build --transactions TX.csv --out DIR``: train the offer model, write ONNX + manifest."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from models.offers.build import build, build_from_baskets
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


def run(args: argparse.Namespace) -> int:
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
    m = result.manifest
    print(
        f"offer model {m['model_version']} written to {result.directory}: {len(m['items'])} products, "
        f"{m['training']['baskets']} baskets, {m['files']['offer_model.onnx']['bytes']} bytes"
    )
    print("params: " + json.dumps(m["params"]))
    return 0
