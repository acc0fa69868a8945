"""``shelf-models gateway-export --db EDGE.db --store-id S --catalogue C.csv --rules R.json --out DIR``:
one gateway's own event store as the directory ``shelf-models uplift`` and ``simulate-policy`` read.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from edge.fusion.core import BASKET_END
from edge.store.offer_log import STREAM as DECISIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True, help="the gateway's event store (DATA_DIR/edge.db), read only")
    parser.add_argument("--store-id", required=True, help="the store's id (the export's partition key)")
    parser.add_argument("--catalogue", required=True, help="the catalogue CSV the gateway ran with")
    parser.add_argument("--rules", required=True, help="the offer rules JSON the gateway ran with")
    parser.add_argument("--out", required=True, help="export directory to write")


def read_streams(db: Path, *streams: str) -> dict[str, list[dict[str, Any]]]:
    """Each stream's payloads in the order the gateway stored them (its own processing order)."""
    if not db.is_file():
        raise FileNotFoundError(f"{db}: no such event store")
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        out: dict[str, list[dict[str, Any]]] = {s: [] for s in streams}
        for stream in streams:
            rows = conn.execute("SELECT payload FROM events WHERE stream = ? ORDER BY rowid", (stream,))
            out[stream] = [json.loads(payload) for (payload,) in rows]
        return out
    finally:
        conn.close()


def run(args: argparse.Namespace) -> int:
    from edge.errors import EdgeError
    from edge.offers.catalogue import Catalogue
    from edge.offers.sources import load_rules
    from models.experiments.gateway_export import write_gateway_export

    try:
        catalogue, rules = Catalogue.load(args.catalogue), load_rules(args.rules)
        streams = read_streams(Path(args.db), DECISIONS, "basket", BASKET_END)
        rebuilt = write_gateway_export(
            Path(args.out), args.store_id, streams[DECISIONS], streams["basket"], catalogue, rules,
            streams[BASKET_END],
        )  # fmt: skip
    except (EdgeError, OSError, sqlite3.Error, json.JSONDecodeError) as exc:
        print(f"gateway-export: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(json.dumps(rebuilt.summary(), indent=1))
    return 0
