"""``shelf-models repurchase``: P(buy again within 7 days) and the expected date, per customer and
product (Spark); scored on the last 7 days held out, against the naive rate, before predicting."""

from __future__ import annotations

import argparse
from pathlib import Path

from pyspark.sql import functions as F

from models.jobs.repurchase import HORIZON_DAYS, Score, calibrated, evaluate, predict, purchase_days
from models.jobs.session import SparkSettings, start_spark
from models.jobs.transactions import read_lines
from models.offers.transactions import TransactionsError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--transactions", required=True, type=Path, help="TX lines: CSV or Parquet, file or folder."
    )
    parser.add_argument("--out", required=True, type=Path, help="Parquet folder of predictions.")
    parser.add_argument("--horizon", type=float, default=HORIZON_DAYS, help="Days ahead (default 7).")


def report(score: Score, horizon: float) -> list[str]:
    rows = [
        f"time split: {score.pairs} (customer, product) pairs bought before the last {horizon:g} days; "
        f"{score.base_rate:.4f} of them bought again in those days",
        f"Brier score: model {score.brier_model:.5f} (before recalibration {score.brier_uncalibrated:.5f}), "
        f"naive rate ({score.naive_rate:.4f}) {score.brier_naive:.5f}; skill vs naive {score.skill:+.3f}",
        "calibration: predicted  observed  pairs",
    ]
    rows += [
        f"  p in [{low:.1f},{low + 0.1:.1f}): {p:8.4f}  {y:8.4f}  {n}" for low, p, y, n in score.calibration
    ]
    return rows


def run(args: argparse.Namespace) -> int:
    try:
        spark = start_spark(SparkSettings.from_env("shelf-models repurchase"))
        days = purchase_days(read_lines(spark, args.transactions)).cache()
        last = days.agg(F.max("day")).first()
        if last is None or last[0] is None:
            raise ValueError("no customer purchases")
        end = float(last[0]) + 1
        score, model = evaluate(days, end - args.horizon, args.horizon)
        predictions = (
            days.transform(predict(end, args.horizon))
            .transform(calibrated(model))
            .select(
                "customer_id",
                "product_id",
                F.col("p").alias("p_within_horizon"),
                F.date_from_unix_date(F.col("last_day").cast("int")).alias("last_bought"),
                F.date_from_unix_date(F.floor("expected_day").cast("int")).alias("expected_date"),
            )
        )
        predictions.write.mode("overwrite").parquet(str(args.out))
    except (OSError, ValueError, TransactionsError) as exc:
        print(f"shelf-models repurchase: {exc}")
        return 1
    for row in report(score, args.horizon):
        print(row)
    print(f"predictions at the end of the data written to {args.out}")
    return 0
