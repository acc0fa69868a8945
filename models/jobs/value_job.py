"""``shelf-models customer-value``: expected spend over the next 6 and 12 months per customer (Spark +
BG/NBD x Gamma-Gamma), scored first on a holdout period against last period's spend as the baseline.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from models.jobs.session import SparkSettings, start_spark
from models.jobs.synth_fit import DAY
from models.jobs.transactions import read_lines
from models.jobs.value import BgNbd, GammaGamma, rfm, spend_between, triples
from models.offers.transactions import TransactionsError

GG_SAMPLE = 200_000  # customers with repeat purchases the Gamma-Gamma fit reads at most
HORIZONS = {"spend_6m": 182.5, "spend_12m": 365.0}


@dataclass(frozen=True, slots=True)
class ValueScore:
    customers: int
    holdout_days: float
    actual_total: float
    model_total: float
    baseline_total: float
    model_mae: float
    baseline_mae: float
    model_rmse: float
    baseline_rmse: float


def predicted_spend(
    spark: SparkSession, lines: DataFrame, cutoff_day: float, horizons: dict[str, float], work: Path
) -> tuple[DataFrame, BgNbd, GammaGamma]:
    """customer_id plus one expected-spend column per horizon, fitted on lines before ``cutoff_day``."""
    stats = lines.transform(rfm(cutoff_day)).cache()  # type: ignore[arg-type]
    stats.transform(triples).write.mode("overwrite").parquet(str(work / "triples"))
    repeaters = stats.filter(F.col("x") > 0)
    n_repeat = repeaters.count()
    sample = repeaters.sample(fraction=min(1.0, GG_SAMPLE / max(1, n_repeat)), seed=7)
    sample.select("x", "m").write.mode("overwrite").parquet(str(work / "gg"))
    tri = pq.read_table(str(work / "triples"))
    x, t_x, big_t = (np.asarray(tri.column(c).to_numpy(), dtype=np.float64) for c in ("x", "t_x", "T"))
    bg = BgNbd.fit(x, t_x, big_t, np.asarray(tri.column("customers").to_numpy(), dtype=np.float64))
    gg_table = pq.read_table(str(work / "gg"))
    gg = GammaGamma.fit(
        np.asarray(gg_table.column("x").to_numpy(), dtype=np.float64),
        np.asarray(gg_table.column("m").to_numpy(zero_copy_only=False), dtype=np.float64),
    )
    expected = {"x": x.astype(np.int64), "t_x": t_x, "T": big_t}
    for name, horizon in horizons.items():
        expected[f"n_{name}"] = bg.expected(horizon, x, t_x, big_t)
    pq.write_table(pa.table(expected), str(work / "expected.parquet"))
    occasions = spark.read.parquet(str(work / "expected.parquet"))
    joined = stats.join(occasions, on=["x", "t_x", "T"], how="inner")
    per_day = gg.expected_spend(F.col("x"), F.col("m"))
    return joined.select("customer_id", *[(F.col(f"n_{n}") * per_day).alias(n) for n in horizons]), bg, gg


def score(spark: SparkSession, lines: DataFrame, end_day: float, holdout: float, work: Path) -> ValueScore:
    cutoff = end_day - holdout
    predicted, _, _ = predicted_spend(spark, lines, cutoff, {"predicted": holdout}, work)
    actual = lines.transform(spend_between(cutoff, end_day)).withColumnRenamed("spend", "actual")  # type: ignore[arg-type]
    last = lines.transform(spend_between(cutoff - holdout, cutoff)).withColumnRenamed("spend", "baseline")  # type: ignore[arg-type]
    table = (
        predicted.join(actual, on="customer_id", how="left")
        .join(last, on="customer_id", how="left")
        .fillna(0.0, subset=["actual", "baseline"])
    )
    row = table.agg(
        F.count("*").alias("n"),
        F.sum("actual").alias("actual"),
        F.sum("predicted").alias("model"),
        F.sum("baseline").alias("baseline"),
        F.avg(F.abs(F.col("predicted") - F.col("actual"))).alias("model_mae"),
        F.avg(F.abs(F.col("baseline") - F.col("actual"))).alias("baseline_mae"),
        F.sqrt(F.avg(F.pow(F.col("predicted") - F.col("actual"), 2))).alias("model_rmse"),
        F.sqrt(F.avg(F.pow(F.col("baseline") - F.col("actual"), 2))).alias("baseline_rmse"),
    ).first()
    assert row is not None
    return ValueScore(
        int(row["n"]),
        holdout,
        *(
            float(row[k] or 0.0)
            for k in (
                "actual",
                "model",
                "baseline",
                "model_mae",
                "baseline_mae",
                "model_rmse",
                "baseline_rmse",
            )
        ),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--transactions", required=True, type=Path, help="TX lines: CSV or Parquet, file or folder."
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="Parquet folder: customer_id, spend_6m, spend_12m."
    )
    parser.add_argument(
        "--holdout-days", type=float, default=91.0, help="Holdout period for the score (days)."
    )


def run(args: argparse.Namespace) -> int:
    try:
        spark = start_spark(SparkSettings.from_env("shelf-models customer-value"))
        lines = read_lines(spark, args.transactions).cache()
        last = lines.agg(F.max("t")).first()
        if last is None or last[0] is None:
            raise ValueError("no purchases")
        end_day = float(np.floor(last[0] / DAY)) + 1
        with tempfile.TemporaryDirectory(prefix=".value-", dir=args.out.parent) as work:
            s = score(spark, lines, end_day, args.holdout_days, Path(work) / "score")
            values, bg, gg = predicted_spend(spark, lines, end_day, HORIZONS, Path(work) / "final")
            values.write.mode("overwrite").parquet(str(args.out))
    except (OSError, ValueError, TransactionsError) as exc:
        print(f"shelf-models customer-value: {exc}")
        return 1
    print(f"holdout: last {s.holdout_days:g} days, {s.customers} customers seen before it")
    print(
        f"  total spend: actual {s.actual_total:,.0f}, model {s.model_total:,.0f}, last period {s.baseline_total:,.0f}"
    )
    print(f"  per customer MAE: model {s.model_mae:,.2f}, last period {s.baseline_mae:,.2f}")
    print(f"  per customer RMSE: model {s.model_rmse:,.2f}, last period {s.baseline_rmse:,.2f}")
    print(
        f"BG/NBD r={bg.r:.4f} alpha={bg.alpha:.4f} a={bg.a:.4f} b={bg.b:.4f}; Gamma-Gamma p={gg.p:.4f} q={gg.q:.4f} gamma={gg.gamma:.4f}"
    )
    print(f"expected spend over 6 and 12 months written to {args.out}")
    return 0
