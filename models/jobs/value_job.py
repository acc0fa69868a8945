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
from models.jobs.value import BgNbd, Blend, GammaGamma, rfm, spend_between, triples
from models.offers.transactions import TransactionsError

GG_SAMPLE = 200_000  # customers with repeat purchases the Gamma-Gamma fit reads at most
HORIZONS = {"spend_6m": 182.5, "spend_12m": 365.0}


@dataclass(frozen=True, slots=True)
class ValueScore:
    customers: int
    holdout_days: float
    blend: Blend
    actual_total: float
    model_total: float
    blend_total: float
    baseline_total: float
    model_mae: float
    blend_mae: float
    baseline_mae: float
    model_rmse: float
    blend_rmse: float
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


def forecasts(
    spark: SparkSession,
    lines: DataFrame,
    cutoff: float,
    period: float,
    horizons: dict[str, float],
    work: Path,
) -> DataFrame:
    """Customers seen before ``cutoff``: the model's forecast per horizon and ``last``, their spend in
    the ``period`` days before ``cutoff`` (0 when none)."""
    predicted, _, _ = predicted_spend(spark, lines, cutoff, horizons, work)
    last = lines.transform(spend_between(cutoff - period, cutoff)).withColumnRenamed("spend", "last")  # type: ignore[arg-type]
    return predicted.join(last, on="customer_id", how="left").fillna(0.0, subset=["last"])


def with_actual(table: DataFrame, lines: DataFrame, start: float, end: float) -> DataFrame:
    actual = lines.transform(spend_between(start, end)).withColumnRenamed("spend", "actual")  # type: ignore[arg-type]
    return table.join(actual, on="customer_id", how="left").fillna(0.0, subset=["actual"])


def fit_blend(spark: SparkSession, lines: DataFrame, cutoff: float, period: float, work: Path) -> Blend:
    """The blend's weights, fitted on the validation period [cutoff - period, cutoff) with the model
    fitted on what came before it (nothing at or after ``cutoff`` is read)."""
    start = cutoff - period
    table = forecasts(spark, lines, start, period, {"model": period}, work)
    table = with_actual(table, lines, start, cutoff)
    return Blend.fit(*Blend.normal_equations(table, "model", "last", "actual"))


def score(spark: SparkSession, lines: DataFrame, end_day: float, holdout: float, work: Path) -> ValueScore:
    """The model, the blend (weights from the period before the holdout) and last period's spend,
    on the holdout: its last ``holdout`` days."""
    cutoff = end_day - holdout
    blend = fit_blend(spark, lines, cutoff, holdout, work / "validation")
    table = forecasts(spark, lines, cutoff, holdout, {"model": holdout}, work / "holdout")
    table = with_actual(table, lines, cutoff, end_day).withColumn(
        "blend", blend.expected(F.col("model"), F.col("last"))
    )
    columns = ("model", "blend", "last")
    row = table.agg(
        F.count("*").alias("n"),
        F.sum("actual").alias("actual"),
        *[F.sum(c).alias(f"{c}_total") for c in columns],
        *[F.avg(F.abs(F.col(c) - F.col("actual"))).alias(f"{c}_mae") for c in columns],
        *[F.sqrt(F.avg(F.pow(F.col(c) - F.col("actual"), 2))).alias(f"{c}_rmse") for c in columns],
    ).first()
    assert row is not None
    figures = (
        "actual",
        *(f"{c}_{k}" for k in ("total", "mae", "rmse") for c in columns),
    )
    return ValueScore(int(row["n"]), holdout, blend, *(float(row[k] or 0.0) for k in figures))


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
    period = args.holdout_days
    try:
        spark = start_spark(SparkSettings.from_env("shelf-models customer-value"))
        lines = read_lines(spark, args.transactions).cache()
        last = lines.agg(F.max("t")).first()
        if last is None or last[0] is None:
            raise ValueError("no purchases")
        end_day = float(np.floor(last[0] / DAY)) + 1
        with tempfile.TemporaryDirectory(prefix=".value-", dir=args.out.parent) as work:
            s = score(spark, lines, end_day, period, Path(work) / "score")
            blend = fit_blend(spark, lines, end_day, period, Path(work) / "validation")
            table = forecasts(spark, lines, end_day, period, HORIZONS, Path(work) / "final")
            # last period's spend stands for ``period`` days: scaled to each horizon
            values = table.select(
                "customer_id",
                *[
                    blend.expected(F.col(n), F.col("last") * (h / period)).alias(n)
                    for n, h in HORIZONS.items()
                ],
            )
            values.write.mode("overwrite").parquet(str(args.out))
    except (OSError, ValueError, TransactionsError) as exc:
        print(f"shelf-models customer-value: {exc}")
        return 1
    print(f"holdout: last {s.holdout_days:g} days, {s.customers} customers seen before it")
    print(
        f"  blend fitted on the {period:g} days before it: {s.blend.model:.3f} x model + {s.blend.last:.3f} x last period"
    )
    print(
        f"  total spend: actual {s.actual_total:,.0f}, model {s.model_total:,.0f}, blend {s.blend_total:,.0f}, "
        f"last period {s.baseline_total:,.0f}"
    )
    print(
        f"  per customer MAE: model {s.model_mae:,.2f}, blend {s.blend_mae:,.2f}, last period {s.baseline_mae:,.2f}"
    )
    print(
        f"  per customer RMSE: model {s.model_rmse:,.2f}, blend {s.blend_rmse:,.2f}, last period {s.baseline_rmse:,.2f}"
    )
    print(
        f"written: {blend.model:.3f} x model + {blend.last:.3f} x last period (fitted on the last {period:g} days)"
    )
    print(f"expected spend over 6 and 12 months written to {args.out}")
    return 0
