"""``shelf-models convert-online-retail``: UCI Online Retail -> TX.csv (and optionally a catalogue)."""

from __future__ import annotations

import argparse
from pathlib import Path

from models.offers.transactions import convert_online_retail

DEFAULT_SOURCE = Path(__file__).resolve().parents[3] / "shared" / "data" / "online_retail.csv.gz"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source", type=Path, default=DEFAULT_SOURCE, help="online_retail.csv.gz (default: ../shared/data)."
    )
    parser.add_argument("--out", required=True, type=Path, help="TX.csv to write.")


def run(args: argparse.Namespace) -> int:
    if not args.source.exists():
        print(f"shelf-models convert-online-retail: {args.source} not found")
        return 1
    lines = convert_online_retail(args.source, args.out)
    print(f"wrote {lines} lines to {args.out} (cancellations, returns, zero prices and non-products dropped)")
    return 0
