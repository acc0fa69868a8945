"""``shelf-models profiles``: shopper profiles JSON for gateways, from purchase history."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from edge.offers.model import ModelLoadError, OfferModel
from models.offers.profiles import build_profiles, write_profiles
from models.offers.transactions import TransactionsError, online_retail_baskets, read_transactions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", required=True, type=Path, help="Offer model directory (its decay is used)."
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--transactions", type=Path, help="TX.csv with the purchase history.")
    source.add_argument("--online-retail", type=Path, help="online_retail.csv.gz as the purchase history.")
    parser.add_argument(
        "--shoppers",
        type=Path,
        default=None,
        help="CSV 'shopper,customer_id' mapping pseudonymous shopper ids to customers (default: customer ids).",
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="Without --shoppers: the N most active customers."
    )
    parser.add_argument("--out", required=True, type=Path, help="Profiles JSON to write.")


def run(args: argparse.Namespace) -> int:
    try:
        model = OfferModel.load(args.model)
        if args.online_retail is not None:
            baskets = online_retail_baskets(args.online_retail)
        else:
            baskets = read_transactions(args.transactions)
        shoppers = None
        if args.shoppers is not None:
            with args.shoppers.open(newline="", encoding="utf-8") as fh:
                shoppers = {row["shopper"]: row["customer_id"] for row in csv.DictReader(fh)}
    except (ModelLoadError, TransactionsError, OSError, KeyError) as exc:
        print(f"shelf-models profiles: {exc}")
        return 1
    profiles = build_profiles(model, baskets, shoppers, args.limit)
    write_profiles(profiles, args.out)
    known = sum(1 for p in profiles.values() if p.n_baskets)
    print(f"wrote {len(profiles)} profiles ({known} with history) to {args.out}")
    return 0
