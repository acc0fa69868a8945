"""``shelf-models catalogue``: write a catalogue CSV (edge/offers/README.md) from Online Retail."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from models.offers.catalogue import catalogue_from_online_retail
from models.offers.convert_cli import DEFAULT_SOURCE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="online_retail.csv.gz.")
    parser.add_argument(
        "--planogram",
        type=Path,
        default=None,
        help="Planogram CSV (product_id,name,gondola,shelf,plate,...): its products get stock on their shelf.",
    )
    parser.add_argument("--units", type=int, default=12, help="Units in stock per planogram place.")
    parser.add_argument("--out", required=True, type=Path, help="Catalogue CSV to write.")


def run(args: argparse.Namespace) -> int:
    if not args.source.exists():
        print(f"shelf-models catalogue: {args.source} not found")
        return 1
    places: list[dict[str, str]] = []
    if args.planogram is not None:
        with args.planogram.open(newline="", encoding="utf-8") as fh:
            places = list(csv.DictReader(fh))
    catalogue = catalogue_from_online_retail(args.source, places, args.units)
    catalogue.write(args.out)
    stocked = sum(1 for p in catalogue.stock.values() if p)
    print(
        f"wrote {len(catalogue)} products ({stocked} in stock, {len(catalogue.new_products())} new) to {args.out}"
    )
    return 0
