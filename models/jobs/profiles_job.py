"""``shelf-models chain-profiles``: shopper profiles for every customer, written per store (Spark).

Extract: TX lines (CSV or Parquet; optionally the in-store export and the enrolment table, joined
into one history by ``customers.purchase_history``); transform: the profiles the model's manifest
names (``models.jobs.neighbour_profiles`` for TIFU-KNN models, ``customers.profiles`` with the
model's ``decay`` for older ones), laid out per store; load: JSON lines under ``out/store=S/`` (one
object per shopper: ``shopper``, ``items``, ``weights``, ``n_baskets``, the gateway's profile
document; with ``--segments``, each customer's ``segments`` from ``shelf-models segments``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from edge.offers.model import MANIFEST_FILE
from models.jobs.customers import profiles, purchase_history, store_profiles, to_stores
from models.jobs.neighbour_profiles import POOL_SIZE, neighbour_profiles, store_baskets
from models.jobs.segments import with_segments
from models.jobs.session import SparkSettings, start_spark
from models.jobs.transactions import check_lines, read_raw, typed_lines
from models.offers.build import profile_params
from models.offers.transactions import TransactionsError


def read_table(spark: SparkSession, path: Path) -> DataFrame:
    """A CSV (with header) or Parquet file or folder, as it is."""
    if path.is_dir() or path.suffix == ".parquet":
        return spark.read.parquet(str(path))
    return spark.read.option("header", True).csv(str(path))


def history_lines(
    spark: SparkSession, transactions: Path, instore: Path | None = None, enrolment: Path | None = None
) -> DataFrame:
    """Typed lines (quantity > 0) of the whole purchase history."""
    raw = read_raw(spark, transactions)
    if instore is not None and enrolment is not None:
        joined = raw.drop("line").transform(
            purchase_history(read_table(spark, instore), read_table(spark, enrolment))
        )
        raw = joined.withColumn("line", F.monotonically_increasing_id())
    lines = typed_lines(raw)
    check_lines(lines, str(transactions))
    return lines.filter(F.col("quantity") > 0).drop("_timestamp_text")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", required=True, type=Path, help="Offer model directory (its profiles block is used)."
    )
    parser.add_argument(
        "--transactions", required=True, type=Path, help="TX lines: CSV or Parquet, file or folder."
    )
    parser.add_argument(
        "--instore", type=Path, default=None, help="The central service's in-store basket export."
    )
    parser.add_argument(
        "--enrolment", type=Path, default=None, help="Enrolment table: pseudonym,customer_id."
    )
    parser.add_argument(
        "--segments", type=Path, default=None, help="Output of shelf-models segments (customer_id, segment)."
    )
    parser.add_argument("--out", required=True, type=Path, help="Folder for store=S/ JSON lines.")
    parser.add_argument(
        "--pool-size",
        type=int,
        default=POOL_SIZE,
        help="Most customers among whom a customer's neighbours are searched (a home store is split above).",
    )


def profiles_per_store(
    lines: DataFrame,
    manifest: dict[str, Any],
    enrolment: DataFrame | None,
    pool_size: int = POOL_SIZE,
    segments: DataFrame | None = None,
) -> DataFrame:
    """Typed lines -> store, shopper, items, weights, n_baskets (and ``segments`` when a segments
    table is given): the profiles the manifest names."""
    params = profile_params(manifest)
    tag = with_segments(segments) if segments is not None else (lambda frame: frame)
    if params is None:  # a model from before the neighbour profiles: decayed repurchase shares
        decay = float(manifest["params"]["decay"])
        return lines.transform(profiles(decay)).transform(tag).transform(store_profiles(lines, enrolment))
    baskets = store_baskets(lines).persist()
    profile = baskets.transform(neighbour_profiles(params, pool_size)).transform(tag)
    return profile.transform(to_stores(baskets, enrolment))


def run(args: argparse.Namespace) -> int:
    if (args.instore is None) != (args.enrolment is None):
        print("shelf-models chain-profiles: --instore and --enrolment go together")
        return 2
    try:
        manifest = json.loads((args.model / MANIFEST_FILE).read_text(encoding="utf-8"))
        spark = start_spark(SparkSettings.from_env("shelf-models chain-profiles"))
        lines = history_lines(spark, args.transactions, args.instore, args.enrolment)
        enrolment = read_table(spark, args.enrolment) if args.enrolment is not None else None
        segments = read_table(spark, args.segments) if args.segments is not None else None
        per_store = profiles_per_store(lines, manifest, enrolment, args.pool_size, segments)
        per_store.write.mode("overwrite").partitionBy("store").json(str(args.out))
    except (OSError, KeyError, ValueError, TransactionsError) as exc:
        print(f"shelf-models chain-profiles: {exc}")
        return 1
    written = spark.read.json(str(args.out)).groupBy().count().first()
    method = (manifest.get("profiles") or {}).get("method", "decayed repurchase share")
    print(f"wrote {written[0] if written else 0} store profiles to {args.out} ({method})")
    return 0
