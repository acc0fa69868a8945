"""``shelf-models segments``: a segment per customer (stable ids, described in words), with
demographics where the retailer has them (Spark). Scored on a time split: the share of the next
period's spend variance the segments explain, against recency bands alone."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from models.jobs.segments import (
    SEGMENTS,
    explained_share,
    features,
    recency_only,
    segmented,
    tercile_cuts,
)
from models.jobs.session import SparkSettings, start_spark
from models.jobs.synth_fit import DAY
from models.jobs.transactions import read_lines
from models.jobs.value import spend_between
from models.offers.transactions import TransactionsError

DEMOGRAPHIC_SUMMARY = ("age", "income", "household_size", "kids_count")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--transactions", required=True, type=Path, help="TX lines: CSV or Parquet, file or folder."
    )
    parser.add_argument(
        "--customers", type=Path, default=None, help="Customers table (Parquet/CSV) with demographics."
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="Parquet folder: customer_id, segment, features."
    )
    parser.add_argument("--holdout-days", type=float, default=91.0, help="Next period for the score (days).")


def _segments(lines: DataFrame, end_day: float) -> DataFrame:
    feats = lines.transform(features(end_day)).cache()
    f_cuts, m_cuts = tercile_cuts(feats)
    return feats.transform(segmented(f_cuts, m_cuts))


def run(args: argparse.Namespace) -> int:
    try:
        spark = start_spark(SparkSettings.from_env("shelf-models segments"))
        lines = read_lines(spark, args.transactions).cache()
        last = lines.agg(F.max("t")).first()
        if last is None or last[0] is None:
            raise ValueError("no purchases")
        end_day = float(np.floor(last[0] / DAY)) + 1
        cutoff = end_day - args.holdout_days
        earlier = _segments(lines, cutoff)
        outcome = lines.transform(spend_between(cutoff, end_day))  # type: ignore[arg-type]
        share, baseline = explained_share(earlier, outcome), explained_share(recency_only(earlier), outcome)
        now = _segments(lines, end_day)
        if args.customers is not None:
            table = (
                spark.read.parquet(str(args.customers))
                if args.customers.is_dir() or args.customers.suffix == ".parquet"
                else spark.read.option("header", True).csv(str(args.customers))
            )
            now = now.join(
                table.withColumn("customer_id", F.col("customer_id").cast("string")),
                on="customer_id",
                how="left",
            )
        now = now.cache()
        now.write.mode("overwrite").parquet(str(args.out))
        sizes = (
            now.groupBy("segment")
            .agg(F.count("*").alias("n"), F.avg("monetary").alias("spend"), F.avg("frequency").alias("days"))
            .collect()
        )  # one row per segment
        demo = [c for c in DEMOGRAPHIC_SUMMARY if c in now.columns]
        modes: dict[str, list[str]] = {}
        for column in demo:
            counted = now.filter(F.col(column).isNotNull()).groupBy("segment", column).count()
            for row in (
                counted.orderBy("segment", F.col("count").desc()).dropDuplicates(["segment"]).collect()
            ):
                modes.setdefault(row["segment"], []).append(f"{column} {row[column]}")
    except (OSError, ValueError, TransactionsError) as exc:
        print(f"shelf-models segments: {exc}")
        return 1
    total = sum(r["n"] for r in sizes)
    for row in sorted(sizes, key=lambda r: list(SEGMENTS).index(r["segment"])):
        extra = f"; most often {', '.join(modes[row['segment']])}" if row["segment"] in modes else ""
        print(
            f"{row['segment']:13} {row['n']:8} ({row['n'] / total:5.1%}) spend {row['spend']:10,.2f} "
            f"over {row['days']:.1f} days: {SEGMENTS[row['segment']]}{extra}"
        )
    print(
        f"time split (last {args.holdout_days:g} days): segments explain {share:.1%} of the variance of "
        f"next-period spend; recency bands alone {baseline:.1%}"
    )
    print(f"segments written to {args.out}")
    return 0
